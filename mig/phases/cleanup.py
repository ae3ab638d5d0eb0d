"""`mig cleanup-old`: take mig's machinery out of the old database after cutover.

It removes capture triggers, `_migration_marker` and `_migration_log` in one
transaction, and refuses while the old database is still recording (runbook
safety rule) or while its new database is not cut over: without its marker
the old database would take writes again, and they would be lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mig.bookkeeping import REVERT_TABLES
from mig.phases.common.capture import capture_triggers, remove_capture
from mig.phases.common.state import phase_lock, read_new, read_old, recorded_link, refuse, table_exists
from mig.sql.text import quote_ident as q
from mig.sqlite.connect import mig_writer, open_ro, open_rw, translate_errors

__all__ = ["CleanupReport", "cleanup_old"]


@dataclass
class CleanupReport:
    old: str
    previous_marker: str
    dropped_marker: bool
    dropped_log: bool
    closed_revert_window: bool = False  # the new database's capture and log since cutover


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
                closed = _close_revert_window(new_path) if new_path is not None and new_path.exists() else False
                dropped = remove_capture(conn)
            finally:
                conn.close()
    return CleanupReport(str(old_path), previous, *dropped, closed)


def _close_revert_window(new_path: Path) -> bool:
    """The revert window ends here: the new database's capture, log and window state go, in
    one transaction, before the old database's bookkeeping (a cleanup killed between the
    two is finished by running it again). A revert that did not finish is refused: it
    would lose its way back."""
    with translate_errors(f"closing the revert window of {new_path}"):
        conn = mig_writer(open_rw(new_path))
        try:
            if not table_exists(conn, "_migration_revert"):
                return False
            row = conn.execute("SELECT status FROM _migration_revert").fetchone()
            if row is not None and row[0] == "reverting":
                raise refuse("reverting", path=new_path)
            conn.execute("BEGIN IMMEDIATE")
            for name in capture_triggers(conn):
                conn.execute(f"DROP TRIGGER {q(name)}")
            for table in REVERT_TABLES:
                conn.execute(f"DROP TABLE {table}")
            conn.execute("COMMIT")
            return True
        finally:
            conn.close()


def _status(new_path: Path) -> str | None:
    conn = open_ro(new_path)
    try:
        return read_new(conn).status
    finally:
        conn.close()


def _cut_over(new_path: Path | None) -> bool:
    """Whether the new database recorded for this old one exists and is `ready`."""
    return new_path is not None and new_path.exists() and _status(new_path) == "ready"


def _require_cut_over(new_path: Path) -> None:
    """A new database that still exists must be `ready`; one that is gone (moved or
    removed after cutover) cannot be asked, and the operator has drained."""
    if not new_path.exists():
        return
    status = _status(new_path)
    if status != "ready":
        raise refuse("not_cut_over", path=new_path, status=status or "no status marker")
