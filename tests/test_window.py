"""The write-unavailability window (docs/runbook.md, invariant 8, §7): drain refuses before it blocks
writes, and a refusal that only the tail can show gives the writes back.

Each refusal class is tried twice: with the offending row logged before drain
starts, and with it written in the tail (between drain's whole checks and its
block: `block_writes` is wrapped so the row is committed by another
connection just before the real block). Either way the old database must end
up recording and accepting writes, the message must name the row, and after
the fix the runbook must run to the end with nothing lost.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from clihelp import project, run_mig

from mig import commands
from mig.errors import MigError
from mig.phases import cutover as cutover_phase
from mig.phases import drain as drain_phase
from mig.sqlite.connect import mig_writer, open_rw

OLD = """
CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO parent VALUES (1, 'one'), (2, 'two');
CREATE TABLE item (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), v TEXT, r REAL);
INSERT INTO item VALUES (1, 1, 'abc', NULL), (2, 2, 'def', NULL);
"""
PARENT = "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);\n"
ITEM = "CREATE TABLE item (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), v TEXT, r REAL);\n"

# (target schema, the offending write, its fix, what the message names)
CLASSES = [
    pytest.param(PARENT + ITEM.replace("v TEXT", "v INTEGER"), "INSERT INTO item VALUES (3, 1, '0042', NULL)",
                 "DELETE FROM item WHERE id = 3", "id=3", id="text that an INTEGER column changes"),
    pytest.param(PARENT + ITEM.replace("r REAL", "r INTEGER"), "INSERT INTO item VALUES (3, 1, 'x', 3.0)",
                 "UPDATE item SET r = NULL WHERE id = 3", "id=3", id="REAL into an INTEGER column"),
    pytest.param(PARENT + ITEM.replace("v TEXT", "v TEXT NOT NULL DEFAULT 'a'"),
                 "INSERT INTO item VALUES (3, 1, NULL, NULL)", "UPDATE item SET v = 'b' WHERE id = 3", "id=3",
                 id="NULL into a column that became NOT NULL DEFAULT"),
    pytest.param(PARENT + ITEM.replace("v TEXT", "v TEXT UNIQUE"), "INSERT INTO item VALUES (3, 1, 'abc', NULL)",
                 "UPDATE item SET v = 'new' WHERE id = 3", "the row id=3, written during the migration, holds "
                 "the same v='abc'", id="a duplicate on a new UNIQUE"),
    pytest.param(PARENT + ITEM.replace("v TEXT", "v TEXT CHECK (length(v) < 5)"),
                 "INSERT INTO item VALUES (3, 1, 'too long', NULL)", "UPDATE item SET v = 'ok' WHERE id = 3",
                 "id=3", id="a row a new CHECK refuses"),
    pytest.param(PARENT + ITEM.replace("v TEXT", "v TEXT, w TEXT"), "INSERT INTO item VALUES (3, 99, 'x', NULL)",
                 "INSERT INTO parent VALUES (99, 'late')", "missing parent", id="a child without its parent"),
    pytest.param(PARENT + ITEM.replace("v TEXT", "v TEXT, w TEXT"), "DELETE FROM parent WHERE id = 2",
                 "DELETE FROM item WHERE id = 2", "missing parent", id="a parent deleted under its child"),
]


def _setup(tmp_path: Path, new_sql: str, journal: str, old_sql: str = OLD) -> tuple[commands.Inputs, Path]:
    d = project(tmp_path, old_sql, new_sql)
    old = d / "proj-0000000000000001.sqlite"
    sqlite3.connect(old).execute(f"PRAGMA journal_mode={journal}").connection.close()
    inputs = commands.Inputs(d, None, None, None)
    commands.migrate_command(inputs)
    return inputs, old


def _write(db: Path, sql: str) -> None:
    conn = sqlite3.connect(db)  # a plain client: foreign keys off, as SQLite's default
    try:
        conn.executescript(sql)
    finally:
        conn.close()


def _marker(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("SELECT status FROM _migration_marker").fetchone()[0])
    finally:
        conn.close()


def _write_before_block(monkeypatch: pytest.MonkeyPatch, db: Path, sql: str) -> None:
    """The row arrives in the tail: committed after drain's whole checks, just before its block."""
    real: Callable[..., int] = drain_phase.block_writes

    def late_write_then_block(old_path: Path, *rest: object) -> int:
        _write(db, sql)
        return real(old_path, *rest)
    monkeypatch.setattr(drain_phase, "block_writes", late_write_then_block)


