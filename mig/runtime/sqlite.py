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

from mig.runtime.errors import DatabaseNotFound, MigRuntimeError, NotReady
from mig.runtime.watch import MigrationState, Role, Watch, check_role, open_file

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
    """Poll `PRAGMA data_version` (one page read) and re-read the status only when it moves.

    `mig abort` deletes the new file while this connection keeps the unlinked
    inode open, so the status it reads would say `migrating` forever: the
    file's identity is checked on every poll too."""
    _validate_wait(timeout, poll)
    deadline = time.monotonic() + timeout
    identity = _file_id(path)
    seen: int | None = None
    while True:
        if _file_id(path) != identity or identity is None:
            raise DatabaseNotFound(path, "was removed while waiting for cutover "
                                         "(`mig abort` deletes the new database)")
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != seen:
            seen = version
            if watch.state(conn).migration_status != "migrating":
                return
        left = deadline - time.monotonic()
        if left <= 0:
            raise NotReady(watch.label, waited=timeout)
        time.sleep(min(poll, left))


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
        """Block until the database is not `migrating`; NotReady after `timeout` seconds,
        DatabaseNotFound if the file is removed meanwhile (`mig abort`)."""
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
    """Block until the database at `path` is cut over (or is no mig target at all)."""
    _validate_wait(timeout, poll)
    with connect(path, "new", readonly=True) as db:
        db.wait_until_ready(timeout, poll)
