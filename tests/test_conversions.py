"""Declared conversions (issue 18 item 3): `-- mig:convert TABLE COLUMN EXPR` computes the new
column from the old row, at copy and at replay alike; the plan runs its refusals over the
converted values, before anything changes, and over logged rows before drain blocks writes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from clihelp import make_db, mig_here, snapshot

from mig import commands
from mig.errors import MigError

OLD = """
CREATE TABLE item (id INTEGER PRIMARY KEY, price DECIMAL(10,2), name TEXT, meta TEXT);
INSERT INTO item VALUES (1, 5, 'a', '{"w": 1}'), (2, 5.25, 'b', '{"w": 2}'), (3, NULL, 'c', '{}');
"""
NEW = """
CREATE TABLE item (id INTEGER PRIMARY KEY, price REAL, cents INTEGER NOT NULL, name TEXT, weight INTEGER);
-- decimal -> real, and a column computed from it
-- mig:convert item price CAST(price AS REAL)
-- mig:convert item cents coalesce(CAST(round(price * 100) AS INTEGER), 0)
-- mig:convert item weight json_extract(meta, '$.w')
-- mig:drop-column item meta
"""


def _project(tmp_path: Path, new: str = NEW, old: str = OLD) -> tuple[Path, Path]:
    d = tmp_path / "p"
    d.mkdir()
    (d / "schema.sql").write_text(new)
    return d, make_db(d / "p-0000000000000001.sqlite", old)


def _rows(db: Path | str, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_conversion_applies_at_copy_and_at_replay_and_verify_agrees(tmp_path: Path) -> None:
    d, old = _project(tmp_path)
    plan = mig_here("plan", cwd=d)
    assert "  cents <- coalesce(CAST(round(price * 100) AS INTEGER), 0) (converted)" in plan.stdout, plan.stdout
    assert plan.returncode == 0 and "Refusals: 0" in plan.stdout
    report = commands.migrate_command(commands.Inputs(d))
    with sqlite3.connect(old) as w:  # the old service writes during recording
        w.execute("UPDATE item SET price = 7.5, meta = '{\"w\": 9}' WHERE id = 3")
        w.execute("INSERT INTO item VALUES (4, 1.01, 'd', '{\"w\": 4}')")
        w.execute("DELETE FROM item WHERE id = 2")
    commands.drain_command(commands.Inputs(d))
    commands.cutover_command(commands.Inputs(d))
    assert commands.verify_command(commands.Inputs(d)).ok
    assert _rows(report.new, "SELECT id, price, typeof(price), cents, name, weight FROM item ORDER BY id") == [
        (1, 5.0, "real", 500, "a", 1), (3, 7.5, "real", 750, "c", 9), (4, 1.01, "real", 101, "d", 4)]


@pytest.mark.parametrize(("directive", "says"), [
    ("-- mig:convert item cents round(prise * 100)", "prise is no column of the old table item"),
    ("-- mig:convert item nosuch price", "the schema has no column item.nosuch"),
    ("-- mig:convert item cents", "takes a table, a column and an SQL expression"),
    ("-- mig:convert item cents price; DROP TABLE item", "is not one SQL expression"),
])
def test_a_conversion_that_cannot_hold_is_an_error_at_its_line(tmp_path: Path, directive: str, says: str) -> None:
    d, _ = _project(tmp_path, "CREATE TABLE item (id INTEGER PRIMARY KEY, cents INTEGER, name TEXT, "
                              "meta TEXT);\n-- mig:drop-column item price\n" + directive + "\n")
    before = snapshot(d)
    out = mig_here("plan", cwd=d)
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "schema.sql:3:" in out.stderr and says in out.stderr, out.stderr
    assert snapshot(d) == before


@pytest.mark.parametrize(("column", "expr", "says"), [
    ("cents INTEGER NOT NULL", "CAST(round(price * 100) AS INTEGER)", "gives NULL for some rows"),
    ("cents INTEGER", "price || ''", "would store differently"),
    ("cents INTEGER NOT NULL", "CASE WHEN price IS NULL THEN NULL ELSE TRUE END", "gives NULL for some rows"),
    ("cents INTEGER", "json_extract(name, '$.x')", "SQLite cannot compute the conversion of cents"),
])
def test_a_conversion_the_old_rows_refuse_is_refused_before_anything_changes(
        tmp_path: Path, column: str, expr: str, says: str) -> None:
    d, _ = _project(tmp_path, f"CREATE TABLE item (id INTEGER PRIMARY KEY, {column}, name TEXT, meta TEXT);\n"
                              f"-- mig:drop-column item price\n-- mig:convert item cents {expr}\n")
    before = snapshot(d)
    out = mig_here("migrate", cwd=d)
    assert out.returncode == 1 and "plan refused" in out.stderr and says in out.stderr, out.stderr
    assert "id=" in out.stderr  # the first such row, by its key
    assert snapshot(d) == before


def test_a_key_column_cannot_be_converted(tmp_path: Path) -> None:
    d, _ = _project(tmp_path, "CREATE TABLE item (id INTEGER PRIMARY KEY, price DECIMAL(10,2), name TEXT, "
                              "meta TEXT);\n-- mig:convert item id id + 1000\n")
    out = mig_here("plan", cwd=d)
    assert out.returncode == 1 and "a primary key column cannot be converted" in out.stdout, out.stdout


def test_a_logged_row_whose_conversion_fails_stops_drain_with_writes_open(tmp_path: Path) -> None:
    d, old = _project(tmp_path)
    commands.migrate_command(commands.Inputs(d))
    with sqlite3.connect(old) as w:
        w.execute("INSERT INTO item VALUES (9, 1, 'x', 'not json')")
    with pytest.raises(MigError, match="SQLite cannot compute the conversion of weight"):
        commands.drain_command(commands.Inputs(d))
    assert _rows(old, "SELECT status FROM _migration_marker") == [("recording",)]
    with sqlite3.connect(old) as w:  # the row fixed where it lives, as the message says
        w.execute("UPDATE item SET meta = '{\"w\": 0}' WHERE id = 9")
    commands.drain_command(commands.Inputs(d))
    commands.cutover_command(commands.Inputs(d))
    assert commands.verify_command(commands.Inputs(d)).ok


def test_a_conversion_from_a_directives_file_and_in_the_json_plan(tmp_path: Path) -> None:
    d, old = _project(tmp_path)
    target = make_db(tmp_path / "target.sqlite", "CREATE TABLE item (id INTEGER PRIMARY KEY, price REAL, name TEXT);")
    (tmp_path / "conv.sql").write_text("-- mig:convert item price CAST(price AS REAL)\n-- mig:drop-column item meta\n")
    (d / "schema.sql").unlink()
    out = mig_here("plan", "--json", "--schema", str(target), "--directives", str(tmp_path / "conv.sql"), cwd=d)
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)["plan"]
    price = next(c for c in plan["tables"][0]["columns"] if c["target"] == "price")
    assert price == {"target": "price", "source": "price", "how": "converted", "expr": "CAST(price AS REAL)",
                     "reads": ["price"]}


def test_the_same_conversion_in_every_schema_input_is_the_same_schema(tmp_path: Path) -> None:
    from mig.model import schema_hash
    from mig.schema import load_schema

    (tmp_path / "schema.sql").write_text("CREATE TABLE item (id INTEGER NOT NULL PRIMARY KEY, price REAL NOT NULL);\n"
                                         "-- mig:convert item price CAST(price AS REAL)\n")
    (tmp_path / "schema.py").write_text('from mig.dsl import *\n\n\n@PK("id")\nclass Item:\n    id: int\n'
                                        '    price: Annotated[float, Convert("CAST(price AS REAL)")]\n')
    (tmp_path / "schema.fsx").write_text('[<PK("Id")>]\ntype Item = {\n    Id: int64\n'
                                         '    [<Convert("CAST(price AS REAL)")>] Price: float\n}\n')
    schemas = [load_schema(tmp_path / f"schema.{ext}") for ext in ("sql", "py", "fsx")]
    assert all(len(s.conversions) == 1 for s in schemas)
    assert len({schema_hash(s) for s in schemas}) == 1
    without = load_schema(tmp_path / "schema.sql").without_intents()
    assert schema_hash(without) != schema_hash(schemas[0])  # a conversion is part of the target


def test_a_dsl_conversion_naming_nothing_points_at_its_line(tmp_path: Path) -> None:
    d, _ = _project(tmp_path, "")
    (d / "schema.sql").unlink()
    (d / "schema.py").write_text('from mig.dsl import *\n\n\n@PK("id")\nclass Item:\n    id: int\n'
                                 '    name: str\n    meta: str\n'
                                 '    cents: Annotated[int, Convert("round(prise * 100)")]\n'
                                 '    price: Annotated[float, Convert("CAST(price AS REAL)")]\n')
    out = mig_here("plan", cwd=d)
    assert out.returncode == 1 and "schema.py:9:" in out.stderr and "prise is no column" in out.stderr, out.stderr


def test_a_rename_and_a_conversion_of_one_column_are_refused_in_every_input(tmp_path: Path) -> None:
    from mig.errors import SchemaInputError
    from mig.schema import load_schema

    (tmp_path / "schema.sql").write_text("CREATE TABLE item (id INTEGER PRIMARY KEY, cost REAL);\n"
                                         "-- mig:rename-column item price cost\n"
                                         "-- mig:convert item cost CAST(price AS REAL)\n")
    (tmp_path / "schema.fsx").write_text('[<PK("Id")>]\ntype Item = {\n    Id: int64\n    [<PreviousName("price"); '
                                         'Convert("CAST(price AS REAL)")>] Cost: float\n}\n')
    for name, says in (("schema.sql", "contradicts an earlier directive"), ("schema.fsx", "drop PreviousName")):
        with pytest.raises(SchemaInputError, match=says):
            load_schema(tmp_path / name)


@pytest.mark.parametrize(("column", "expr", "fallback"), [
    ("cents INTEGER NOT NULL", "CAST(round(price * 100) AS INTEGER)", "0"),
    ("label TEXT NOT NULL", "CAST(price AS TEXT)", "''"),
    ("ratio REAL NOT NULL", "CAST(price AS REAL)", "0.0"),
])
def test_the_advice_for_a_null_conversion_works_when_followed(tmp_path: Path, column: str, expr: str,
                                                              fallback: str) -> None:
    name = column.split()[0]
    d, _ = _project(tmp_path, f"CREATE TABLE item (id INTEGER PRIMARY KEY, {column}, name TEXT, meta TEXT);\n"
                              f"-- mig:drop-column item price\n-- mig:convert item {name} {expr}\n")
    out = mig_here("plan", cwd=d)
    assert f"coalesce(EXPR, {fallback})" in out.stdout and "Refusals: 1" in out.stdout, out.stdout
    schema = (d / "schema.sql").read_text().replace(expr, f"coalesce({expr}, {fallback})")
    (d / "schema.sql").write_text(schema)
    followed = mig_here("plan", cwd=d)
    assert "Refusals: 0" in followed.stdout, followed.stdout