def _finish_runbook(inputs: commands.Inputs, old: Path, fix: str) -> None:
    _write(old, fix)  # the old service takes writes again, and the fix is logged
    commands.drain_command(inputs)
    commands.cutover_command(inputs)
    assert commands.verify_command(inputs).ok


@pytest.mark.parametrize("journal", ["wal", "delete"])
@pytest.mark.parametrize("new_sql,bad,fix,named", CLASSES)
def test_a_row_logged_before_drain_is_refused_with_writes_open(
        tmp_path: Path, journal: str, new_sql: str, bad: str, fix: str, named: str) -> None:
    inputs, old = _setup(tmp_path, new_sql, journal)
    _write(old, bad)
    with pytest.raises(MigError) as refused:
        commands.drain_command(inputs)
    message = str(refused.value)
    assert named in message and "drain` again" in message, message
    assert "blocked" not in message, message  # the block never happened
    assert _marker(old) == "recording"
    _write(old, "INSERT INTO parent VALUES (50, 'written after the refusal')")
    _finish_runbook(inputs, old, fix)


@pytest.mark.parametrize("journal", ["wal", "delete"])
@pytest.mark.parametrize("new_sql,bad,fix,named", CLASSES)
def test_a_row_that_arrives_in_the_tail_gives_writes_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, journal: str, new_sql: str, bad: str, fix: str,
        named: str) -> None:
    inputs, old = _setup(tmp_path, new_sql, journal)
    _write_before_block(monkeypatch, old, bad)
    with pytest.raises(MigError) as refused:
        commands.drain_command(inputs)
    message = str(refused.value)
    assert named in message and "accepted again" in message, message
    assert _marker(old) == "recording"
    _write(old, "INSERT INTO parent VALUES (50, 'written after the refusal')")
    monkeypatch.undo()
    _finish_runbook(inputs, old, fix)


def test_the_issue_reproduction_leaves_the_old_database_writable(tmp_path: Path) -> None:
    """Rollback journal, a text value an INTEGER column would change, logged before drain."""
    d = project(tmp_path, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES(1,'abc')",
                "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER);", name="p")
    assert run_mig("migrate", cwd=d).returncode == 0
    old = d / "p-0000000000000001.sqlite"
    _write(old, "INSERT INTO t VALUES(3,'0042')")
    out = run_mig("drain", cwd=d)
    assert out.returncode == 1 and "id=3, v='0042'" in out.stderr and "Traceback" not in out.stderr, out
    assert "are blocked" not in out.stderr
    _write(old, "INSERT INTO t VALUES(4, 'still writable')")
    assert "Marker status: recording" in run_mig("status", cwd=d).stdout


def test_drain_then_cutover_reports_the_whole_window(tmp_path: Path) -> None:
    inputs, old = _setup(tmp_path, PARENT + ITEM.replace("v TEXT", "v TEXT, w TEXT"), "wal")
    drained = commands.drain_command(inputs)
    assert isinstance(drained, drain_phase.DrainReport)
    cut = commands.cutover_command(inputs)
    assert cut.writes_refused_seconds is not None and cut.drain_blocked_seconds is not None
    # the whole window holds drain's part, and cutover's after it
    assert cut.writes_refused_seconds >= cut.drain_blocked_seconds > 0


def test_drain_cutover_switches_in_one_process(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, PARENT + ITEM.replace("v TEXT", "v TEXT, w TEXT"))
    assert run_mig("migrate", cwd=d).returncode == 0
    out = run_mig("drain", "--cutover", "--json", cwd=d)
    assert out.returncode == 0, out
    report = json.loads(out.stdout)
    assert report["drain"]["marker_status"] == "draining"
    assert report["cutover"]["current_status"] == "ready"
    assert report["cutover"]["writes_refused_seconds"] >= report["cutover"]["drain_blocked_seconds"]
    text = run_mig("status", cwd=d).stdout
    assert "Migration status: ready" in text and "Pending replay entries: 0 (cutover complete)" in text


