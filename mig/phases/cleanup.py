"""`mig cleanup-old` and `mig abort`: take mig's machinery out of the old database.

Both remove the same things — capture triggers, `_migration_marker`,
`_migration_log` — in one transaction. cleanup-old runs after cutover and
refuses while the old database is still recording (runbook safety rule);
abort runs before cutover, leaves the old database exactly as its service
made it (invariant 10) and removes the new file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mig.db import open_ro, open_rw, translate_errors
from mig.phases.state import NewState, phase_lock, read_new, read_old, recorded_link, refuse, table_exists
from mig.sqltext import quote_ident as q

__all__ = ["CleanupReport", "AbortReport", "cleanup_old", "abort", "remove_capture"]


@dataclass
class CleanupReport:
    old: str
    previous_marker: str
    dropped_marker: bool
    dropped_log: bool


@dataclass
class AbortReport:
    old: str | None
    new: str | None
    previous_marker: str
    removed_capture: bool
    removed_new: bool


def remove_capture(conn: sqlite3.Connection) -> tuple[bool, bool]:
    """Drop capture triggers, marker and log in one transaction; report what existed."""
    triggers = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE '\\_mig\\_capture\\_%' ESCAPE '\\'")]
    had_marker = table_exists(conn, "_migration_marker")
    had_log = table_exists(conn, "_migration_log")
    if not (triggers or had_marker or had_log):
        return False, False  # nothing of ours: not even an empty transaction (it writes an empty file)
    conn.execute("BEGIN IMMEDIATE")
    for name in triggers:
        conn.execute(f"DROP TRIGGER {q(name)}")
    if had_marker:
        conn.execute("DROP TABLE _migration_marker")
    if had_log:
        conn.execute("DROP TABLE _migration_log")
    conn.execute("COMMIT")
    return had_marker, had_log


def cleanup_old(old_path: Path) -> CleanupReport:
    """Refused while recording (runbook) and while the new database is not cut over:
    without its marker the old database would take writes again, and they would be lost."""
    link = recorded_link(old_path)
    new_path = link[1] if link is not None and link[0] == "old" else None
    # The new database's lock, when there is one: cleanup must not run beside drain.
    with phase_lock(new_path if new_path is not None and new_path.exists() else old_path):
        with translate_errors(f"cleaning up {old_path}"):
            conn = open_rw(old_path)
            try:
                previous = read_old(conn, lost_ok=True).marker or "no marker"
                if previous == "recording":
                    raise refuse("still_recording")
                if previous == "lost" and not _cut_over(new_path):
                    raise refuse("marker_lost")
                if previous == "draining" and new_path is not None:
                    _require_cut_over(new_path)
                dropped = remove_capture(conn)
            finally:
                conn.close()
    return CleanupReport(str(old_path), previous, *dropped)


def _cut_over(new_path: Path | None) -> bool:
    """Whether the new database recorded for this old one exists and is `ready`."""
    if new_path is None or not new_path.exists():
        return False
    conn = open_ro(new_path)
    try:
        return read_new(conn).status == "ready"
    finally:
        conn.close()


def _require_cut_over(new_path: Path) -> None:
    """A new database that still exists must be `ready`; one that is gone (moved or
    removed after cutover) cannot be asked, and the operator has drained."""
    if not new_path.exists():
        return
    conn = open_ro(new_path)
    try:
        status = read_new(conn).status
    finally:
        conn.close()
    if status != "ready":
        raise refuse("not_cut_over", path=new_path, status=status or "no status marker")


def abort(old_path: Path | None, new_path: Path | None) -> AbortReport:
    anchor = new_path or old_path
    assert anchor is not None
    with phase_lock(anchor):
        with translate_errors("aborting the migration"):
            if new_path is not None and new_path.exists():
                state = _deletable_target(new_path, old_path)
                if old_path is None and state.old_path:
                    old_path = Path(state.old_path)
            previous, removed = "no marker", False
            if old_path is not None and old_path.exists():
                conn = open_rw(old_path)
                try:
                    previous = read_old(conn, lost_ok=True).marker or "no marker"
                    removed = any(remove_capture(conn))
                finally:
                    conn.close()
            removed_new = _remove_db(new_path) if new_path is not None else False
    return AbortReport(str(old_path) if old_path else None, str(new_path) if new_path else None,
                       previous, removed, removed_new)


def _deletable_target(new_path: Path, old_path: Path | None) -> NewState:
    """Abort deletes the new file: only a mig target still migrating (or the empty file a
    migrate killed before its first commit), never the old database or any other."""
    if old_path is not None and old_path.exists() and old_path.resolve() == new_path.resolve():
        raise refuse("not_a_target", path=new_path, detail="it is the old database itself")
    conn = open_ro(new_path)
    try:
        state = read_new(conn)
        objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        has_marker = table_exists(conn, "_migration_marker")
    finally:
        conn.close()
    if state.status == "ready":
        raise refuse("already_ready", path=new_path, detail="abort is only possible "
                     "before cutover; to roll back, route traffic back to the old service (it "
                     "serves reads) and run `mig cleanup-old` to open the old database to "
                     "writes again (writes the new service took stay in the new database only)")
    if has_marker or (state.status is None and objects):
        raise refuse("not_a_target", path=new_path, detail="it holds no migration in progress"
                     if not has_marker else "it is an old database being migrated")
    return state


def _remove_db(path: Path) -> bool:
    existed = path.exists()
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(str(path) + suffix)
    return existed
