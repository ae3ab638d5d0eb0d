"""`schema.sql`: the example corpus, directives, errors, and a hash that ignores formatting."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbcompare import build_from_schema, build_from_sql, diff, intents_from_schema, intents_from_sql, introspect
from mig.errors import SchemaInputError
from mig.model import RenameColumn, RenameTable, schema_hash
from mig.schema.sql import loads

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "fsx-examples"
SQL_FILES = sorted(EXAMPLES.glob("[0-9]*.sql")) if EXAMPLES.is_dir() else []


@pytest.mark.skipif(not SQL_FILES, reason="shared/fsx-examples not beside the repository")
@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.stem)
def test_each_example_rebuilds_to_the_same_database(path: Path) -> None:
    text = path.read_text()
    schema = loads(text, path.name)
    assert diff(introspect(build_from_sql(text)), introspect(build_from_schema(schema))) == []
    assert intents_from_schema(schema) == intents_from_sql(text)


def test_hash_ignores_comments_case_and_whitespace() -> None:
    a = loads("CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT DEFAULT 'x' CHECK (length(n) < 9));\n"
              "CREATE VIEW v AS SELECT n FROM t WHERE id > 1;")
    b = loads("-- the same schema, reformatted\ncreate table t(\n  id integer primary key,\n"
              "  n text default 'x' check(length( n )<9)  /* why */\n);\n\n"
              "create view v as\n  select n from t where id>1 ;")
    assert schema_hash(a) == schema_hash(b)


def test_hash_changes_when_meaning_changes() -> None:
    base = "CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT);"
    for other in ["CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT NOT NULL);",
                  "CREATE TABLE t (id INTEGER PRIMARY KEY, n BLOB);",
                  "CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT); INSERT INTO t VALUES (1, 'x');",
                  "CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT); CREATE INDEX i ON t(n);"]:
        assert schema_hash(loads(base)) != schema_hash(loads(other)), other


def test_directives_with_quoted_names() -> None:
    schema = loads('CREATE TABLE "new table" ("new ""col""" TEXT);\n'
                   '-- mig:rename-table "old table" "new table"\n'
                   '--mig:rename-column "new table" "old ""col""" "new ""col"""\n')
    assert schema.rename_tables == (RenameTable("old table", "new table"),)
    assert schema.rename_columns == (RenameColumn("new table", 'old "col"', 'new "col"'),)


@pytest.mark.parametrize("text,line,fragment", [
    ("CREATE TABLE t (id INTEGER);\n-- mig:rename-tabel a t\n", 2, "unknown directive"),
    ("CREATE TABLE t (id INTEGER);\n\n-- mig:drop-table\n", 3, "takes 1 names"),
    ("CREATE TABLE t (id INTEGER);\n-- mig:drop-table t\n", 2, "still declares table t"),
    ("CREATE TABLE t (id INTEGER);\n-- mig:rename-column t a b\n", 2, "no column t.b"),
    ("CREATE TABLE t (id INTEGER);\nCREATE TABLE t (x);\n", 2, "already exists"),
    ("CREATE TABLE t (id INTEGER);\nATTACH 'x.db' AS x;\n", 2, "ATTACH is not allowed"),
    ("CREATE TABLE t (id INTEGER", 1, "incomplete"),
])
def test_errors_name_file_line_and_problem(text: str, line: int, fragment: str) -> None:
    with pytest.raises(SchemaInputError) as err:
        loads(text, "schema.sql")
    assert err.value.line == line and fragment in str(err.value)
    assert str(err.value).startswith(f"schema.sql:{line}:")


def test_seed_rows_are_the_rows_the_script_leaves() -> None:
    schema = loads("CREATE TABLE c (code TEXT PRIMARY KEY, n REAL); INSERT INTO c VALUES ('PT', 0.1), ('NO', 2);")
    assert [(s.table, s.values) for s in schema.seeds] == [("c", ("PT", 0.1)), ("c", ("NO", 2.0))]
