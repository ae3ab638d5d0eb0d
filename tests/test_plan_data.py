"""The plan against real old data: what it refuses, what it lets through, what it shows.

A table of (old database, new schema, expected refusal or None), run through
`mig.commands.plan_command` on real files; then the changes the plan lets
through are migrated and drained for real, with writes in between, so a
refusal that is missing would show as lost data.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from clihelp import mig_here, project, snapshot

from mig import commands
from mig.sqlite import pacing

OLD_DB = "proj-0000000000000001.sqlite"


def plan_of(tmp: Path, old_sql: str, new_sql: str) -> commands.PlanReport:
    return commands.plan_command(commands.Inputs(project(tmp, old_sql, new_sql)))


REFUSED = [
    pytest.param("CREATE TABLE a (id INTEGER, x TEXT); INSERT INTO a VALUES (1, 'p'), (1, 'q'), (2, 'r');",
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT);", "a.id", "UNIQUE (id)", 2,
                 id="new INTEGER PRIMARY KEY over duplicates"),
    pytest.param("CREATE TABLE a (id INTEGER, x TEXT); INSERT INTO a VALUES (1, 'p'), (NULL, 'q');",
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT);", "a.id", "INTEGER PRIMARY KEY", 1,
                 id="new INTEGER PRIMARY KEY over a NULL"),
    pytest.param("CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT); INSERT INTO a VALUES (1, 'd'), (2, 'D');",
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT COLLATE NOCASE UNIQUE);", "a.x", "UNIQUE (x)", 2,
                 id="new UNIQUE under NOCASE"),
    pytest.param("CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT UNIQUE); INSERT INTO a VALUES (1, 'd'), (2, 'D');",
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT COLLATE NOCASE UNIQUE);", "a.x", "UNIQUE (x)", 2,
                 id="old BINARY UNIQUE is not a NOCASE one"),
    pytest.param("CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT);"
                 "INSERT INTO a VALUES (1, 'd'), (2, 'd'), (3, 'd'), (4, 'e'), (5, 'e'), (6, 'f');",
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT UNIQUE);", "a.x", "UNIQUE (x)", 5,
                 id="UNIQUE counts rows, not groups"),
    pytest.param("CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT); INSERT INTO a VALUES (1, 'd'), (2, 'd');",
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT); CREATE UNIQUE INDEX u ON a(x) WHERE x <> '';",
                 "a.x", "index u", 2, id="new partial unique index"),
    pytest.param("CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT); INSERT INTO a VALUES (1, 'd'), (2, 'D');",
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT); CREATE UNIQUE INDEX u ON a(lower(x));",
                 "a.x", "index u", 2, id="new expression unique index"),
    pytest.param("CREATE TABLE a (id INTEGER PRIMARY KEY); INSERT INTO a VALUES (1);",
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, z INTEGER NOT NULL DEFAULT NULL);", "a.z",
                 "no default", 1, id="NOT NULL DEFAULT NULL has no default"),
    pytest.param("CREATE TABLE a (id INTEGER PRIMARY KEY, x INTEGER); INSERT INTO a VALUES (1, 3);",
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, x INTEGER, y INTEGER GENERATED ALWAYS AS (x * 2) "
                 "STORED CHECK (y < 5));", "a.y", "CHECK", 1, id="CHECK reading a generated column"),
    pytest.param("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a VALUES (1, '12'), (2, 'x');",
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, v INTEGER);", "a.v", "type change", 1,
                 id="numeric text into INTEGER"),
    pytest.param("CREATE TABLE f (id INTEGER PRIMARY KEY, title TEXT UNIQUE); INSERT INTO f VALUES (1, 'In'), (2, 'Work');",
                 "CREATE TABLE f (id INTEGER PRIMARY KEY, title TEXT UNIQUE); INSERT INTO f VALUES (3, 'Work');",
                 "f.title", "seed rows clash", 1, id="seed row clashing with an old row"),
]


@pytest.mark.parametrize("old_sql,new_sql,where,reason,rows", REFUSED)
def test_refused(tmp_path: Path, old_sql: str, new_sql: str, where: str, reason: str, rows: int) -> None:
    refusals = plan_of(tmp_path, old_sql, new_sql).plan.refusals
    assert len(refusals) == 1, [r.message for r in refusals]
    r = refusals[0]
    assert r.message.startswith(where + ":") and reason in r.message and r.rows == rows, r.message
    assert r.sample


ALLOWED = [
    pytest.param("CREATE TABLE a (id INTEGER PRIMARY KEY, born TEXT); INSERT INTO a VALUES (1, '2024-01-01');",
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, born DATE);", id="dates stay text under NUMERIC"),
    pytest.param("CREATE TABLE a (id INTEGER PRIMARY KEY, tel TEXT); INSERT INTO a VALUES (1, '555 1234');",
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, tel INTEGER);", id="text that is no number"),
    pytest.param("CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT UNIQUE); INSERT INTO a VALUES (1, 'd'), (2, 'D');",
                 "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT UNIQUE);", id="an old UNIQUE is kept"),
    pytest.param("CREATE TABLE a (id INTEGER PRIMARY KEY, s TEXT); INSERT INTO a VALUES (1, 'x');",
                 'CREATE TABLE a (id INTEGER PRIMARY KEY, s TEXT, t TEXT DEFAULT "abc");',
                 id="DEFAULT with a double-quoted string"),
]


@pytest.mark.parametrize("old_sql,new_sql", ALLOWED)
def test_allowed_and_migrates(tmp_path: Path, old_sql: str, new_sql: str) -> None:
    report = plan_of(tmp_path, old_sql, new_sql)
    assert report.plan.refusals == ()
    out = mig_here("migrate", cwd=Path(report.old).parent)
    assert out.returncode == 0, out.stderr


def test_hints_quote_awkward_names(tmp_path: Path) -> None:
    report = plan_of(tmp_path, 'CREATE TABLE "gone table" (x); INSERT INTO "gone table" VALUES (1);'
                     'CREATE TABLE k (id INTEGER PRIMARY KEY, "my col" TEXT); INSERT INTO k VALUES (1, 2);',
                     "CREATE TABLE k (id INTEGER PRIMARY KEY);")
    hints = " ".join(r.hint for r in report.plan.refusals)
    assert '`-- mig:drop-table "gone table"`' in hints and '`-- mig:drop-column k "my col"`' in hints


def test_a_type_change_sample_names_the_row(tmp_path: Path) -> None:
    report = plan_of(tmp_path, "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a VALUES (7, '12');",
                     "CREATE TABLE a (id INTEGER PRIMARY KEY, v INTEGER);")
    assert report.plan.refusals[0].sample == "id=7, v='12'"


def test_plan_lists_new_changed_and_dropped_objects(tmp_path: Path) -> None:
    old = ("CREATE TABLE a (id INTEGER PRIMARY KEY, x); CREATE INDEX i1 ON a(x); CREATE INDEX i2 ON a(id, x);"
           "CREATE VIEW v1 AS SELECT x FROM a;")
    new = ("CREATE TABLE a (id INTEGER PRIMARY KEY, x); CREATE INDEX i1 ON a(x, id); CREATE INDEX i3 ON a(x);"
           "CREATE VIEW v1 AS SELECT x FROM a;")
    changes = {(o.kind, o.name, o.change) for o in plan_of(tmp_path, old, new).plan.objects}
    assert changes == {("index", "i1", "changed"), ("index", "i2", "dropped"), ("index", "i3", "new")}
    out = mig_here("plan", cwd=tmp_path / "proj").stdout
    assert "Index i3: new" in out and "Index i2: dropped" in out


def test_a_rename_takes_the_old_name_so_a_new_table_of_that_name_starts_empty(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a VALUES (1, 'v');",
                "-- mig:rename-table a b\nCREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT);\n"
                "CREATE TABLE a (id INTEGER PRIMARY KEY, w TEXT);")
    assert mig_here("migrate", cwd=d).returncode == 0
    old = sqlite3.connect(d / OLD_DB, isolation_level=None)
    old.execute("INSERT INTO a VALUES (2, 'w')")
    old.execute("UPDATE a SET v = 'changed' WHERE id = 1")
    old.close()
    assert mig_here("drain", cwd=d).returncode == 0
    new = next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)
    conn = sqlite3.connect(new)
    assert conn.execute("SELECT * FROM b ORDER BY id").fetchall() == [(1, "changed"), (2, "w")]
    assert conn.execute("SELECT count(*) FROM a").fetchone()[0] == 0
    assert mig_here("verify", cwd=d).returncode == 0


def test_a_keyless_table_gets_a_key_from_its_own_column(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE a (id INTEGER, x TEXT); INSERT INTO a VALUES (10, 'p'), (20, 'q'), (30, 'r');",
                "CREATE TABLE a (id INTEGER PRIMARY KEY, x TEXT);")
    assert mig_here("migrate", cwd=d).returncode == 0
    old = sqlite3.connect(d / OLD_DB, isolation_level=None)
    old.execute("UPDATE a SET x = 'P' WHERE id = 10")
    old.execute("DELETE FROM a WHERE id = 20")
    old.execute("UPDATE a SET id = 31 WHERE id = 30")
    old.execute("INSERT INTO a VALUES (40, 's')")
    old.close()
    assert mig_here("drain", cwd=d).returncode == 0
    new = next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)
    got = sqlite3.connect(new).execute("SELECT id, x FROM a ORDER BY id").fetchall()
    assert got == [(10, "P"), (31, "r"), (40, "s")]


def test_writes_to_rows_with_a_null_key_are_replayed(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE tp (code TEXT PRIMARY KEY, v TEXT); INSERT INTO tp VALUES (NULL, 'one'), ('a', 'x');",
                "CREATE TABLE tp (code TEXT PRIMARY KEY, v TEXT, n INTEGER);")
    assert mig_here("migrate", cwd=d).returncode == 0
    old = sqlite3.connect(d / OLD_DB, isolation_level=None)
    old.execute("INSERT INTO tp VALUES (NULL, 'two')")
    old.execute("UPDATE tp SET v = 'changed' WHERE v = 'one'")
    old.close()
    assert mig_here("drain", cwd=d).returncode == 0
    new = next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)
    got = sorted(sqlite3.connect(new).execute("SELECT code, v FROM tp").fetchall(), key=repr)
    assert got == sorted([(None, "changed"), (None, "two"), ("a", "x")], key=repr)
    assert mig_here("verify", cwd=d).returncode == 0


def test_a_write_that_breaks_a_new_unique_during_recording_stops_drain_before_the_block(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO u VALUES (1, 'a');",
                "CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT UNIQUE);")
    assert mig_here("migrate", cwd=d).returncode == 0
    old = sqlite3.connect(d / OLD_DB, isolation_level=None)
    old.execute("INSERT INTO u VALUES (2, 'a')")  # the old schema allows it, the new one does not
    drain = mig_here("drain", cwd=d)
    assert drain.returncode == 1 and "would push the row id=1 out of the new table: the row id=2" in drain.stderr, \
        drain.stderr
    assert "blocked" not in drain.stderr and "run `mig drain` again" in drain.stderr
    assert [l for l in drain.stderr.splitlines() if not l.startswith(("replay: ", "catch-up: "))] == \
        [drain.stderr.splitlines()[-1]]  # one line, after the progress lines
    cut = mig_here("cutover", cwd=d)
    assert cut.returncode == 1 and "still recording" in cut.stderr
    old.execute("UPDATE u SET email = 'b' WHERE id = 2")  # the old service still writes: the fix
    assert mig_here("drain", cwd=d).returncode == 0
    assert mig_here("cutover", cwd=d).returncode == 0
    assert mig_here("verify", cwd=d).returncode == 0


def test_seed_rows_are_in_the_new_database_right_after_migrate(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE r (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO r VALUES (1, 'old');",
                "CREATE TABLE r (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO r VALUES (2, 'admin');")
    assert mig_here("migrate", cwd=d).returncode == 0
    new = next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)
    assert sqlite3.connect(new).execute("SELECT * FROM r ORDER BY id").fetchall() == [(1, "old"), (2, "admin")]


def test_a_view_sqlite_rejects_is_a_schema_error_before_anything_changes(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE t (x INTEGER);", "")
    (d / "schema.sql").unlink()
    (d / "schema.fsx").write_text('[<ViewSql "SELECT x + FROM t">]\ntype V = { a: string }\ntype T = { x: int64 }\n')
    before = snapshot(d)
    out = mig_here("migrate", cwd=d)
    assert out.returncode == 1 and "schema.fsx:1:1:" in out.stderr and "syntax error" in out.stderr
    assert snapshot(d) == before


def test_checks_over_a_without_rowid_table_read_it_in_ranges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = ", ".join(f"('k{i:03}', {i % 7})" for i in range(60))
    old = f"CREATE TABLE p (id INTEGER PRIMARY KEY); INSERT INTO p VALUES (1), (2), (3);" \
          f"CREATE TABLE w (k TEXT PRIMARY KEY, p INTEGER) WITHOUT ROWID; INSERT INTO w VALUES {rows};"
    new = "CREATE TABLE p (id INTEGER PRIMARY KEY); " \
          "CREATE TABLE w (k TEXT PRIMARY KEY, p INTEGER REFERENCES p(id)) WITHOUT ROWID;"
    monkeypatch.setattr(pacing, "CHECK_CHUNK_ROWS", 7)
    refusals = plan_of(tmp_path, old, new).plan.refusals
    orphans = sum(1 for i in range(60) if i % 7 not in (1, 2, 3))
    assert [(r.table, r.rows) for r in refusals] == [("w", orphans)]


def test_a_seed_row_whose_parent_is_nowhere_is_refused(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE p (id INTEGER PRIMARY KEY); INSERT INTO p VALUES (1);", "")
    (d / "schema.sql").unlink()
    (d / "schema.fsx").write_text('[<PK "id">]\ntype P = { id: int64 }\n[<PK "id">]\n'
                                  'type C = { id: int64; p: P }\n'
                                  'let ok = { id = 4L; p = { id = 1L } }\nlet bad = { id = 5L; p = { id = 9L } }\n')
    refusals = commands.plan_command(commands.Inputs(d)).plan.refusals
    assert [(r.table, r.column, r.rows) for r in refusals] == [("c", "p_id", 1)]
    assert "id=5" in (refusals[0].sample or "") and "missing p rows" in refusals[0].reason


def test_drain_catches_up_while_writes_still_flow(tmp_path: Path) -> None:
    """Before it blocks writes, drain replays what is logged; a write made meanwhile
    is accepted by the old database and still reaches the new one."""
    d = project(tmp_path, "CREATE TABLE n (id INTEGER PRIMARY KEY, v INTEGER);",
                "CREATE TABLE n (id INTEGER PRIMARY KEY, v INTEGER, w TEXT);")
    assert mig_here("migrate", cwd=d).returncode == 0
    old = sqlite3.connect(d / OLD_DB, isolation_level=None)
    old.execute("BEGIN")
    old.executemany("INSERT INTO n VALUES (?, ?)", [(i, i) for i in range(20_000)])
    old.execute("COMMIT")
    during: list[str] = []

    def progress(label: str, done: int, total: int | None) -> None:
        if label == "catch-up" and not during:
            old.execute("INSERT INTO n VALUES (99999, 1)")  # not blocked: still recording
            during.append(label)

    report = commands.drain_command(commands.Inputs(d), progress=progress)
    assert during and report.caught_up >= 20_000 and report.replayed == 20_001
    new = next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)
    assert sqlite3.connect(new).execute("SELECT v FROM n WHERE id = 99999").fetchone() == (1,)
    with pytest.raises(sqlite3.IntegrityError, match="writes are blocked"):
        old.execute("INSERT INTO n VALUES (100000, 1)")


def test_a_virtual_table_in_the_old_database_is_refused(tmp_path: Path) -> None:
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE f USING fts5(a)")
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no FTS5")
    d = project(tmp_path, "CREATE VIRTUAL TABLE f USING fts5(a); INSERT INTO f VALUES ('x');",
                "CREATE TABLE t (x);")
    before = snapshot(d)
    out = mig_here("migrate", cwd=d)
    assert out.returncode == 1 and "virtual table" in out.stderr and snapshot(d) == before
