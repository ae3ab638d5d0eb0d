"""Replicated SQLite (issue 20): Litestream's own tables are left alone, and a LiteFS replica is
refused before anything is written. Neither tool runs here: Litestream's tables are the ones it
creates, and a LiteFS mount is a directory with the `.primary` file LiteFS puts on replicas."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest
from clihelp import mig_here, project, snapshot

from mig import commands

OLD = """PRAGMA journal_mode=wal;
CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO note (body) VALUES ('a'), ('b');
CREATE TABLE IF NOT EXISTS _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER);
CREATE TABLE IF NOT EXISTS _litestream_lock (id INTEGER);
INSERT INTO _litestream_seq (id, seq) VALUES (1, 7);
"""
NEW = "CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT, tag TEXT);"


def _files(directory: Path) -> dict[str, str]:
    """The directory's files by content, but SQLite's empty WAL and its index, which a reader's
    last close may remove: what a refused command must leave as it was."""
    return {name: digest for name, digest in snapshot(directory).items()
            if not name.endswith("-shm") and not (name.endswith("-wal") and (directory / name).stat().st_size == 0)}


def _names(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()


def test_litestream_s_tables_are_neither_copied_captured_nor_dropped(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    plan = mig_here("plan", cwd=d)
    assert plan.returncode == 0 and "_litestream_" not in plan.stdout.replace(str(tmp_path), ""), plan.stdout
    inputs = commands.Inputs(d)
    migrated = commands.migrate_command(inputs)
    old, new = Path(migrated.old or ""), Path(migrated.new)
    assert not [n for n in _names(old) if n.startswith("_mig_capture__litestream")]
    commands.drain_command(inputs)
    # Litestream keeps writing its sequence while the old database refuses the service's writes.
    litestream = sqlite3.connect(old, isolation_level=None)
    litestream.execute("INSERT INTO _litestream_seq (id, seq) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET seq = seq + 1")
    litestream.close()
    commands.cutover_command(inputs)
    assert not {n for n in _names(new) if n.startswith("_litestream")}  # Litestream makes its own there
    assert commands.verify_command(inputs).ok
    commands.cleanup_old_command(inputs)
    conn = sqlite3.connect(old)
    assert conn.execute("SELECT seq FROM _litestream_seq").fetchall() == [(8,)]
    conn.close()


def test_a_litefs_replica_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    (d / ".primary").write_text("node-a.internal\n")  # LiteFS's file: this node is a replica
    before = _files(d)
    out = mig_here("migrate", cwd=d)
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "is on a LiteFS replica (the mount's .primary names the primary node, node-a.internal)" in out.stderr
    assert "run mig there, on node-a.internal" in out.stderr
    assert _files(d) == before
    plan = mig_here("plan", cwd=d)  # plan says what migrate would do: refused, with the same line
    assert plan.returncode == 1 and "LiteFS replica" in plan.stderr
    assert mig_here("status", cwd=d).returncode == 0  # reading is fine on a replica
    (d / ".primary").unlink()  # this node became the primary
    assert mig_here("migrate", cwd=d).returncode == 0


def test_every_writing_command_refuses_on_a_replica(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    assert mig_here("migrate", cwd=d).returncode == 0
    (d / ".primary").write_text("node-b\n")  # the lease moved: this node is a replica now
    before = _files(d)
    for command in ("drain", "cutover", "abort", "cleanup-old", "revert"):
        out = mig_here(command, cwd=d)
        assert out.returncode == 1 and "LiteFS replica" in out.stderr, (command, out.stderr)
    assert _files(d) == before
    assert mig_here("status", cwd=d).returncode == 0


def test_where_the_directory_takes_no_lock_file_the_lock_is_taken_elsewhere(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # LiteFS's mount holds databases and their journals only: creating another file there
    # fails with "operation not permitted". Simulated for the project directory alone.
    d = project(tmp_path, OLD, NEW)
    real_open = os.open

    def litefs_open(path: str | os.PathLike[str], flags: int, mode: int = 0o777, **kw: object) -> int:
        if str(path).startswith(str(d)) and str(path).endswith(".mig-lock"):
            raise PermissionError(errno.EPERM, "Operation not permitted", str(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", litefs_open)
    inputs = commands.Inputs(d)
    migrated = commands.migrate_command(inputs)
    commands.drain_command(inputs)
    commands.cutover_command(inputs)
    assert commands.verify_command(inputs).ok
    assert not list(d.glob("*.mig-lock"))
    # Two commands at once still exclude each other there.
    from mig.errors import DatabaseBusy
    from mig.phases.common.state import phase_lock
    with phase_lock(Path(migrated.new)):
        with pytest.raises(DatabaseBusy):
            with phase_lock(Path(migrated.new)):
                pass
