"""What the real `mig` leaves on disk and which databases it finds.

Reads leave no `-wal`/`-shm` files and survive a hot journal; user tables
that merely look like ours are data; the commands after migrate find the pair
migrate recorded when the directory alone cannot tell.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from clihelp import mig_here, project, snapshot

from mig.sqlite import connect

OLD = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO item VALUES (1, 'a');"
NEW = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER DEFAULT 0);"
OLD_DB = "proj-0000000000000001.sqlite"


def wal_project(tmp: Path, new_sql: str = NEW) -> Path:
    d = project(tmp, OLD, new_sql)
    conn = sqlite3.connect(d / OLD_DB)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()  # the last connection: -wal and -shm are gone
    assert sorted(p.name for p in d.iterdir()) == [OLD_DB, "schema.sql"]
    return d


def test_reads_of_a_wal_database_leave_no_side_files(tmp_path: Path) -> None:
    d = wal_project(tmp_path)
    before = snapshot(d)
    assert mig_here("plan", "--dir", str(d)).returncode == 0
    assert mig_here("status", "--old", str(d / OLD_DB)).returncode == 0
    assert snapshot(d) == before


def test_a_refused_migrate_of_a_wal_database_leaves_the_directory_as_it_was(tmp_path: Path) -> None:
    d = wal_project(tmp_path, "CREATE TABLE item (id INTEGER PRIMARY KEY);")  # drops name: refused
    before = snapshot(d)
    out = mig_here("migrate", "--dir", str(d))
    assert out.returncode == 1 and "refused" in out.stderr
    assert snapshot(d) == before


HOT_JOURNAL = """
import os, signal, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size=1")  # spill changed pages into the file before commit
conn.execute("BEGIN")
conn.executemany("INSERT INTO item (name) VALUES (?)", [("x" * 500,) for _ in range(2000)])
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_hot_journal_left_by_a_killed_writer_does_not_stop_status_or_abort(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    assert mig_here("migrate", cwd=d).returncode == 0
    old = d / OLD_DB
    proc = subprocess.run([sys.executable, "-c", HOT_JOURNAL, str(old)])
    assert proc.returncode == -signal.SIGKILL
    assert Path(str(old) + "-journal").exists()
    status = mig_here("status", cwd=d)
    assert status.returncode == 0, status.stderr
    assert "Migration log entries: 0" in status.stdout  # the killed transaction was rolled back
    abort = mig_here("abort", cwd=d)
    assert abort.returncode == 0, abort.stderr
    conn = sqlite3.connect(old)
    assert conn.execute("SELECT * FROM item").fetchall() == [(1, "a")]
    assert conn.execute("SELECT name FROM sqlite_master WHERE name LIKE '%migration%'").fetchall() == []


def test_user_tables_that_look_like_ours_are_copied(tmp_path: Path) -> None:
    user = "CREATE TABLE _migrations (version INTEGER PRIMARY KEY, applied TEXT);"
    d = project(tmp_path, OLD + user + "INSERT INTO _migrations VALUES (7, 'x');", NEW + user)
    assert mig_here("migrate", cwd=d).returncode == 0
    new = next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)
    assert sqlite3.connect(new).execute("SELECT * FROM _migrations").fetchall() == [(7, "x")]


def test_a_reserved_table_name_in_the_schema_is_an_error(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW + "CREATE TABLE _migration_log (x);")
    out = mig_here("plan", cwd=d)
    assert out.returncode == 1 and "reserved" in out.stderr and len(out.stderr.splitlines()) == 1


def test_a_percent_sign_in_the_path_is_just_a_character(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW, name="we%41rd dir")
    out = mig_here("plan", cwd=d)
    assert out.returncode == 0, out.stderr


