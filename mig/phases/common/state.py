"""Where a migration stands, read from the databases themselves, and the one table of refusals.

The state lives in the files, not in mig: the old database's
`_migration_marker` and `_migration_log`, the new database's
`_migration_status` and `_migration_progress`. Every phase reads it here and
refuses with a text from ``REFUSALS`` when it cannot run; the runbook's two
triage messages are among them, word for word.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import sqlite3
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from mig.bookkeeping import REVERTED_AT
from mig.errors import DatabaseBusy, MigError, WrongState
from mig.plan.ops import Plan
from mig.sqlite.connect import open_ro, refuse_replica
from mig.sqlite.introspect import impostors

__all__ = ["OldState", "NewState", "read_old", "read_new", "refuse", "phase_lock", "now",
           "table_exists", "checkpoint", "log_max", "recorded_link", "REFUSALS",
           "progress_number"]

REFUSALS = {
    "drain_incomplete": "Drain is not complete: {detail}; run `mig drain`, then check `mig status`",
    "still_recording": "Old database is still in recording mode; finish `mig drain` and "
                       "`mig cutover` first",
    "not_cut_over": "the new database {path} is not cut over yet (status {status}); run "
                    "`mig cutover` first, or `mig abort` to stay on the old database",
    "impostor": "the old database has its own {found}, under a name mig keeps for its "
                "bookkeeping; rename it there (and in the service that uses it), then run mig again",
    "marker_lost": "the old database's migration marker is gone (a client deleted the row or "
                   "the table `_migration_marker` while writes were being recorded): capture may "
                   "have stopped with it, so the log can no longer be trusted; run `mig abort`, "
                   "then `mig migrate` again",
    "no_marker": "the old database {path} has no migration marker; run `mig migrate` first",
    "no_status": "the new database {path} is not a mig target (no _migration_status); "
                 "run `mig migrate` first",
    "target_taken": "{path} already exists and is not a mig target (no _migration_status); "
                    "pass another --new, or move that file away",
    "already_ready": "the new database {path} is already cut over (status ready); {detail}",
    "other_target": "the old database is being migrated to {other}, not {path}; finish or "
                    "`mig abort` that migration first",
    "old_changed": "the old database's schema changed since `mig migrate` ({detail}); undo "
                   "that change in the old database, or run `mig abort` and migrate again",
    "old_readonly": "mig cannot write to the old database {path} ({why}), and migrate installs its "
                    "capture triggers there; run mig as a user who can write the file and its directory",
    "capture_gone": "the old database's capture triggers {names} were dropped since `mig migrate`, "
                    "so writes since then were not recorded; run `mig abort` and migrate again",
    "not_a_target": "refusing to delete {path}: {detail}; pass the new database mig migrate "
                    "created (--new), or only --old",
    "new_changed": "the new database was changed by another client while it was closed to "
                   "writes ({detail}); `mig abort` and migrate again",
    "copy_incomplete": "the bulk copy has not finished; run `mig migrate` again to resume it",
    "fk_violation": "foreign key check failed in the new database: {detail}; fix the rows in "
                    "the old database (it takes writes, and the fix is recorded) and run "
                    "`mig drain` again, or `mig abort`",
    "seeds_missing": "seed rows are not applied: {detail}; run `mig drain` again",
    "logged_refused_early": "rows written to the old database during the migration would be changed "
                            "or lost by the new schema: {detail}; fix them in the old database (it "
                            "still takes writes, and the fix is recorded) and run `mig drain` again, "
                            "or `mig abort`",
    "rows_lost_early": "the new database does not hold the old one's rows: {detail}; rows written during "
                       "the migration violate a new UNIQUE or PRIMARY KEY, or were written with triggers "
                       "turned off; `mig verify` names the keys; fix them in the old database (it takes "
                       "writes, and the fix is recorded; a row missing from the new database comes back "
                       "once it is written again, e.g. `UPDATE t SET c = c WHERE id = ...`) and run "
                       "`mig drain` again, or `mig abort`",
    "new_written": "the new database holds rows the old one cannot explain: {detail}; a client wrote to "
                   "the new database while it was being built (past the guard that refuses every "
                   "connection but mig's), or deleted rows in the old one with its triggers dropped; "
                   "`mig verify` names the keys; stop that client, then `mig abort` and migrate again",
    "old_damaged": "the old database {path} is damaged (PRAGMA quick_check: {problems}) and mig changed "
                   "nothing; restore it from a backup and migrate that, or salvage what SQLite can read "
                   "into a new file (`sqlite3 {qpath} .recover | sqlite3 FIXED.sqlite`, or `.dump` where "
                   "the shell lacks .recover), check what it kept, and migrate it with --old FIXED.sqlite",
    "no_space": "not enough disk space in {where} for {what}: about {need} needed, {free} free; {advice}",
    "revert_before_cutover": "the new database {path} is not cut over (status {status}); before cutover "
                             "the way back is `mig abort`, which leaves the old database as it was",
    "not_reversible": "this change cannot be reverted with nothing lost: {detail}; the new database stays "
                      "in service (`mig plan` says this before a migration)",
    "revert_window_closed": "the revert window of {path} is closed: {detail}",
    "revert_refused": "rows the new service wrote cannot go back to the old database: {detail}; fix "
                      "those rows in the new database (the fix is recorded) and run `mig revert` again",
    "revert_window_open": "this database is the new one of a migration from {old} whose revert window is "
                          "still open; close it with `mig cleanup-old --old {old}` (or go back with `mig "
                          "revert`), then run mig on it again",
    "reverting": "a revert of {path} did not finish (its writes are refused); run `mig revert` again "
                 "to finish it",
    "old_missing": "the old database {path} recorded at migrate time does not exist; cutover "
                   "must check its log: pass --old with its new location",
}


def refuse(key: str, **fields: object) -> WrongState:
    return WrongState(REFUSALS[key].format(**fields))


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def table_exists(conn: sqlite3.Connection, name: str, schema: str = "main") -> bool:
    row = conn.execute(f"SELECT 1 FROM {schema}.sqlite_master WHERE type='table' AND name=?",
                       (name,)).fetchone()
    return row is not None


@dataclass(frozen=True)
class OldState:
    marker: str | None  # recording | draining | lost (see read_old) | None
    new_path: str | None
    schema_hash: str | None
    fingerprint: str | None
    log_entries: int | None  # None when there is no log table
    log_max: int


@dataclass(frozen=True)
class NewState:
    status: str | None  # migrating | ready | None
    old_path: str | None
    plan: Plan | None
    schema_hash: str | None
    checkpoint: int | None  # None once _migration_progress is dropped
    copy_done: bool
    seeds_applied: bool
    has_id_mapping: bool
    id_mapping_entries: int | None
    reverted: bool = False  # migrating again after `mig revert` (REVERTED_AT)


def log_max(conn: sqlite3.Connection, schema: str = "main") -> int:
    return int(conn.execute(f"SELECT coalesce(max(seq), 0) FROM {schema}._migration_log").fetchone()[0])


def read_old(conn: sqlite3.Connection, schema: str = "main", counted: bool = True,
             lost_ok: bool = False) -> OldState:
    """`counted`: count the log's entries (a read of the whole log; cutover needs only its end).
    A marker a client removed while capture was installed is refused (`marker_lost`),
    unless `lost_ok` (abort and cleanup-old, the ways out): then its status reads `lost`."""
    found = impostors(conn, schema)
    if found:  # mig would read them as its own, or skip them as its own and lose their rows
        raise refuse("impostor", found="; ".join(found))
    if table_exists(conn, "_migration_revert", schema):  # its log is the revert's, not a migration's
        row = conn.execute(f"SELECT old_path FROM {schema}._migration_revert").fetchone()
        raise refuse("revert_window_open", old=row[0] if row else "its old database")
    marker = new_path = shash = fingerprint = None
    has_marker_table = table_exists(conn, "_migration_marker", schema)
    if has_marker_table:
        row = conn.execute(f"SELECT status, new_path, schema_hash, old_fingerprint "
                           f"FROM {schema}._migration_marker").fetchone()
        if row:
            marker, new_path, shash, fingerprint = row
    entries, top = None, 0
    has_log = table_exists(conn, "_migration_log", schema)
    if has_log:
        entries = conn.execute(f"SELECT count(*) FROM {schema}._migration_log").fetchone()[0] if counted else 0
        top = log_max(conn, schema)
    if marker is None and (has_marker_table or has_log):  # migrate installs all three at once
        if not lost_ok:
            raise refuse("marker_lost")
        marker = "lost"
    return OldState(marker, new_path, shash, fingerprint, entries, top)


def _progress(conn: sqlite3.Connection, key: str) -> object:
    row = conn.execute("SELECT value FROM _migration_progress WHERE key=?", (key,)).fetchone()
    return row[0] if row else None


def progress_number(conn: sqlite3.Connection, key: str) -> float | None:
    """A number migrate or drain left in `_migration_progress` (BLOCKED_AT, ...); None if absent."""
    value = _progress(conn, key)
    return float(value) if isinstance(value, (int, float, str)) else None


def checkpoint(conn: sqlite3.Connection) -> int:
    value = _progress(conn, "replay_checkpoint")
    return int(value) if isinstance(value, (int, str)) else 0


def read_new(conn: sqlite3.Connection) -> NewState:
    status = old_path = plan_json = shash = None
    if table_exists(conn, "_migration_status"):
        row = conn.execute("SELECT status, old_path, plan FROM _migration_status").fetchone()
        if row:
            status, old_path, plan_json = row
    if table_exists(conn, "_schema_identity"):
        row = conn.execute("SELECT schema_hash FROM _schema_identity").fetchone()
        shash = row[0] if row else None
    has_progress = table_exists(conn, "_migration_progress")
    has_map = table_exists(conn, "_id_mapping")
    return NewState(
        status=status, old_path=old_path,
        plan=Plan.from_json(plan_json) if plan_json else None, schema_hash=shash,
        checkpoint=checkpoint(conn) if has_progress else None,
        copy_done=bool(has_progress and _progress(conn, "copy_done")),
        seeds_applied=bool(has_progress and _progress(conn, "seeds_applied")),
        has_id_mapping=has_map,
        id_mapping_entries=conn.execute("SELECT count(*) FROM _id_mapping").fetchone()[0]
        if has_map else None,
        reverted=bool(has_progress and _progress(conn, REVERTED_AT)),
    )


@contextlib.contextmanager
def phase_lock(anchor: Path, like: Path | None = None) -> Iterator[None]:
    """One mig phase at a time per migration: an flock on `<anchor>.mig-lock`.

    The holder removes the file when it is done. A second command may have
    opened the file just before that and get its lock just after, on a file
    no longer in the directory, while a third creates a new one: so a lock
    counts only while the path still names the file that is locked.
    """
    refuse_replica(anchor)  # before the lock file: nothing is written on a LiteFS replica
    lock_path = anchor.with_name(anchor.name + ".mig-lock")
    mode = stat.S_IMODE(os.stat(like).st_mode) & 0o666 if like and like.exists() else 0o600
    try:
        fd = _locked_fd(lock_path, anchor, mode)
    except OSError as exc:
        if exc.errno not in _HOLDS_NO_OTHER_FILES:
            raise
        lock_path = _lock_elsewhere(anchor)
        fd = _locked_fd(lock_path, anchor, mode)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_path)
        os.close(fd)


# What a file system answers for a file that is not a database where it holds only those
# (LiteFS's mount: "operation not permitted").
_HOLDS_NO_OTHER_FILES = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


def _lock_elsewhere(anchor: Path) -> Path:
    """The lock of a database whose directory takes no lock file: in the temporary directory,
    named after the database's real path, so every mig command on this machine finds the
    same one (on LiteFS mig runs on the primary alone)."""
    digest = hashlib.sha256(str(anchor.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"mig-{anchor.name}-{digest}.mig-lock"


def _locked_fd(lock_path: Path, anchor: Path, mode: int) -> int:
    while True:
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, mode)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(lock_path).st_ino == os.fstat(fd).st_ino:
                return fd
        except BlockingIOError as exc:
            os.close(fd)
            raise DatabaseBusy(f"another mig command is running on {anchor.name} "
                               f"(lock {lock_path.name}); wait for it to finish") from exc
        except FileNotFoundError:
            pass  # removed by the holder we waited for: take a fresh file
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def recorded_link(path: Path) -> tuple[str, Path] | None:
    """What migrate recorded in `path`: ("old", the new path) or ("new", the old path).

    None for a database that is not part of a migration, or that cannot be read.
    """
    try:
        conn = open_ro(path)
    except MigError:
        return None
    try:
        if table_exists(conn, "_migration_marker"):
            row = conn.execute("SELECT new_path FROM _migration_marker").fetchone()
            return ("old", Path(row[0])) if row else None
        if table_exists(conn, "_migration_status"):
            row = conn.execute("SELECT old_path FROM _migration_status").fetchone()
            return ("new", Path(row[0])) if row else None
        return None
    except sqlite3.Error:
        return None
    finally:
        conn.close()
