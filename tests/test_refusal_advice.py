"""Every refusal's advice works when followed: a corpus of refusals, each with its advice
carried out as an operator would (SQL on the old database, or an edit of the schema),
after which `mig plan` no longer refuses.

Advice that cannot be followed is worse than none: a NUMERIC column stores 5.0
back as 5, so "convert the values in the old database" was a dead end for a
NUMERIC -> REAL change. Only a column without affinity keeps a converted value.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from clihelp import project

from mig import commands


@dataclass(frozen=True)
class Case:
    name: str
    old: str  # the old database
    new: str  # schema.sql
    advice: str  # a fragment of the refusal's hint: what the operator reads
    old_fix: str = ""  # SQL run on the old database to follow it
    new_fix: str = ""  # or the schema.sql written to follow it


CASES = [
    Case("not null without default",
         "CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, c TEXT NOT NULL);",
         "give the column a DEFAULT",
         new_fix="CREATE TABLE t (id INTEGER PRIMARY KEY, c TEXT NOT NULL DEFAULT '');"),
    Case("not null over nulls",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, c TEXT); INSERT INTO t VALUES (1, NULL);",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, c TEXT NOT NULL);",
         "fill the NULLs in the old database first",
         old_fix="UPDATE t SET c = 'filled' WHERE c IS NULL;"),
    Case("numeric to real keeps its type",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, c DECIMAL); INSERT INTO t VALUES (1, 5), (2, 2.5);",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, c REAL);",
         "keep the old type: a DECIMAL column stores a converted value back as it was",
         new_fix="CREATE TABLE t (id INTEGER PRIMARY KEY, c DECIMAL);"),
    Case("text to integer keeps its type",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, c TEXT); INSERT INTO t VALUES (1, '0042');",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, c INTEGER);",
         "keep the old type: a TEXT column stores a converted value back as it was",
         new_fix="CREATE TABLE t (id INTEGER PRIMARY KEY, c TEXT);"),
    Case("untyped to integer converts in place",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, c); INSERT INTO t VALUES (1, '42');",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, c INTEGER);",
         "convert the values in the old database first (`UPDATE t SET c = CAST(c AS INTEGER)`)",
         old_fix="UPDATE t SET c = CAST(c AS INTEGER);"),
    Case("strict any to strict real converts in place",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, c ANY) STRICT; INSERT INTO t VALUES (1, 5);",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, c REAL) STRICT;",
         "`UPDATE t SET c = CAST(c AS REAL)`",
         old_fix="UPDATE t SET c = CAST(c AS REAL);"),
    Case("new integer key over untyped values",
         "CREATE TABLE t (code, v TEXT); INSERT INTO t VALUES ('a', 'x');",
         "CREATE TABLE t (code INTEGER PRIMARY KEY, v TEXT);",
         "fill in the key values in the old database first",
         old_fix="UPDATE t SET code = 1;"),
    Case("new integer key over a text column",
         "CREATE TABLE t (code TEXT, v TEXT); INSERT INTO t VALUES ('a', 'x');",
         "CREATE TABLE t (code INTEGER PRIMARY KEY, v TEXT);",
         "keep code an ordinary column (a TEXT column cannot hold the integers",
         new_fix="CREATE TABLE t (code TEXT, v TEXT);"),
    Case("new without rowid key over nulls",
         "CREATE TABLE t (code TEXT, v TEXT); INSERT INTO t VALUES (NULL, 'x');",
         "CREATE TABLE t (code TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;",
         "fill in the key values in the old database first",
         old_fix="UPDATE t SET code = 'k' WHERE code IS NULL;"),
    Case("new check",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO t VALUES (1, -3);",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER CHECK (n >= 0));",
         "fix those rows in the old database first",
         old_fix="UPDATE t SET n = 0 WHERE n < 0;"),
    Case("index expression fails on old values",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, '{}'), (2, 'not json');",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_json ON t(json(v));",
         "fix those values in the old database first, or change the index t_json",
         old_fix="UPDATE t SET v = '{}' WHERE json_valid(v) = 0;"),
    Case("partial index condition fails on old values",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'not json');",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t(v) WHERE json(v) <> '{}';",
         "or change the index t_v",
         new_fix="CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t(v) WHERE json_valid(v);"),
    Case("stored generated column fails on old values",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'not json');",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, j TEXT AS (json(v)) STORED);",
         "fix those values in the old database first",
         old_fix="UPDATE t SET v = '[]';"),
    Case("check expression fails on old values",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'not json');",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT CHECK (json(v) IS NOT NULL));",
         "fix those rows in the old database first",
         old_fix="UPDATE t SET v = '[]';"),
    Case("virtual table",
         "CREATE TABLE t (id INTEGER PRIMARY KEY); CREATE VIRTUAL TABLE docs USING fts5(body);"
         "INSERT INTO docs VALUES ('hello');",
         "CREATE TABLE t (id INTEGER PRIMARY KEY);",
         "move it out of the database before migrating",
         old_fix="DROP TABLE docs;"),
    Case("new unique",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, e TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'x');",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, e TEXT UNIQUE);",
         "remove the duplicates in the old database first",
         old_fix="DELETE FROM t WHERE id = 2;"),
    Case("new foreign key, rows fixed",
         "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER);"
         "INSERT INTO c VALUES (1, 7);",
         "CREATE TABLE p (id INTEGER PRIMARY KEY);"
         "CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id));",
         "fix or delete those rows in the old database first",
         old_fix="DELETE FROM c WHERE p = 7;"),
    Case("new foreign key, parents seeded",
         "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER);"
         "INSERT INTO c VALUES (1, 7);",
         "CREATE TABLE p (id INTEGER PRIMARY KEY);"
         "CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id));",
         "or add the parent rows as seed rows",
         new_fix="CREATE TABLE p (id INTEGER PRIMARY KEY); INSERT INTO p VALUES (7);"
                 "CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id));"),
    Case("seed row clashing on unique",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, e TEXT UNIQUE); INSERT INTO t VALUES (1, 'x');",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, e TEXT UNIQUE); INSERT INTO t VALUES (2, 'x');",
         "change the seed rows",
         new_fix="CREATE TABLE t (id INTEGER PRIMARY KEY, e TEXT UNIQUE); INSERT INTO t VALUES (2, 'y');"),
    Case("dropped column with data",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, fax TEXT); INSERT INTO t VALUES (1, '555');",
         "CREATE TABLE t (id INTEGER PRIMARY KEY);",
         "declare it with `-- mig:drop-column t fax`",
         new_fix="CREATE TABLE t (id INTEGER PRIMARY KEY);\n-- mig:drop-column t fax\n"),
    Case("dropped table with rows",
         "CREATE TABLE t (id INTEGER PRIMARY KEY); CREATE TABLE old_t (x); INSERT INTO old_t VALUES (1);",
         "CREATE TABLE t (id INTEGER PRIMARY KEY);",
         "declare it with `-- mig:drop-table old_t`",
         new_fix="CREATE TABLE t (id INTEGER PRIMARY KEY);\n-- mig:drop-table old_t\n"),
    Case("old key column not carried",
         "CREATE TABLE t (code TEXT PRIMARY KEY, v TEXT); INSERT INTO t VALUES ('a', 'x');",
         "CREATE TABLE t (v TEXT);",
         "keep the key column (rename it if needed) in the new schema",
         new_fix="CREATE TABLE t (code TEXT PRIMARY KEY, v TEXT);"),
    Case("default sqlite cannot evaluate",
         "CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);",
         "CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT DEFAULT (no_such_function()));",
         "use a constant or an expression of SQLite's built-in functions",
         new_fix="CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT DEFAULT (datetime('now')));"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_following_the_advice_clears_the_refusal(tmp_path: Path, case: Case) -> None:
    d = project(tmp_path, case.old, case.new)
    refusals = commands.plan_command(commands.Inputs(d)).plan.refusals
    assert refusals, f"{case.name}: expected a refusal"
    assert any(case.advice in r.hint for r in refusals), [r.message for r in refusals]
    if case.old_fix:
        conn = sqlite3.connect(next(d.glob("proj-0*.sqlite")))
        conn.executescript(case.old_fix)
        conn.close()
    if case.new_fix:
        (d / "schema.sql").write_text(case.new_fix)
    after = commands.plan_command(commands.Inputs(d)).plan.refusals
    assert not after, [r.message for r in after]


def test_an_expression_that_fails_on_old_values_refuses_migrate_before_anything_changes(tmp_path: Path) -> None:
    from clihelp import mig_here, snapshot

    d = project(tmp_path, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
                          "INSERT INTO t VALUES (1, '{}'), (2, '[]'), (3, 'not json'), (4, '{}');",
                "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_json ON t(json(v));")
    before = snapshot(d)
    out = mig_here("migrate", "--dir", str(d))
    assert out.returncode == 1, out
    assert "SQLite cannot compute the index t_json for some rows (malformed JSON) (e.g. id=3)" in out.stderr
    assert snapshot(d) == before


def test_a_logged_row_an_index_expression_cannot_compute_fails_drain_with_writes_open(tmp_path: Path) -> None:
    from mig.errors import WrongState

    d = project(tmp_path, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, '{}');",
                "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_json ON t(json(v));")
    commands.migrate_command(commands.Inputs(d))
    old = sqlite3.connect(next(d.glob("proj-0*.sqlite")), isolation_level=None)
    old.execute("INSERT INTO t VALUES (2, 'not json')")
    with pytest.raises(WrongState) as caught:
        commands.drain_command(commands.Inputs(d))
    assert "SQLite cannot compute the index t_json for some rows (malformed JSON)" in str(caught.value)
    assert commands.status_command(commands.Inputs(d)).marker_status == "recording"
    old.execute("UPDATE t SET v = '[]' WHERE id = 2")  # the advice, followed
    old.close()
    assert commands.drain_command(commands.Inputs(d)).marker_status == "draining"


def test_a_dropped_fts5_table_is_one_refusal_not_one_per_shadow_table(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE t (id INTEGER PRIMARY KEY); CREATE VIRTUAL TABLE docs USING fts5(body);"
                          "INSERT INTO docs VALUES ('hello');", "CREATE TABLE t (id INTEGER PRIMARY KEY);")
    report = commands.plan_command(commands.Inputs(d))
    assert [r.table for r in report.plan.refusals] == ["docs"], [r.message for r in report.plan.refusals]
    assert report.plan.dropped_tables == ("docs",)
