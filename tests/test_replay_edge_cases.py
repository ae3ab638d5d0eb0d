"""Cases a review of the engine found, each on real files: the state after drain must equal the
old database's, and no command may destroy what is not its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from clihelp import make_db, mig_here, project, snapshot

from mig import commands
from mig.sqlite.connect import mig_writer, open_rw

OLD_DB = "proj-0000000000000001.sqlite"


def new_db(d: Path) -> Path:
    return next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)


def write_old(d: Path, *sql: str) -> None:
    conn = sqlite3.connect(d / OLD_DB, isolation_level=None)
    for s in sql:
        conn.execute(s)
    conn.close()


def drained_ok(d: Path) -> None:
    out = mig_here("drain", cwd=d)
    assert out.returncode == 0, out.stderr
    out = mig_here("verify", cwd=d)
    assert out.returncode == 0, out.stdout


def test_abort_never_deletes_a_file_that_is_not_a_target_in_progress(tmp_path: Path) -> None:
    plain = make_db(tmp_path / "prod.db", "CREATE TABLE t (x); INSERT INTO t VALUES (1);")
    out = mig_here("abort", "--new", str(plain), cwd=tmp_path)
    assert out.returncode == 1 and "refusing to delete" in out.stderr and plain.exists()
    d = project(tmp_path, "CREATE TABLE t (x);", "CREATE TABLE t (x, y);")
    assert mig_here("migrate", cwd=d).returncode == 0
    before = snapshot(d)
    for args in (["--new", str(d / OLD_DB)], ["--old", str(d / OLD_DB), "--new", str(d / OLD_DB)]):
        out = mig_here("abort", *args, cwd=d)
        assert out.returncode == 1, (args, out.stdout)
    assert snapshot(d) == before


def test_rows_of_a_text_keyed_rowid_table_keep_their_rowids(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE s (token TEXT PRIMARY KEY, data TEXT);"
                "INSERT INTO s VALUES ('a', '1'), ('b', '2'), ('p', '3');",
                "CREATE TABLE s (token TEXT PRIMARY KEY, data TEXT, n INTEGER);")
    assert mig_here("migrate", cwd=d).returncode == 0
    write_old(d, "DELETE FROM s WHERE token = 'p'", "INSERT INTO s VALUES ('x', '4')",
              "INSERT INTO s VALUES ('p', '5')")
    drained_ok(d)
    old = sqlite3.connect(d / OLD_DB).execute("SELECT rowid, token, data FROM s ORDER BY rowid").fetchall()
    new = sqlite3.connect(new_db(d)).execute("SELECT rowid, token, data FROM s ORDER BY rowid").fetchall()
    assert new == old


def test_a_key_that_changes_only_in_case_or_type_is_replayed(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE c (k TEXT COLLATE NOCASE PRIMARY KEY, v); INSERT INTO c VALUES ('a', 1);"
                "CREATE TABLE u (k PRIMARY KEY, v); INSERT INTO u VALUES (1, 1);",
                "CREATE TABLE c (k TEXT COLLATE NOCASE PRIMARY KEY, v, w);"
                "CREATE TABLE u (k PRIMARY KEY, v, w);")
    assert mig_here("migrate", cwd=d).returncode == 0
    write_old(d, "UPDATE c SET k = 'A' WHERE k = 'a'", "UPDATE u SET k = 1.0 WHERE k = 1")
    drained_ok(d)
    new = sqlite3.connect(new_db(d))
    assert new.execute("SELECT k FROM c").fetchall() == [("A",)]
    assert new.execute("SELECT typeof(k) FROM u").fetchall() == [("real",)]


def test_cutover_refuses_when_drain_was_killed_before_its_last_step(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT, v);",
                "CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT, v, w);")
    assert mig_here("migrate", cwd=d).returncode == 0
    write_old(d, "INSERT INTO a (v) VALUES (1)", "DELETE FROM a")
    assert mig_here("drain", cwd=d).returncode == 0
    conn = mig_writer(open_rw(new_db(d)))  # as if drain died after its last batch
    conn.execute("UPDATE _migration_progress SET value = 0 WHERE key = 'seeds_applied'")
    conn.close()
    out = mig_here("cutover", cwd=d)
    assert out.returncode == 1 and out.stderr.startswith("cutover failed: Drain is not complete")
    assert mig_here("drain", cwd=d).returncode == 0
    assert mig_here("cutover", cwd=d).returncode == 0
    seq = sqlite3.connect(new_db(d)).execute("SELECT seq FROM sqlite_sequence WHERE name = 'a'").fetchone()
    assert seq == (1,)


def test_seed_rows_of_keyless_tables(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE k (a TEXT, b INT); INSERT INTO k VALUES ('x', 1), ('y', 2);",
                "CREATE TABLE k (a TEXT, b INT); INSERT INTO k VALUES ('x', 1), ('z', 3);")
    assert mig_here("migrate", cwd=d).returncode == 0
    drained_ok(d)
    assert sorted(sqlite3.connect(new_db(d)).execute("SELECT a, b FROM k").fetchall()) == \
        [("x", 1), ("y", 2), ("z", 3)]
    conn = mig_writer(open_rw(new_db(d)))
    conn.execute("BEGIN")
    conn.execute("DROP TRIGGER _mig_guard_k_upd")
    conn.execute("UPDATE k SET b = 99 WHERE a = 'y'")
    conn.execute("COMMIT")
    conn.close()
    out = mig_here("verify", cwd=d)
    assert out.returncode == 1 and "Table k: DIFFERS" in out.stdout


def test_a_keyless_seed_row_equal_to_an_old_row_only_under_nocase_is_still_a_seed(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE k (a TEXT COLLATE NOCASE, b INT); INSERT INTO k VALUES ('X', 1);",
                "CREATE TABLE k (a TEXT COLLATE NOCASE, b INT); INSERT INTO k VALUES ('x', 1);")
    assert mig_here("migrate", cwd=d).returncode == 0
    drained_ok(d)
    assert sorted(sqlite3.connect(new_db(d)).execute("SELECT a, b FROM k").fetchall()) == [("X", 1), ("x", 1)]


def test_a_unique_index_value_moving_during_the_copy(tmp_path: Path) -> None:
    rows = ", ".join(f"({i}, 'u{i}')" for i in range(1, 5001))
    d = project(tmp_path, f"CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT); INSERT INTO t VALUES {rows};",
                "CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT, w TEXT); CREATE UNIQUE INDEX t_u ON t(u);")
    moved: list[int] = []

    def progress(label: str, done: int, total: int | None) -> None:
        if label.startswith("copy") and not moved:  # row 10 is copied, row 4000 is not yet
            write_old(d, "UPDATE t SET u = NULL WHERE id = 10", "UPDATE t SET u = 'u10' WHERE id = 4000")
            moved.append(done)

    commands.migrate_command(commands.Inputs(d), progress=progress)
    assert moved and moved[0] < 4000
    drained_ok(d)


def test_replace_through_a_desc_or_nocase_unique_index_is_captured(tmp_path: Path) -> None:
    d = project(tmp_path, "CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT); CREATE UNIQUE INDEX tu ON t(u DESC);"
                "CREATE TABLE n (id INTEGER PRIMARY KEY, u TEXT); CREATE UNIQUE INDEX nu ON n(u COLLATE NOCASE);"
                "INSERT INTO t VALUES (1, 'a'); INSERT INTO n VALUES (1, 'a');",
                "CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT, w); CREATE UNIQUE INDEX tu ON t(u DESC);"
                "CREATE TABLE n (id INTEGER PRIMARY KEY, u TEXT, w); CREATE UNIQUE INDEX nu ON n(u COLLATE NOCASE);")
    assert mig_here("migrate", cwd=d).returncode == 0
    write_old(d, "INSERT OR REPLACE INTO t (id, u) VALUES (2, 'a')",
              "INSERT OR REPLACE INTO n (id, u) VALUES (2, 'A')")
    drained_ok(d)
    new = sqlite3.connect(new_db(d))
    assert new.execute("SELECT id, u FROM t").fetchall() == [(2, "a")]
    assert new.execute("SELECT id, u FROM n").fetchall() == [(2, "A")]


def test_writes_during_recording_that_the_plan_would_refuse_stop_drain(tmp_path: Path) -> None:
    """The plan checked the rows it saw; rows written later get the same questions at drain's end."""
    cases = [
        ("CREATE TABLE z (id INTEGER PRIMARY KEY, zip);", "CREATE TABLE z (id INTEGER PRIMARY KEY, zip INTEGER);",
         "INSERT INTO z VALUES (1, '007')", "type change"),
        ("CREATE TABLE k (id INT, v TEXT);", "CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT);",
         "INSERT INTO k VALUES (NULL, 'b')", "INTEGER PRIMARY KEY"),
        ("CREATE TABLE e (id INTEGER PRIMARY KEY); CREATE TABLE gone (x);", "CREATE TABLE e (id INTEGER PRIMARY KEY);",
         "INSERT INTO gone VALUES (1)", "has rows now"),
    ]
    for i, (old, new, write, reason) in enumerate(cases):
        (tmp_path / str(i)).mkdir()
        d = project(tmp_path / str(i), old, new)
        assert mig_here("migrate", cwd=d).returncode == 0, reason
        write_old(d, write)
        out = mig_here("drain", cwd=d)
        assert out.returncode == 1 and reason in out.stderr, (reason, out.stderr)
        out = mig_here("cutover", cwd=d)
        assert out.returncode == 1 and out.stderr.startswith("cutover failed: Drain is not complete")
