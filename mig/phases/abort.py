"""`mig abort`: undo a migration before cutover.

It leaves the old database exactly as its service made it (invariant 10):
capture triggers, `_migration_marker` and `_migration_log` go in one
transaction, and the new file is removed, but only a mig target still
migrating, never the old database or any other file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mig.phases.common.capture import remove_capture
from mig.phases.common.state import NewState, phase_lock, read_new, read_old, refuse, table_exists
from mig.sqlite.connect import open_ro, open_rw, remove_db_files, translate_errors

__all__ = ["AbortReport", "abort"]


@dataclass
class AbortReport:
    old: str | None
    new: str | None
    previous_marker: str
    removed_capture: bool
    removed_new: bool


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
            removed_new = remove_db_files(new_path) if new_path is not None else False
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
                     "before cutover; after it, `mig revert` takes the new service's writes back "
                     "to the old database and reopens it (`mig status` shows whether the revert "
                     "window is open), and `mig abort` then ends the migration")
    if has_marker or (state.status is None and objects):
        raise refuse("not_a_target", path=new_path, detail="it holds no migration in progress"
                     if not has_marker else "it is an old database being migrated")
    return state
