"""Small `.fsx` schemas against the SQLite DDL they must equal, by introspection.

The corpus pairs (tests/corpus/fsx, the contract's examples) cover every feature once; these
cases pin what the front end must copy *as written* (docs/fsx.md §4.4
`DefaultExpr`, §4.9 `ViewSql`): reformatting that text changes what SQLite
reports (a default's text, a view's output column names) or even what it
means (`"hello"` is a string only when no column has that name). The
comparison is the corpus README's (tests/dbcompare.py). One case also runs
the real `mig migrate`, since that is where a schema meets a database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from clihelp import make_db, mig_here
from dbcompare import build_from_schema, build_from_sql, diff, introspect

from mig.schema import fsx
from mig.schema.translate import translate

CASES: list[tuple[str, str, str]] = [
    ("keyword defaults", """
        [<Default("a", "TRUE"); Default("b", "false"); Default("c", "null"); Default("d", "current_date")>]
        type T = { a: int64; b: int64; c: string option; d: string }
        """, """
        CREATE TABLE t (a INTEGER NOT NULL DEFAULT TRUE, b INTEGER NOT NULL DEFAULT FALSE,
                        c TEXT DEFAULT NULL, d TEXT NOT NULL DEFAULT CURRENT_DATE);
        """),
    ("literal defaults", """
        [<Default("a", "+7"); Default("b", "1e3"); Default("c", "-2."); Default("d", "X'00ff'")>]
        [<Default("e", "'it''s'"); Default("f", "draft_v2")>]
        type T = { a: int64; b: float; c: float; d: byte[]; e: string; f: string }
        """, """
        CREATE TABLE t (a INTEGER NOT NULL DEFAULT 7, b REAL NOT NULL DEFAULT 1000.0,
                        c REAL NOT NULL DEFAULT -2.0, d BLOB NOT NULL DEFAULT X'00FF',
                        e TEXT NOT NULL DEFAULT 'it''s', f TEXT NOT NULL DEFAULT 'draft_v2');
        """),
    ("expression defaults as written", """
        [<DefaultExpr("a", "datetime('now','localtime')"); DefaultExpr("b", "abs(-1)")>]
        [<DefaultExpr("c", "CAST(0 AS TEXT)"); DefaultExpr("d", " replace('a-b','-','_') ")>]
        [<DefaultExpr("e", "strftime('%s','now')||'s'"); DefaultExpr("f", "(1+2)")>]
        type T = { a: string; b: int64; c: string; d: string; e: string; f: int64 }
        """, """
        CREATE TABLE t (a TEXT NOT NULL DEFAULT (datetime('now','localtime')),
                        b INTEGER NOT NULL DEFAULT (abs(-1)),
                        c TEXT NOT NULL DEFAULT (CAST(0 AS TEXT)),
                        d TEXT NOT NULL DEFAULT (replace('a-b','-','_')),
                        e TEXT NOT NULL DEFAULT (strftime('%s','now')||'s'),
                        f INTEGER NOT NULL DEFAULT ((1+2)));
        """),
    ("view column names as written", """
        type Person = { name: string }
        [<ViewSql \"\"\"SELECT Name AS Last, name||'!', "hello" AS g FROM person;\"\"\">]
        type Greeting = { last: string; shout: string; g: string }
        let people = [ { name = "Ana" } ]
        """, """
        CREATE TABLE person (name TEXT NOT NULL);
        CREATE VIEW greeting AS SELECT Name AS Last, name||'!', "hello" AS g FROM person;
        INSERT INTO person VALUES ('Ana');
        """),
    ("view with comments and odd spacing", """
        type Item = { price: float }
        [<ViewSql @"
            select   price*2  -- doubled
            from item /* all */ ">]
        type Doubled = { x: float }
        """, """
        CREATE TABLE item (price REAL NOT NULL);
        CREATE VIEW doubled AS select   price*2  -- doubled
            from item;
        """),
]


@pytest.mark.parametrize("case,source,sql", CASES, ids=[c[0] for c in CASES])
def test_fsx_builds_the_database_of_its_sql(case: str, source: str, sql: str) -> None:
    schema = translate(fsx.parse(source, "case.fsx"))
    expected = introspect(build_from_sql(sql))
    actual = introspect(build_from_schema(schema))
    assert expected == actual, "\n".join(diff(expected, actual))


def test_mig_migrate_writes_true_and_false_defaults_as_keywords(tmp_path: Path) -> None:
    """End to end: PRAGMA table_info of the new database says TRUE/FALSE, as for `DEFAULT TRUE`."""
    (tmp_path / "schema.fsx").write_text(
        '[<AutoIncPK "id">]\n'
        '[<Default("active", "TRUE"); Default("hidden", "False")>]\n'
        "type Flag = { id: int64; active: int64; hidden: int64 }\n", encoding="utf-8")
    old = make_db(tmp_path / "app-0000000000000001.sqlite", "CREATE TABLE flag (id INTEGER PRIMARY KEY);")
    new = tmp_path / "new.sqlite"
    out = mig_here("migrate", "--dir", str(tmp_path), "--old", str(old), "--new", str(new),
                  "--schema", str(tmp_path / "schema.fsx"))
    assert out.returncode == 0, out.stderr
    reference = sqlite3.connect(":memory:")
    reference.execute("CREATE TABLE flag (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
                      "active INTEGER NOT NULL DEFAULT TRUE, hidden INTEGER NOT NULL DEFAULT FALSE)")
    db = sqlite3.connect(new)
    try:
        got = db.execute("PRAGMA table_info(flag)").fetchall()
    finally:
        db.close()
    assert got == reference.execute("PRAGMA table_info(flag)").fetchall()
    assert [row[4] for row in got] == [None, "TRUE", "FALSE"]
