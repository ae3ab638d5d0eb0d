"""What `migrate` would do with a pair of paths, read from the files: for `mig plan`
(same inputs, DESIGN.md §2) and for migrate itself, before it plans or resumes."""

from __future__ import annotations

import os
from pathlib import Path

from mig.db import open_ro, translate_errors
from mig.errors import NotFound
from mig.phases.state import NewState, OldState, read_new, read_old, refuse, table_exists

__all__ = ["preview", "check_fresh", "without_source", "already_done", "has_schema", "old_state",
           "target_state"]


def preview(old_path: Path | None, new_path: Path) -> tuple[str, str]:
    """What `migrate` would do with these paths, read-only: (action, message), the
    message empty for a fresh migration; raises the refusal migrate would raise
    before it plans (`mig plan` shows this, DESIGN.md §2: same inputs)."""
    if old_path is None or not old_path.exists():
        return without_source(old_path, new_path)
    if has_schema(new_path):
        return already_done(target_state(new_path), old_path, new_path) or (
            "resumed", f"migrate would resume the copy into {new_path}")
    check_fresh(old_path, new_path)
    return "migrated", ""


def check_fresh(old_path: Path, new_path: Path) -> None:
    """Before a fresh migration plans: the old database is not being migrated
    elsewhere, and capture will be able to write to it."""
    old = old_state(old_path)
    if old.marker is not None and old.new_path != str(new_path.resolve()):
        raise refuse("other_target", other=old.new_path, path=new_path)
    if old.marker is None:
        _check_old_writable(old_path)


def _check_old_writable(old_path: Path) -> None:
    """Capture writes to the old database: found read-only only then, it would fail halfway."""
    if not os.access(old_path, os.W_OK):
        raise refuse("old_readonly", path=old_path, why="the file is read-only for this user")
    if not os.access(old_path.resolve().parent, os.W_OK | os.X_OK):
        raise refuse("old_readonly", path=old_path, why="its directory is read-only for this user, "
                     "and SQLite writes its journal there")


def without_source(old_path: Path | None, new_path: Path) -> tuple[str, str]:
    if not new_path.exists():
        raise NotFound(f"database {old_path} does not exist")
    target_state(new_path)
    return "nothing-to-do", f"the target {new_path} exists and there is no source database; nothing to do"


def already_done(state: NewState, old_path: Path, new_path: Path) -> tuple[str, str] | None:
    """migrate's answer for a target whose copy finished; None while it has not."""
    if state.status == "ready":
        return "already-cut-over", f"{new_path} is already cut over; nothing to do"
    if not state.copy_done:
        return None
    marker = old_state(old_path).marker  # read first: a lost marker is refused, whatever the copy
    drained = state.seeds_applied and marker == "draining"  # a drain that finished
    step = "mig cutover" if drained else "mig drain"
    return "already-migrated", f"{new_path} is already migrated; next: {step}"


def has_schema(path: Path) -> bool:
    """A file with tables in it: a killed migrate's empty file counts as none (see _remove_if_empty)."""
    if not path.is_file():
        return False
    with translate_errors(f"reading {path}"):
        conn = open_ro(path)
        try:
            return bool(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        finally:
            conn.close()


def old_state(old_path: Path) -> OldState:
    with translate_errors(f"reading {old_path}"):
        conn = open_ro(old_path)
        try:
            return read_old(conn)
        finally:
            conn.close()


def target_state(path: Path) -> NewState:
    """The state of an existing target; a file migrate did not make is refused, and
    nothing is done to it."""
    with translate_errors(f"reading {path}"):
        conn = open_ro(path)
        try:
            if not table_exists(conn, "_migration_status"):
                raise refuse("target_taken", path=path)
            return read_new(conn)
        finally:
            conn.close()
