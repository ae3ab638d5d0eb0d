"""Blocking the old database's writes for the window, and giving them back.

Drain blocks them by switching the marker to `draining`: from that commit on the
capture triggers refuse every write, and lock triggers refuse every write to
mig's own tables (invariant 6). The lock triggers go in first, idle until the
marker says `draining`, so the block itself is an UPDATE, not a schema change
inside the window. Any failure once writes may be blocked gives them back:
writes are never left blocked by a failed command.
"""

from __future__ import annotations

import contextlib
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from mig.bookkeeping import BLOCKED_AT, CHECKED_THROUGH, DRAIN_BLOCKED_S, drain_lock_names, drain_lock_sql
from mig.errors import MigError, leaves_on_failure
from mig.phases.common.safeguards import (
    NEW_SCHEMA_VERSION,
    OLD_SCHEMA_VERSION,
    check_old_schema,
    check_old_side,
    schema_version,
)
from mig.phases.common.state import phase_lock, read_old, refuse
from mig.sql.text import quote_ident as q
from mig.sqlite.connect import mig_writer, open_rw, translate_errors

__all__ = ["install_locks", "locks_dropped_on_failure", "block_writes", "reopened_on_failure", "reopen_writes",
           "reopen_writes_in"]


def _lock_sql() -> list[str]:
    """drain_lock_sql's triggers, idle while the marker is not `draining`. The marker's
    own update to `draining` passes (its BEFORE trigger still reads `recording`); every
    write to the marker or the log after it is refused."""
    when = " WHEN (SELECT status FROM _migration_marker) = 'draining' BEGIN "
    return [sql.replace(" BEGIN ", when, 1) for sql in drain_lock_sql()]


def install_locks(old_path: Path, new_path: Path) -> int:
    """Create the idle lock triggers, with the old schema checked in the same transaction;
    the schema_version they leave."""
    old = open_rw(old_path)
    try:
        old.execute("BEGIN IMMEDIATE")
        if check_old_side(old, old_path, new_path) != "recording":
            raise refuse("drain_incomplete", detail=f"{old_path} stopped recording while drain caught up")
        for sql in _lock_sql():
            old.execute(sql)
        version = schema_version(old, "main")
        old.execute("COMMIT")
        return version
    finally:
        old.close()


@contextmanager
def locks_dropped_on_failure(old_path: Path) -> Iterator[None]:
    """A drain that fails before the block takes its idle lock triggers out again."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error, MigError):
            _write_old(old_path, [f"DROP TRIGGER IF EXISTS {q(name)}" for name in drain_lock_names()])
        raise


@contextmanager
def reopened_on_failure(conn: sqlite3.Connection, old_path: Path) -> Iterator[None]:
    """Writes are never left blocked by a failed drain: on any failure once they may
    be (a refused tail row, an error, Ctrl-C), the old database goes back to
    `recording`, and the message says so. Replay is idempotent and the log keeps
    every write, so the next drain simply starts over from the checkpoint."""
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        try:
            reopen_writes_in(conn, old_path)
        except (sqlite3.Error, MigError):
            state = (f"writes to {old_path} are blocked (draining) until `mig drain` "
                     "succeeds or `mig abort` reopens it")
        else:
            state = f"writes to {old_path} are accepted again (it is recording, and every write is logged)"
        with leaves_on_failure(state):
            raise


def block_writes(old_path: Path, version: int | None) -> int:
    """From this commit on the capture triggers refuse every write, and the lock
    triggers every write to the marker and the log (invariant 6). Installed and
    checked by _install_locks at schema_version `version`: when the schema changed
    since (or they were not), the schema is checked again and the triggers made
    here. Returns the schema_version the block leaves."""
    old = open_rw(old_path)
    try:
        old.execute("BEGIN IMMEDIATE")
        if version is None or schema_version(old, "main") != version:
            state = read_old(old)
            check_old_schema(old, state.fingerprint)
            for sql in _lock_sql():
                old.execute(sql)
        old.execute("UPDATE _migration_marker SET status = 'draining'")
        version = schema_version(old, "main")
        old.execute("COMMIT")
        return version
    finally:
        old.close()


def _write_old(old_path: Path, statements: list[str]) -> None:
    """Run `statements` on the old database in one transaction of their own."""
    old = open_rw(old_path)
    try:
        old.execute("BEGIN IMMEDIATE")
        for sql in statements:
            old.execute(sql)
        old.execute("COMMIT")
    finally:
        old.close()


def reopen_writes(new_path: Path, old_path: Path) -> None:
    """Undo a finished drain's block: the old database records again (see reopen_writes_in)."""
    with phase_lock(new_path), translate_errors(f"reopening {old_path} to writes"):
        conn = mig_writer(open_rw(new_path))
        try:
            reopen_writes_in(conn, old_path)
        finally:
            conn.close()


def reopen_writes_in(conn: sqlite3.Connection, old_path: Path) -> None:
    """Undo _block_writes: the lock triggers go first, as they refuse the marker's update."""
    _write_old(old_path, [*(f"DROP TRIGGER IF EXISTS {q(name)}" for name in drain_lock_names()),
                          "UPDATE _migration_marker SET status = 'recording'"])
    conn.execute("DELETE FROM _migration_progress WHERE key IN (?, ?, ?, ?, ?, ?)",
                 (BLOCKED_AT, CHECKED_THROUGH, DRAIN_BLOCKED_S, "seeds_applied", OLD_SCHEMA_VERSION,
                  NEW_SCHEMA_VERSION))