def test_status_before_migrate_shows_the_old_database_alone(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    out = mig_here("status", cwd=d)
    assert out.returncode == 0, out.stderr
    assert "Marker status: no marker" in out.stdout and "Migration log entries: 0" in out.stdout
    assert "Migration status" not in out.stdout
    assert sorted(p.name for p in d.iterdir()) == [OLD_DB, "schema.sql"]


def test_status_with_only_new_counts_pending_entries_in_the_recorded_old_log(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    assert mig_here("migrate", cwd=d).returncode == 0
    conn = sqlite3.connect(d / OLD_DB)
    conn.execute("INSERT INTO item VALUES (2, 'b')")
    conn.commit()
    new = next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)
    out = mig_here("status", "--new", str(new))
    assert "Pending replay entries: 1" in out.stdout and "Marker status" not in out.stdout


def test_after_the_old_database_is_retired_status_shows_the_new_one(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    for step in ("migrate", "drain", "cutover", "cleanup-old"):
        assert mig_here(step, cwd=d).returncode == 0, step
    (d / OLD_DB).unlink()
    out = mig_here("status", cwd=d)
    assert out.returncode == 0, out.stderr
    assert "Migration status: ready" in out.stdout and "Pending replay entries: 0 (cutover complete)" in out.stdout


def test_cleanup_old_is_refused_until_cutover(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    assert mig_here("migrate", cwd=d).returncode == 0
    assert mig_here("drain", cwd=d).returncode == 0
    before = snapshot(d)
    out = mig_here("cleanup-old", cwd=d)
    assert out.returncode == 1 and "not cut over" in out.stderr
    assert snapshot(d) == before
    assert mig_here("cutover", cwd=d).returncode == 0
    assert mig_here("cleanup-old", cwd=d).returncode == 0


def test_after_the_schema_is_edited_the_phases_follow_the_recorded_pair(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    assert mig_here("migrate", cwd=d).returncode == 0
    new = next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)
    (d / "schema.sql").write_text(NEW + "CREATE TABLE extra (x);")  # the runbook's "fix issues"
    out = mig_here("status", cwd=d)
    assert "Migration status: migrating" in out.stdout, out.stderr
    out = mig_here("abort", cwd=d)
    assert out.returncode == 0 and "Removed new database: yes" in out.stdout, out.stderr
    assert not new.exists()


def test_abort_given_only_the_old_database_removes_the_recorded_new_one(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    assert mig_here("migrate", cwd=d).returncode == 0
    new = next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)
    (d / "schema.sql").unlink()
    out = mig_here("abort", "--old", str(d / OLD_DB))
    assert out.returncode == 0 and not new.exists(), out.stderr


def test_commands_without_schema_option_do_not_suggest_it(tmp_path: Path) -> None:
    d = tmp_path / "proj"
    d.mkdir()
    for command in ("drain", "cutover", "verify", "cleanup-old"):
        out = mig_here(command, cwd=d)
        assert out.returncode == 1 and "--schema" not in out.stderr, (command, out.stderr)


def test_a_missing_project_directory_is_named(tmp_path: Path) -> None:
    out = mig_here("plan", "--dir", str(tmp_path / "nope"))
    assert out.returncode == 1 and "does not exist" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_old_and_new_on_one_file_is_an_error(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    out = mig_here("plan", "--old", str(d / OLD_DB), "--new", str(d / OLD_DB), cwd=d)
    assert out.returncode == 1 and "same file" in out.stderr


def test_migrate_with_nothing_to_do_says_so_without_a_placeholder(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    assert mig_here("migrate", cwd=d).returncode == 0
    (d / OLD_DB).unlink()
    out = mig_here("migrate", cwd=d)
    assert out.returncode == 0 and "nothing to do" in out.stdout and "None" not in out.stdout


def test_the_schema_file_is_named_as_typed(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, "CREATE TABLE t (id INTEGER,);")
    out = mig_here("plan", "--schema", "./schema.sql", cwd=d)
    assert out.stderr.startswith("plan failed: ./schema.sql:1:1: "), out.stderr


def test_cutover_refuses_a_new_database_changed_behind_its_back(tmp_path: Path) -> None:
    """SQLite has no DDL triggers: DDL from a plain client on the closed new database
    cannot be stopped, but cutover finds it and refuses."""
    for ddl in ("CREATE TABLE intruder (x)", 'DROP TRIGGER "_mig_guard_item_ins"'):
        (tmp_path / ddl.split()[0].lower()).mkdir()
        d = project(tmp_path / ddl.split()[0].lower(), OLD, NEW)
        assert mig_here("migrate", cwd=d).returncode == 0
        assert mig_here("drain", cwd=d).returncode == 0
        new = next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)
        conn = sqlite3.connect(new)
        conn.execute(ddl)
        conn.commit()
        conn.close()
        out = mig_here("cutover", cwd=d)
        assert out.returncode == 1 and "changed by another client" in out.stderr, (ddl, out.stderr)


DROP_CAPTURE = """DROP TRIGGER "_mig_capture_item_ins"; INSERT INTO item VALUES (2, 'unlogged');"""


@pytest.mark.parametrize("when, ddl, command, message", [
    ("draining", "CREATE TABLE sneaky (x); INSERT INTO sneaky VALUES (1);", "cutover",
     "schema changed since `mig migrate`"),
    ("recording", DROP_CAPTURE, "drain", "_mig_capture_item_ins were dropped"),
    ("draining", DROP_CAPTURE, "cutover", "_mig_capture_item_ins were dropped"),
], ids=["table created while draining", "capture dropped while recording", "capture dropped while draining"])
def test_ddl_on_the_old_database_is_found_and_named(
        tmp_path: Path, when: str, ddl: str, command: str, message: str) -> None:
    """No trigger can refuse DDL: a table created and written while writes were blocked
    would reach neither database, a write after a capture trigger was dropped was never
    logged. Drain or cutover finds it and says why (not as rows lost to a UNIQUE)."""
    d = project(tmp_path, OLD, NEW)
    assert mig_here("migrate", cwd=d).returncode == 0
    if when == "draining":
        assert mig_here("drain", cwd=d).returncode == 0
    conn = sqlite3.connect(d / OLD_DB)
    conn.executescript(ddl)
    conn.close()
    out = mig_here(command, cwd=d)
    assert out.returncode == 1 and message in out.stderr and "mig abort" in out.stderr, out
    assert "Migration status: migrating" in mig_here("status", cwd=d).stdout


@pytest.mark.parametrize("target", ["dangling.sqlite", "a-directory", "no-such-dir/new.sqlite",
                                    "schema.sql/new.sqlite"])
@pytest.mark.parametrize("command", ["plan", "migrate"])
def test_a_new_path_that_cannot_become_a_database_is_refused_before_capture(
        tmp_path: Path, command: str, target: str) -> None:
    """Found only when the lock file or the new file is created, the old database would
    already be recording for a target that cannot exist."""
    d = wal_project(tmp_path)
    (d / "dangling.sqlite").symlink_to(tmp_path / "nowhere.sqlite")
    (d / "a-directory").mkdir()
    before = snapshot(d)
    out = mig_here(command, "--dir", str(d), "--old", str(d / OLD_DB), "--new", str(d / target))
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith(f"{command} failed: ") and "Traceback" not in out.stderr
    assert "pass another --new" in out.stderr or "pass --new" in out.stderr
    assert snapshot(d) == before


@pytest.mark.parametrize("content", [b"", b"db"], ids=["empty file", "a database"])
@pytest.mark.parametrize("command", ["cleanup-old", "abort"])
def test_cleanup_and_abort_of_a_database_with_nothing_of_ours_write_nothing(
        tmp_path: Path, command: str, content: bytes) -> None:
    db = tmp_path / "plain.sqlite"
    if content:
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE t (x)")
        conn.close()
    else:
        db.write_bytes(b"")  # SQLite reads an empty file as an empty database
    before = snapshot(tmp_path)
    out = mig_here(command, "--old", str(db))
    assert out.returncode == 0, out.stderr
    assert "Previous marker status: no marker" in out.stdout
    assert snapshot(tmp_path) == before


def test_a_migrate_that_fails_after_capture_says_the_old_database_records(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy that fails half-way (here the new file's disk failing at the third chunk):
    the message says the old database now logs every write, and how to go on or undo it;
    following either works."""
    from mig import commands
    from mig.errors import MigError
    from mig.phases import migrate as migrate_phase

    d = tmp_path / "proj"
    d.mkdir()
    (d / "schema.sql").write_text(NEW)
    db = d / OLD_DB
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO item VALUES (?, ?)", [(i, "x" * 500) for i in range(5000)])
    conn.commit()
    conn.close()
    real, calls = migrate_phase._copy_chunk, []

    def failing(*args: object) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise sqlite3.OperationalError("disk I/O error")
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(migrate_phase, "_copy_chunk", failing)
    with pytest.raises(MigError) as caught:
        commands.migrate_command(commands.Inputs(d))
    said = str(caught.value)
    assert "disk I/O error" in said and f"the migration stays in place on {db.resolve()} (its writes are captured)" in said
    assert "run `mig migrate` again to go on" in said and "`mig abort`" in said
    monkeypatch.setattr(migrate_phase, "_copy_chunk", real)
    assert commands.migrate_command(commands.Inputs(d)).copied_rows == 5000  # going on works
    assert mig_here("abort", "--dir", str(d)).returncode == 0  # and so does undoing it
    assert sorted(p.name for p in d.iterdir()) == [OLD_DB, "schema.sql"]


def test_a_database_another_process_holds_exclusively_is_a_busy_error_that_says_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = project(tmp_path, OLD, NEW)
    holder = sqlite3.connect(d / OLD_DB, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # rollback-journal mode: not even a reader gets in
    monkeypatch.setattr(connect, "BUSY_TIMEOUT_MS", 300)  # mig gives up sooner than its 10 s
    try:
        out = mig_here("status", "--old", str(d / OLD_DB))
    finally:
        holder.execute("ROLLBACK")
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "another connection holds the database locked" in out.stderr and "retry when" in out.stderr


def test_migrate_onto_an_existing_file_that_is_no_target_says_to_pick_another(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    other = d / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE mine (x)")
    conn.close()
    before = snapshot(d)
    out = mig_here("migrate", "--dir", str(d), "--new", str(other))
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "already exists and is not a mig target" in out.stderr and "pass another --new" in out.stderr
    assert snapshot(d) == before
    (d / OLD_DB).unlink()  # no source either: not "nothing to do", since the file is no target
    out = mig_here("migrate", "--dir", str(d), "--new", str(other))
    assert out.returncode == 1 and "already exists and is not a mig target" in out.stderr


def test_plan_says_what_migrate_would_do_for_the_same_inputs(tmp_path: Path) -> None:
    """docs/runbook.md, "Where mig looks for files": plan takes migrate's inputs and exits 1 when migrate would be refused."""
    d = project(tmp_path, OLD, NEW)
    other = d / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE mine (x)").connection.close()
    for command in ("plan", "migrate"):  # a target that is not mig's: both refuse, alike
        out = mig_here(command, "--dir", str(d), "--new", str(other))
        assert out.returncode == 1 and "already exists and is not a mig target" in out.stderr, out
    assert mig_here("migrate", cwd=d).returncode == 0
    out = mig_here("plan", cwd=d)
    assert out.returncode == 0 and "is already migrated; next: mig drain" in out.stdout, out
    assert mig_here("drain", cwd=d).returncode == 0
    for command in ("plan", "migrate"):
        out = mig_here(command, cwd=d)
        assert out.returncode == 0 and "already migrated; next: mig cutover" in out.stdout, out
    (d / "schema.sql").write_text(NEW + "CREATE TABLE extra (x);")  # edited mid-migration
    before = snapshot(d)
    for command in ("plan", "migrate"):
        out = mig_here(command, "--old", str(d / OLD_DB), cwd=d)
        assert out.returncode == 1 and "finish or `mig abort` that migration first" in out.stderr, out
    assert snapshot(d) == before


def test_plan_with_the_target_and_no_source_says_there_is_nothing_to_do(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    for command in ("migrate", "drain", "cutover", "cleanup-old"):
        assert mig_here(command, cwd=d).returncode == 0, command
    (d / OLD_DB).unlink()
    for command in ("plan", "migrate"):
        out = mig_here(command, cwd=d)
        assert out.returncode == 0 and "there is no source database; nothing to do" in out.stdout, out


def test_phases_before_migrate_say_to_run_migrate_first(tmp_path: Path) -> None:
    """Runbook triage: missing migration tables -> verify command order."""
    d = project(tmp_path, OLD, NEW)
    before = snapshot(d)
    for command in ("drain", "cutover", "verify"):
        out = mig_here(command, cwd=d)
        assert out.returncode == 1 and out.stderr.count("\n") == 1, out
        assert "no migration in progress" in out.stderr and "run `mig migrate` first" in out.stderr, out
    assert snapshot(d) == before


def test_a_new_database_deleted_mid_migration_is_named(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    assert mig_here("migrate", cwd=d).returncode == 0
    new = next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)
    new.unlink()
    out = mig_here("drain", cwd=d)
    assert out.returncode == 1 and "which does not exist" in out.stderr and new.name in out.stderr, out
    assert "mig abort" in out.stderr


def test_abort_of_a_new_database_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    before = snapshot(d)
    out = mig_here("abort", "--new", str(d / "nope.sqlite"), cwd=d)
    assert out.returncode == 1 and "does not exist" in out.stderr, out
    assert snapshot(d) == before and not (d / "nope.sqlite").exists()


def _unprivileged() -> list[str] | None:
    """A prefix that runs mig without root's power to ignore file modes, or None."""
    import os
    import shutil
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all"] if setpriv else None


@pytest.mark.parametrize("mode, command, message", [
    (0o444, "plan", "mig cannot write to the old database"),
    (0o444, "migrate", "mig cannot write to the old database"),
    (0o000, "status", "may not read it (permission denied)"),
])
def test_an_old_database_mig_may_not_write_or_read_is_refused_up_front(
        tmp_path: Path, mode: int, command: str, message: str) -> None:
    prefix = _unprivileged()
    if prefix is None:
        pytest.skip("running as root without setpriv: file modes do not apply")
    d = project(tmp_path, OLD, NEW)
    (d / OLD_DB).chmod(mode)
    before = snapshot(d) if mode else sorted(p.name for p in d.iterdir())
    from clihelp import MIG
    out = subprocess.run([*prefix, *MIG, command], cwd=d, capture_output=True, text=True, timeout=60)
    (d / OLD_DB).chmod(0o644)
    assert out.returncode == 1 and message in out.stderr and out.stderr.count("\n") == 1, out
    assert "Traceback" not in out.stderr
    assert (snapshot(d) if mode else sorted(p.name for p in d.iterdir())) == before


@pytest.mark.parametrize("command", ["plan", "status", "verify"])
def test_reading_a_wal_database_this_user_cannot_write_leaves_no_files(tmp_path: Path, command: str) -> None:
    """SQLite would create -wal/-shm it cannot remove, 0444 and this user's: the service
    (another user) could then not open its own database."""
    prefix = _unprivileged()
    if prefix is None:
        pytest.skip("running as root without setpriv: file modes do not apply")
    d = project(tmp_path, OLD, NEW)
    sqlite3.connect(d / OLD_DB).execute("PRAGMA journal_mode=WAL").connection.close()
    (d / OLD_DB).chmod(0o444)
    before = snapshot(d)
    from clihelp import MIG
    out = subprocess.run([*prefix, *MIG, command], cwd=d, capture_output=True, text=True, timeout=60)
    (d / OLD_DB).chmod(0o644)
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out
    assert "this user cannot write this WAL database" in out.stderr and "(the service's user)" in out.stderr
    assert snapshot(d) == before


def test_plan_says_an_interrupted_copy_would_be_resumed_and_an_unfinished_drain_is_next(tmp_path: Path) -> None:
    from mig.sqlite.connect import mig_writer, open_rw
    d = project(tmp_path, OLD, NEW)
    assert mig_here("migrate", cwd=d).returncode == 0
    new = next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)
    conn = mig_writer(open_rw(new))  # as a migrate killed before its last step leaves it
    conn.execute("DELETE FROM _migration_progress WHERE key = 'copy_done'")
    conn.close()
    out = mig_here("plan", cwd=d)
    assert out.returncode == 0 and "migrate would resume the copy into" in out.stdout, out
    assert mig_here("migrate", cwd=d).returncode == 0
    old = sqlite3.connect(d / OLD_DB)  # as a drain killed right after blocking writes leaves it
    old.execute("UPDATE _migration_marker SET status = 'draining'")
    old.commit()
    old.close()
    out = mig_here("plan", cwd=d)
    assert out.returncode == 0 and "already migrated; next: mig drain" in out.stdout, out


def test_a_cut_over_new_database_moved_away_is_not_met_with_abort_advice(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    for command in ("migrate", "drain", "cutover"):
        assert mig_here(command, cwd=d).returncode == 0, command
    new = next(p for p in d.glob("proj-*.sqlite") if p.name != OLD_DB)
    new.rename(tmp_path / "prod.sqlite")  # into production
    out = mig_here("verify", cwd=d)
    assert out.returncode == 1 and "pass --new with its current location" in out.stderr, out
    assert "never cut over" in out.stderr


def test_json_reports_say_only_what_holds(tmp_path: Path) -> None:
    import json
    d = project(tmp_path, OLD, NEW)
    plain = d / "plain.sqlite"
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").connection.close()
    status = json.loads(mig_here("status", "--new", str(plain), "--json", cwd=d).stdout)
    assert status["migration_progress"] is None, status  # never a target: nothing was removed
    assert mig_here("migrate", cwd=d).returncode == 0
    drain = json.loads(mig_here("drain", "--json", cwd=d).stdout)
    assert drain["ok"] and drain["marker_status"] == "draining", drain


def test_a_schema_path_that_is_a_directory_is_named_as_one(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    (d / "adir").mkdir()
    out = mig_here("plan", "--schema", "adir", cwd=d)
    assert out.returncode == 1 and "schema file adir is a directory" in out.stderr, out


def test_drain_of_an_unreadable_old_database_says_permission_denied(tmp_path: Path) -> None:
    prefix = _unprivileged()
    if prefix is None:
        pytest.skip("running as root without setpriv: file modes do not apply")
    d = project(tmp_path, OLD, NEW)
    assert mig_here("migrate", cwd=d).returncode == 0
    (d / OLD_DB).chmod(0)
    from clihelp import MIG
    out = subprocess.run([*prefix, *MIG, "drain", "--old", OLD_DB], cwd=d, capture_output=True, text=True,
                         timeout=60)
    (d / OLD_DB).chmod(0o644)
    assert out.returncode == 1 and "permission denied" in out.stderr and "no migration" not in out.stderr, out


def test_outputs_print_inferred_paths_absolute_and_typed_ones_as_typed(tmp_path: Path) -> None:
    project(tmp_path, OLD, NEW)
    printed = []
    for command in ("plan", "migrate", "status", "drain", "verify", "cutover", "cleanup-old"):
        out = mig_here(command, "--dir", "proj", cwd=tmp_path)
        assert out.returncode == 0, (command, out.stderr)
        printed += [line.split(": ", 1)[1] for line in out.stdout.splitlines()
                    if line.startswith(("Old database: ", "New database: "))]
    assert printed and all(Path(p).is_absolute() for p in printed), printed
    typed = mig_here("status", "--old", f"proj/{OLD_DB}", cwd=tmp_path).stdout
    assert f"Old database: proj/{OLD_DB}" in typed
