"""What `migrate` would do with a pair of paths, read from the files: for `mig plan`
(same inputs, docs/runbook.md, "Where mig looks for files") and for migrate itself, before it plans or resumes."""

from __future__ import annotations

import os
import shlex
import sqlite3
import threading
from pathlib import Path

from mig.errors import DatabaseError, NotFound, OldDatabaseDamaged, PathInference, WrongState
from mig.model import Schema, schema_hash
from mig.phases.common import space
from mig.phases.common.state import REFUSALS, NewState, OldState, read_new, read_old, refuse, table_exists
from mig.sqlite.connect import open_ro, reading, refuse_replica, translate_errors
from mig.sqlite.introspect import introspect

__all__ = ["preview", "check_fresh", "check_resumable", "check_intact", "without_source", "already_done",
           "has_schema", "old_state", "target_state", "already_has", "same_file", "QUICK_CHECK_BUDGET_S", "check_creatable"]

QUICK_CHECK_PROBLEMS = 3  # the first problems SQLite reports, in the refusal
# In rollback-journal mode PRAGMA quick_check holds a SHARED lock for as long as it runs,
# and the old service's commits wait for it (measured at 1M rows, 138 MB: 0.4-0.6 s of
# check, a writer stalled 648 ms); docs/design.md, Targets allows 200 ms. So there the check gets
# this long, and one that does not finish in it is stopped and reported as not made.
QUICK_CHECK_BUDGET_S = 0.15


def preview(old_path: Path | None, new_path: Path, target: Schema) -> tuple[str, str]:
    """What `migrate` would do with these paths, read-only: (action, message), the
    message empty for a fresh migration; raises the refusal migrate would raise
    before it plans (`mig plan` shows this: same inputs, same answer)."""
    if old_path is None or not old_path.exists():
        return without_source(old_path, new_path)
    if old_path.resolve() == new_path.resolve():
        return same_file(old_path, target)
    if has_schema(new_path):
        done = already_done(target_state(new_path), old_path, new_path)
        if done is None:
            check_resumable(old_path, new_path)
        return done or ("resumed", f"migrate would resume the copy into {new_path}")
    same = already_has(old_path, target)
    if same is not None:
        return same
    check_fresh(old_path, new_path)
    return "migrated", ""


def same_file(old_path: Path, target: Schema) -> tuple[str, str]:
    """The old database is the file the target would be: named by this schema's hash."""
    same = already_has(old_path, target)
    if same is None:
        raise PathInference(f"the old and the new database are the same file ({old_path}); "
                            "the new database must be a new path: pass --new")
    return same


def already_has(old_path: Path, target: Schema) -> tuple[str, str] | None:
    """Nothing to migrate when the old database, not being migrated, already has the
    target schema (right after `mig init`, say): no new file, no capture."""
    with reading(old_path) as conn:
        if read_old(conn).marker is not None:
            return None
        have = schema_hash(introspect(conn))
    if have != schema_hash(target):
        return None
    return "nothing-to-do", f"{old_path} already has this schema (hash {have}); nothing to migrate"


def check_fresh(old_path: Path, new_path: Path) -> list[str]:
    """Before a fresh migration plans: the old database is sound, not being migrated
    elsewhere, capture will be able to write to it, and the disk has room.
    Returns notes for the report (a check that could not be made)."""
    notes = check_intact(old_path)
    old = old_state(old_path)
    if old.marker is not None and old.new_path != str(new_path.resolve()):
        raise refuse("other_target", other=old.new_path, path=new_path)
    if old.marker is None:
        _check_old_writable(old_path)
    space.check_space(old_path, new_path)
    return notes


def check_resumable(old_path: Path, new_path: Path) -> list[str]:
    """Before an interrupted copy goes on: the old database is still sound, and the disk
    has room for what is left to copy (the half-built new file counts as written)."""
    notes = check_intact(old_path)
    space.check_space(old_path, new_path, resuming=True)
    return notes


def check_intact(old_path: Path) -> list[str]:
    """PRAGMA quick_check of the old database, read-only: a damaged one is refused
    (OldDatabaseDamaged) with the first problems SQLite reports. A read of the whole
    file (1M rows, 138 MB: 0.3-0.5 s). In rollback-journal mode it gets
    QUICK_CHECK_BUDGET_S; a note says so when it was stopped."""
    try:
        conn = open_ro(old_path)
    except DatabaseError as exc:
        if isinstance(exc.__cause__, sqlite3.DatabaseError) and _damage(str(exc.__cause__)):
            raise _damaged(old_path, [str(exc.__cause__)]) from exc
        raise
    stopped = threading.Event()

    def stop() -> None:
        stopped.set()
        conn.interrupt()

    try:
        with translate_errors(f"checking {old_path}"):
            wal = conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
            timer = None if wal else threading.Timer(QUICK_CHECK_BUDGET_S, stop)
            if timer is not None:
                timer.start()
            try:
                rows = [r[0] for r in conn.execute(f"PRAGMA quick_check({QUICK_CHECK_PROBLEMS})")]
            except sqlite3.OperationalError:
                if not stopped.is_set():
                    raise
                rows = []
            except sqlite3.DatabaseError as exc:
                if not _damage(str(exc)):
                    raise
                rows = [str(exc)]
            finally:
                if timer is not None:
                    timer.cancel()
    finally:
        conn.close()
    if stopped.is_set() and rows != ["ok"]:
        return [f"the old database was not checked for damage: in rollback-journal mode PRAGMA "
                f"quick_check holds its writers back while it runs, and it did not finish in "
                f"{QUICK_CHECK_BUDGET_S * 1000:.0f} ms; run `sqlite3 {shlex.quote(str(old_path))} "
                f"'PRAGMA quick_check'` at a quiet moment"]
    if rows == ["ok"]:
        return []
    raise _damaged(old_path, rows)


def _damage(text: str) -> bool:
    return "malformed" in text or "corrupt" in text


def _damaged(path: Path, problems: list[str]) -> OldDatabaseDamaged:
    lines = [ln.strip() for p in problems for ln in p.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("***")]  # "*** in database main ***"
    shown = "; ".join(lines[:QUICK_CHECK_PROBLEMS])
    return OldDatabaseDamaged(REFUSALS["old_damaged"].format(path=path, qpath=shlex.quote(str(path)),
                                                             problems=shown))


def _check_old_writable(old_path: Path) -> None:
    """Capture writes to the old database: found read-only only then, it would fail halfway."""
    refuse_replica(old_path)
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
    with reading(path) as conn:
        return bool(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])


def old_state(old_path: Path) -> OldState:
    with reading(old_path) as conn:
        return read_old(conn)


def target_state(path: Path) -> NewState:
    """The state of an existing target; a file migrate did not make is refused, and
    nothing is done to it."""
    with reading(path) as conn:
        if not table_exists(conn, "_migration_status"):
            raise refuse("target_taken", path=path)
        return read_new(conn)


def check_creatable(path: Path) -> None:
    """A new database can be made at `path`. Checked before migrate changes anything:
    found later, the old database would already be recording for a target that
    cannot exist (its lock file is the first thing created beside it)."""
    if path.is_dir():
        raise WrongState(f"{path} is a directory; pass --new with the path of a database file to create")
    if path.is_symlink() and not path.exists():
        raise WrongState(f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; "
                         "remove the link or pass another --new")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise WrongState(f"{parent} is a file, not a directory; pass another --new")
    if not parent.is_dir():
        raise NotFound(f"directory {parent} does not exist; create it or pass another --new")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise WrongState(f"cannot create files in {parent} (no write permission); "
                         "run mig as a user who can, or pass another --new")