def test_drain_cutover_gives_writes_back_when_the_tail_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs, old = _setup(tmp_path, PARENT + ITEM.replace("v TEXT", "v INTEGER"), "wal")
    _write_before_block(monkeypatch, old, "INSERT INTO item VALUES (3, 1, '0042', NULL)")
    with pytest.raises(MigError, match="accepted again"):
        commands.drain_command(inputs, then_cutover=True)
    assert _marker(old) == "recording"
    status = commands.status_command(inputs)
    assert status.migration_status == "migrating"


def test_cutover_refuses_when_drain_did_not_finish_its_checks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every entry replayed is not enough: drain's checks must have reached the last one."""
    inputs, old = _setup(tmp_path, PARENT + ITEM.replace("v TEXT", "v TEXT, w TEXT"), "wal")
    commands.drain_command(inputs)
    new = next(p for p in old.parent.glob("proj-*.sqlite") if p != old)
    conn = mig_writer(open_rw(new))  # as mig's own connection: past the guards
    conn.execute("DELETE FROM _migration_progress WHERE key = 'checked_through'")
    conn.close()
    with pytest.raises(MigError, match="Drain is not complete: the last drain did not finish its checks"):
        commands.cutover_command(inputs)


WHOLE_TABLE = re.compile(r"foreign_key_check|count\(\*\) FROM (old|main)\.\"?\w+\"?\s*$", re.IGNORECASE)


def test_nothing_inside_the_window_reads_a_whole_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every statement drain and cutover run from the block to `ready`, traced: no
    foreign_key_check and no count of a whole table (those ran before the block)."""
    inputs, old = _setup(tmp_path, PARENT + ITEM.replace("v TEXT", "v TEXT, w TEXT"), "wal")
    _write(old, "INSERT INTO item VALUES (3, 1, 'logged before drain', NULL)")
    _write_before_block(monkeypatch, old, "INSERT INTO item VALUES (4, 2, 'in the tail', NULL)")
    traced: list[tuple[bool, str]] = []  # (after the block, statement)
    blocked = [False]
    real_block = drain_phase.block_writes

    def block(old_path: Path, *rest: object) -> int:
        version = real_block(old_path, *rest)
        blocked[0] = True
        return version

    def traced_writer(conn: sqlite3.Connection) -> sqlite3.Connection:
        conn.set_trace_callback(lambda sql: traced.append((blocked[0], sql)))
        return mig_writer(conn)
    monkeypatch.setattr(drain_phase, "block_writes", block)
    monkeypatch.setattr(drain_phase, "mig_writer", traced_writer)
    monkeypatch.setattr(cutover_phase, "mig_writer", traced_writer)
    report = commands.drain_command(inputs, then_cutover=True)
    assert isinstance(report, commands.SwitchReport) and report.cutover.current_status == "ready"
    before = [sql for after, sql in traced if not after]
    window = [sql for after, sql in traced if after]
    assert any(WHOLE_TABLE.search(sql) for sql in before)  # the whole checks ran, before the block
    assert window and not [sql for sql in window if WHOLE_TABLE.search(sql)]
    assert commands.verify_command(inputs).ok


def test_an_orphan_under_an_unchanged_foreign_key_is_refused_by_drain_before_the_block(tmp_path: Path) -> None:
    """The plan leaves an unchanged FOREIGN KEY to drain's whole check (docs/design.md):
    an orphan the old database held all along is named there, with writes still open."""
    new_sql = PARENT + ITEM.replace("v TEXT", "v TEXT, w TEXT")
    d = project(tmp_path, OLD + "INSERT INTO item VALUES (9, 77, 'orphan', NULL);", new_sql)
    inputs, old = commands.Inputs(d, None, None, None), d / "proj-0000000000000001.sqlite"
    assert not commands.plan_command(inputs).refused
    commands.migrate_command(inputs)
    with pytest.raises(MigError, match="missing parent") as refused:
        commands.drain_command(inputs)
    assert "accepted again" not in str(refused.value) and _marker(old) == "recording"
    _finish_runbook(inputs, old, "UPDATE item SET parent_id = 1 WHERE id = 9")


KILL_AT = """
import os, signal, sys
from pathlib import Path
from mig import commands
from mig.phases import drain
point = sys.argv[2]
real = getattr(drain, point)
def killed(*args, **kwargs):
    if point == "block_writes":
        real(*args, **kwargs)  # killed right after the block committed
    os.kill(os.getpid(), signal.SIGKILL)  # "_finish": the tail replayed, not committed
