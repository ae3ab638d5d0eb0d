"""Every refusal class of the plan (docs/design.md, "Plan refusals"): `mig plan` exits 1 and names it; `mig migrate` changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from clihelp import mig_here, project, snapshot

OLD = """
CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT, email TEXT, age TEXT);
INSERT INTO author VALUES (1, 'Ann', 'a@x', '41'), (2, 'Bob', 'a@x', NULL), (3, 'Cy', NULL, 'old');
CREATE TABLE note (id INTEGER PRIMARY KEY, author_id INTEGER, body TEXT);
INSERT INTO note VALUES (1, 1, 'hi'), (2, 9, 'orphan');
"""
AUTHOR = "CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT, email TEXT, age TEXT);\n"
NOTE = "CREATE TABLE note (id INTEGER PRIMARY KEY, author_id INTEGER, body TEXT);\n"

REFUSALS = [
    pytest.param(AUTHOR, "note", "drops this non-empty table", "mig:drop-table note",
                 id="undeclared drop of a non-empty table"),
    pytest.param(AUTHOR.replace(", age TEXT", "") + NOTE, "author.age", "holds non-NULL values",
                 "mig:drop-column author age", id="undeclared drop of a non-NULL column"),
    pytest.param(AUTHOR.replace("age TEXT", "age TEXT, score INTEGER NOT NULL") + NOTE,
                 "author.score", "NOT NULL column has no default", "DEFAULT",
                 id="NOT NULL without default on a non-empty table"),
    pytest.param(AUTHOR.replace("name TEXT", "name TEXT NOT NULL").replace("email TEXT", "email TEXT NOT NULL") + NOTE,
                 "author.email", "makes this column NOT NULL", "NULL", id="NOT NULL on a column holding NULL"),
    pytest.param(AUTHOR.replace("age TEXT", "age INTEGER") + NOTE, "author.age",
                 "type change TEXT -> INTEGER", "convert", id="lossy type change"),
    pytest.param(AUTHOR.replace("email TEXT", "email TEXT UNIQUE") + NOTE, "author.email",
                 "UNIQUE (email)", "duplicates", id="new UNIQUE violated"),
    pytest.param(AUTHOR.replace("age TEXT", "age TEXT CHECK (length(age) = 2)") + NOTE, "author",
                 "CHECK", "relax", id="new CHECK violated"),
    pytest.param(AUTHOR.replace("age TEXT", "age TEXT, z TEXT DEFAULT (nosuchfunc())") + NOTE, "author.z",
                 "cannot evaluate its DEFAULT", "constant", id="new column with a DEFAULT SQLite cannot evaluate"),
    pytest.param(AUTHOR.replace("age TEXT", "age TEXT, z TEXT NOT NULL DEFAULT (json('{bad'))") + NOTE, "author.z",
                 "malformed JSON", "constant", id="new column with a DEFAULT that fails"),
    pytest.param(AUTHOR + NOTE.replace("author_id INTEGER", "author_id INTEGER REFERENCES author(id)"),
                 "note.author_id", "missing author rows", "seed rows", id="new FOREIGN KEY violated"),
]


@pytest.mark.parametrize("new_sql,where,reason,hint", REFUSALS)
def test_plan_names_the_refusal_and_migrate_changes_nothing(
        tmp_path: Path, new_sql: str, where: str, reason: str, hint: str) -> None:
    d = project(tmp_path, OLD, new_sql)
    before = snapshot(d)
    plan = mig_here("plan", "--dir", str(d))
    assert plan.returncode == 1, plan.stdout + plan.stderr
    refused = [ln for ln in plan.stdout.splitlines() if ln.startswith("Refused: ")]
    assert len(refused) == 1, plan.stdout
    assert where in refused[0] and reason in refused[0] and hint in refused[0]
    assert "affected" in refused[0] and "e.g." in refused[0]  # count and sample row
    migrate = mig_here("migrate", "--dir", str(d))
    assert migrate.returncode == 1
    assert migrate.stderr.startswith("migrate failed: plan refused: ")
    assert len(migrate.stderr.strip().splitlines()) == 1 and "Traceback" not in migrate.stderr
    assert snapshot(d) == before  # invariant 1: byte for byte, no new file


def test_declared_intent_lets_the_same_change_run(tmp_path: Path) -> None:
    new_sql = AUTHOR.replace(", age TEXT", "") + "-- mig:drop-column author age\n-- mig:drop-table note\n"
    d = project(tmp_path, OLD, new_sql)
    plan = mig_here("plan", "--dir", str(d))
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "Refusals: 0" in plan.stdout and "Dropped table: note (declared)" in plan.stdout


def test_plan_json_lists_every_refusal(tmp_path: Path) -> None:
    import json

    new_sql = AUTHOR.replace("email TEXT", "email TEXT UNIQUE").replace("age TEXT", "age INTEGER")
    d = project(tmp_path, OLD, new_sql)
    out = mig_here("plan", "--json", "--dir", str(d))
    assert out.returncode == 1
    data = json.loads(out.stdout)
    reasons = sorted(r["table"] + "." + str(r["column"]) for r in data["plan"]["refusals"])
    assert reasons == ["author.age", "author.email", "note.None"]
    assert all(r["rows"] > 0 and r["sample"] for r in data["plan"]["refusals"])


@pytest.mark.parametrize("constraint, row, key", [
    ("CHECK (total >= 0)", "(7, -5.0, 'x')", "id=7"),
    ("NOT NULL", "(7, 1.0, NULL)", "id=7"),
], ids=["CHECK", "NOT NULL"])
def test_a_logged_row_the_new_schema_refuses_fails_drain_before_writes_are_blocked(
        tmp_path: Path, constraint: str, row: str, key: str) -> None:
    """A row written while recording that a new constraint refuses: drain names it and
    leaves the old database writable (rerunning drain could never get past it)."""
    import sqlite3
    old = "CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL, tag TEXT); INSERT INTO orders VALUES (1, 5.0, 'a');"
    column = "total REAL CHECK (total >= 0), tag TEXT" if constraint.startswith("CHECK") else \
        "total REAL, tag TEXT NOT NULL DEFAULT 'a'"
    d = project(tmp_path, old, f"CREATE TABLE orders (id INTEGER PRIMARY KEY, {column});")
    db = d / "proj-0000000000000001.sqlite"
    sqlite3.connect(db).execute("PRAGMA journal_mode=WAL").connection.close()  # reads block no writer
    assert mig_here("migrate", cwd=d).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute(f"INSERT INTO orders VALUES {row}")
    out = mig_here("drain", cwd=d)
    failed = [line for line in out.stderr.splitlines() if not line.startswith("catch-up:")]
    assert out.returncode == 1 and len(failed) == 1 and failed[0].startswith("drain failed:"), out
    assert key in out.stderr and "fix" in out.stderr and "Traceback" not in out.stderr, out
    assert "blocked" not in out.stderr and "run `mig drain` again" in out.stderr, out
    assert "Marker status: recording" in mig_here("status", cwd=d).stdout
    with sqlite3.connect(db) as conn:  # the old service still writes, and may fix the row
        conn.execute("UPDATE orders SET total = 1.0, tag = 'b' WHERE id = 7")
    out = mig_here("drain", cwd=d)
    assert out.returncode == 0, out


def test_an_fsx_default_sqlite_cannot_evaluate_is_a_refusal_not_a_database_error(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE player (id INTEGER PRIMARY KEY AUTOINCREMENT, handle TEXT NOT NULL);"
                "INSERT INTO player (handle) VALUES ('a');", "")
    (d / "schema.sql").unlink()
    (d / "schema.fsx").write_text('[<AutoIncPK "id">]\n[<DefaultExpr("z", "nosuchfunc()")>]\n'
                                  "type Player =\n  { id: int64\n    handle: string\n    z: string }\n")
    before = snapshot(d)
    plan = mig_here("plan", cwd=d)
    assert plan.returncode == 1 and "Refused: player.z: SQLite cannot evaluate its DEFAULT" in plan.stdout, plan
    migrate = mig_here("migrate", cwd=d)
    assert migrate.returncode == 1 and "plan refused: player.z" in migrate.stderr, migrate
    assert snapshot(d) == before


def test_a_default_sqlite_cannot_evaluate_hides_no_other_refusal(tmp_path: Path) -> None:
    new = AUTHOR.replace("email TEXT", "email TEXT UNIQUE").replace("age TEXT", "age TEXT, z TEXT DEFAULT (nosuchfunc())")
    d = project(tmp_path, OLD, new + NOTE)
    plan = mig_here("plan", cwd=d)
    refused = [ln for ln in plan.stdout.splitlines() if ln.startswith("Refused: ")]
    assert plan.returncode == 1 and len(refused) == 2, plan.stdout
    assert any("author.z" in r for r in refused) and any("UNIQUE (email)" in r for r in refused)


def test_in_rollback_journal_mode_too_the_logged_rows_are_checked_before_writes_are_blocked(tmp_path: Path) -> None:
    """The check before the switch reads the log and the tables in short ranges, so a
    rollback-journal writer is never held back long: it runs in both journal modes."""
    import sqlite3
    d = project(tmp_path, "CREATE TABLE orders (id INTEGER PRIMARY KEY, tag TEXT); INSERT INTO orders VALUES (1, 'a');",
                "CREATE TABLE orders (id INTEGER PRIMARY KEY, tag TEXT NOT NULL DEFAULT 'a');")
    assert mig_here("migrate", cwd=d).returncode == 0
    with sqlite3.connect(d / "proj-0000000000000001.sqlite") as conn:
        conn.execute("INSERT INTO orders VALUES (7, NULL)")
    out = mig_here("drain", cwd=d)
    assert out.returncode == 1 and "id=7" in out.stderr and "blocked" not in out.stderr, out
    assert "Marker status: recording" in mig_here("status", cwd=d).stdout


def test_a_refusal_sample_shows_values_as_sql(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, AUTHOR.replace("email TEXT", "email TEXT NOT NULL") + NOTE)
    plan = mig_here("plan", cwd=d)
    refused = [ln for ln in plan.stdout.splitlines() if ln.startswith("Refused: author.email")]
    assert refused and "e.g. id=3, name='Cy', email=NULL, age='old'" in refused[0], plan.stdout


def test_an_unchanged_foreign_key_is_not_scanned_by_the_plan(tmp_path: Path) -> None:
    """A violation the old database already holds under the same FOREIGN KEY is not the
    change's doing: the plan lets it through, drain's full check finds it (docs/design.md)."""
    old = AUTHOR + NOTE.replace("author_id INTEGER", "author_id INTEGER REFERENCES author(id)") + \
        "INSERT INTO author VALUES (1, 'Ann', NULL, NULL); INSERT INTO note VALUES (1, 1, 'hi'), (2, 9, 'orphan');"
    d = project(tmp_path, old, AUTHOR.replace("age TEXT", "age TEXT, bio TEXT")
                + NOTE.replace("author_id INTEGER", "author_id INTEGER REFERENCES author(id)"))
    plan = mig_here("plan", "--dir", str(d))
    assert plan.returncode == 0 and "Refusals: 0" in plan.stdout, plan.stdout + plan.stderr
