"""mig.runtime on the standard sqlite3 module: `connect()` -> `Database`, and `wait_until_ready()`.

`transaction()` starts with `BEGIN IMMEDIATE` and reads the marker *inside*
the write lock, so the check cannot race `mig drain`; `read()` starts a
deferred transaction and goes on while the old database drains.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from mig.runtime.errors import DatabaseNotFound, MigRuntimeError, NotReady, WritesBlocked
from mig.runtime.watch import MigrationState, Pending, Role, Watch, check_role, open_file

__all__ = ["Database", "connect", "wait_until_ready"]


def _validate_wait(timeout: float, poll: float) -> None:
    if not timeout >= 0:  # also refuses NaN
        raise ValueError(f"timeout must be 0 or more seconds, not {timeout!r}")
    if not poll > 0:
        raise ValueError(f"poll must be more than 0 seconds, not {poll!r}")


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _wait(conn: sqlite3.Connection, watch: Watch, path: Path, timeout: float, poll: float) -> None:
    """Poll `PRAGMA data_version` (one page read) and re-read the state only when it moves,
    or on every poll while an old database drains: what decides its fate (cutover, a
    revert) is written into the new file, which this connection does not watch.

    `mig abort` deletes the new file while this connection keeps the unlinked
    inode open, so the status it reads would say `migrating` forever: the
    file's identity is checked on every poll too."""
    _validate_wait(timeout, poll)
    deadline = time.monotonic() + timeout
    identity = _file_id(path)
    seen: int | None = None
    pending: Pending | None = None
    while True:
        if _file_id(path) != identity or identity is None:
            raise DatabaseNotFound(path, "was removed while waiting for cutover "
                                         "(`mig abort` deletes the new database)")
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != seen or (pending is not None and pending[0] == "draining"):
            seen = version
            pending = _pending(conn, watch)
            if pending is None:
                return
        left = deadline - time.monotonic()
        if left <= 0:
            raise _still(watch.label, pending, timeout)
        time.sleep(min(poll, left))


def _pending(conn: sqlite3.Connection, watch: Watch) -> Pending | None:
    """watch.pending() in one read transaction (one snapshot), unless the caller has one open."""
    if conn.in_transaction:
        return watch.pending(conn)
    conn.execute("BEGIN")
    try:
        return watch.pending(conn)
    finally:
        conn.execute("COMMIT")


def _still(label: str, pending: Pending | None, waited: float) -> MigRuntimeError:
    """The error of a wait that timed out, by what it waited for."""
    kind, other = pending or ("migrating", None)
    if kind == "draining":
        return WritesBlocked(label, other, waited=waited)
    if kind == "reverting":
        return WritesBlocked(label, reverted=True, old_path=other, waited=waited)
    return NotReady(label, waited=waited, reverted=kind == "reverted")


class _Transaction:
    """`with db.transaction() as conn:` -- a class, not a generator: it is on every request."""

    __slots__ = ("_db", "_write")

    def __init__(self, db: Database, write: bool) -> None:
        self._db, self._write = db, write

    def __enter__(self) -> sqlite3.Connection:
        conn = self._db.connection
        if conn.in_transaction:
            raise MigRuntimeError(self._db.path, "a transaction is already open on this connection")
        conn.execute("BEGIN IMMEDIATE" if self._write else "BEGIN")
        try:
            self._db._watch.check(conn, self._write)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return conn

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        conn = self._db.connection
        if exc is None:
            try:
                conn.execute("COMMIT")
                return
            except BaseException as commit_error:
                exc = commit_error
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        mapped = self._db._watch.translate(exc)
        if mapped is not None:
            raise mapped from exc
        if kind is None:
            raise exc  # the COMMIT failed


class Database:
    """A sqlite3 connection with the migration checks; one per thread, like sqlite3's own."""

    def __init__(self, conn: sqlite3.Connection, path: Path, role: Role) -> None:
        self.connection = conn  # the raw connection; autocommit, transactions are explicit
        self.path = path
        self.role = role
        self._watch = Watch(conn, str(path), role)

    def transaction(self) -> _Transaction:
        """A write transaction: BEGIN IMMEDIATE, then the checks, under the write lock."""
        return _Transaction(self, write=True)

    def read(self) -> _Transaction:
        """A read transaction: goes on while the old database drains."""
        return _Transaction(self, write=False)

    def state(self) -> MigrationState:
        """Where the migration stands, for a health endpoint; never raises NotReady."""
        return self._watch.state(self.connection)

    def wait_until_ready(self, timeout: float = 60.0, poll: float = 0.05) -> None:
        """Block until the database takes reads and writes, in either direction of a
        migration (the cases: the module function `wait_until_ready`), polling every
        `poll` seconds for at most `timeout`; ValueError for a negative or NaN
        `timeout` or a `poll` that is not positive. Any role: it reads every table."""
        _wait(self.connection, self._watch, self.path, timeout, poll)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(path: str | Path, role: Role = "auto", *, timeout: float = 5.0,
            readonly: bool = False, check_same_thread: bool = True) -> Database:
    """Open an existing database (`mode=rw`, or `mode=ro`); never create one.

    `role` says which checks run: "old" (writes while draining), "new" (every
    request while migrating) or "auto" (both, each only where its table exists).
    """
    p = Path(path)
    check_role(role)
    conn = open_file(p, readonly, timeout, check_same_thread)
    try:
        return Database(conn, p, role)
    except BaseException:
        conn.close()
        raise


def wait_until_ready(path: str | Path, timeout: float = 60.0, poll: float = 0.05) -> None:
    """Block until the database at `path` takes reads and writes, in either direction.

    Returns at once when nothing holds the database back: a plain one, a new one that
    is cut over (its revert window open or not), an old one that is `recording`.
    Otherwise it waits, and returns as soon as that changes:

    - a new database while `migrating` (before cutover, and again after `mig
      revert`): returns at cutover; NotReady after `timeout` seconds;
    - a new database while a revert is under way (window `reverting`): returns if
      the revert fails and gives the writes back; a revert that succeeds leaves it
      `migrating`, and it waits on for the next cutover; WritesBlocked (`.reverted`,
      `.old_path`) after `timeout`;
    - an old database while `draining`: returns once it takes writes again (`mig
      revert` done, or `mig abort`); WritesBlocked after `timeout`.

    Raises WritesBlocked (`.retired`) at once for an old database that never takes
    writes again: one draining into a database cut over with no revert window, or
    one this process saw drain and that cleanup-old then left without its marker.
    DatabaseNotFound if the file is removed while waiting (`mig abort` deletes the
    new database). `timeout` and `poll` as for `Database.wait_until_ready`."""
    _validate_wait(timeout, poll)
    with connect(path, "new", readonly=True) as db:
        db.wait_until_ready(timeout, poll)