setattr(drain, point, killed)
commands.drain_command(commands.Inputs(Path(sys.argv[1]), None, None, None))
"""


@pytest.mark.parametrize("point", ["block_writes", "_finish"])
def test_a_drain_killed_inside_the_window_finishes_when_run_again(tmp_path: Path, point: str) -> None:
    """SIGKILL, a real process, at a chosen point inside the window (no timing): writes stay
    blocked (nothing can reopen them), and drain run again asks the whole checks itself."""
    inputs, old = _setup(tmp_path, PARENT + ITEM.replace("v TEXT", "v TEXT, w TEXT"), "wal")
    _write(old, "INSERT INTO item VALUES (3, 1, 'logged', NULL); DELETE FROM item WHERE id = 2")
    run = subprocess.run([sys.executable, "-c", KILL_AT, str(inputs.dir), point], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert _marker(old) == "draining"
    with pytest.raises(sqlite3.IntegrityError, match="writes are blocked"):
        _write(old, "INSERT INTO parent VALUES (60, 'refused')")
    with pytest.raises(MigError, match="Drain is not complete"):
        commands.cutover_command(inputs)
    drained = commands.drain_command(inputs)
    assert isinstance(drained, drain_phase.DrainReport) and drained.remaining == 0
    commands.cutover_command(inputs)
    assert commands.verify_command(inputs).ok


def test_an_interrupt_inside_the_window_gives_writes_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs, old = _setup(tmp_path, PARENT + ITEM.replace("v TEXT", "v TEXT, w TEXT"), "wal")

    def interrupted(*args: object) -> int:
        raise KeyboardInterrupt
    monkeypatch.setattr(drain_phase, "_finish", interrupted)
    with pytest.raises(KeyboardInterrupt) as caught:
        commands.drain_command(inputs)
    assert "accepted again" in getattr(caught.value, "mig_state", "")
    assert _marker(old) == "recording"
    _write(old, "INSERT INTO parent VALUES (60, 'accepted')")
    monkeypatch.undo()
    _finish_runbook(inputs, old, "SELECT 1")


def test_drain_run_again_after_it_finished_scans_no_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runbook says drain can be rerun: writes are blocked then, and a finished drain's
    checks still hold (the old database is frozen, the new one guarded)."""
    inputs, old = _setup(tmp_path, PARENT + ITEM.replace("v TEXT", "v TEXT, w TEXT"), "wal")
    _write(old, "INSERT INTO item VALUES (3, 1, 'logged', NULL)")
    first = commands.drain_command(inputs)
    traced: list[str] = []

    def traced_writer(conn: sqlite3.Connection) -> sqlite3.Connection:
        conn.set_trace_callback(traced.append)
        return mig_writer(conn)
    monkeypatch.setattr(drain_phase, "mig_writer", traced_writer)
    again = commands.drain_command(inputs)
    assert isinstance(first, drain_phase.DrainReport) and isinstance(again, drain_phase.DrainReport)
    assert again.previous_marker == "draining" and again.replayed == 0
    assert traced and not [sql for sql in traced if WHOLE_TABLE.search(sql)]
    cut = commands.cutover_command(inputs)
    assert cut.drain_blocked_seconds is not None and cut.drain_blocked_seconds <= first.blocked_seconds
    assert commands.verify_command(inputs).ok
