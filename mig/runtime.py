"""What services import: open a database and get the runbook's behaviour without effort.

The databases already enforce the migration (capture and write blocking are
triggers, invariants 2, 6 and 7); a service that ignores this module loses
nothing. What the module adds is *early, typed* failure, so a service can
answer HTTP 503 with `Retry-After` instead of a 500 with an IntegrityError:

    MigRuntimeError
    ├── WritesBlocked      the old database is draining (or was cut over and
    │                      cleaned up): send writes to the new service
    ├── NotReady           the new database is still migrating: wait for cutover
    └── DatabaseNotFound   the path does not exist; nothing was created

With the standard `sqlite3` module, `connect()` returns a `Database` whose
`transaction()` starts with `BEGIN IMMEDIATE` and reads the marker *inside*
the write lock, so the check cannot race `mig drain`; `read()` starts a
deferred transaction and never looks at the marker (reads go on while
draining). With SQLAlchemy, `install(engine)` does the same through engine
events, and `create_engine(path)` opens the file with `mode=rw`.

The checks are cheap: the migration tables' existence is cached per
connection until `PRAGMA schema_version` changes, and a `ready` status is
remembered for good (cutover is one-way), so after cutover a service on the
new database pays nothing. docs/runtime.md has the measured overhead.
"""

from __future__ import annotations

import re
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mig.plan.statements import DRAINING_MESSAGE, MIGRATING_MESSAGE

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.engine import Engine

__all__ = [
    "MigRuntimeError",
    "WritesBlocked",
    "NotReady",
    "DatabaseNotFound",
    "Role",
    "MigrationState",
    "Database",
    "connect",
    "wait_until_ready",
    "install",
    "create_engine",
]

Role = Literal["old", "new", "auto"]
ROLES = ("old", "new", "auto")
RETRY_AFTER_S = 1


class MigRuntimeError(Exception):
    """Base of the errors a service sees from this module."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        super().__init__(message)


class WritesBlocked(MigRuntimeError):
    """The old database accepts no writes: it is draining, or it was retired by cutover."""

    retry_after = RETRY_AFTER_S

    def __init__(self, path: str | Path, new_path: str | None = None, retired: bool = False) -> None:
        self.new_path = new_path
        if retired:
            text = (f"writes are blocked: {path} was cut over to {new_path}; "
                    "send writes to the new service")
        else:
            text = (f"writes are blocked: {path} is draining for a schema migration; "
                    "send writes to the new service after cutover")
        super().__init__(path, text)


class NotReady(MigRuntimeError):
    """The new database is still being built by `mig migrate`/`mig drain`."""

    retry_after = RETRY_AFTER_S

    def __init__(self, path: str | Path, waited: float | None = None) -> None:
        still = f" (still migrating after {waited:g} s)" if waited is not None else ""
        super().__init__(path, f"not ready: {path} is being built by a migration{still}; "
                               "it serves requests after `mig cutover`")


class DatabaseNotFound(MigRuntimeError):
    """Opening never creates a file: a wrong path is an error, not a new empty database."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, f"database {path} does not exist (mig.runtime never creates one)")


@dataclass(frozen=True)
class MigrationState:
    marker: str | None  # the old side: recording | draining | None (no migration)
    migration_status: str | None  # the new side: migrating | ready | None (not a mig target)


def _uri(path: Path, readonly: bool) -> str:
    return "file:" + urllib.parse.quote(str(path.resolve())) + ("?mode=ro" if readonly else "?mode=rw")


def _translate(exc: BaseException, path: str) -> MigRuntimeError | None:
    """The guard and capture triggers' RAISE texts, as typed errors."""
    if isinstance(exc, sqlite3.IntegrityError):
        if DRAINING_MESSAGE in str(exc):
            return WritesBlocked(path)
        if MIGRATING_MESSAGE in str(exc):
            return NotReady(path)
    return None


def _status_of(path: str) -> str | None:
    """The `_migration_status` of another database, or None when it cannot be read."""
    try:
        conn = sqlite3.connect(_uri(Path(path), readonly=True), uri=True)
        try:
            row = conn.execute("SELECT status FROM _migration_status").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None


class _Watch:
    """What one connection knows about its database's migration state, and the checks."""

    def __init__(self, path: str, role: Role) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        self.path = path
        self.check_marker = role in ("old", "auto")
        self.check_status = role in ("new", "auto")
        self.write_checked = False  # this transaction's marker check is done
        self._schema_version: int | None = None
        self._has_marker = self._has_status = False
        self._ready = False  # cutover is one-way: once seen, never read again
        self._drained_to: str | None = None  # the new path, once this connection saw draining
        self._retired = False

    def _refresh(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA schema_version").fetchone()[0]
        if version == self._schema_version:
            return
        names = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN "
            "('_migration_marker', '_migration_status')")}
        self._has_marker = "_migration_marker" in names
        self._has_status = "_migration_status" in names
        self._schema_version = version

    def check(self, conn: sqlite3.Connection, write: bool) -> None:
        """Run first thing inside a transaction; raise NotReady or WritesBlocked."""
        self.write_checked = write
        need_status = self.check_status and not self._ready
        if not need_status and not (write and self.check_marker):
            return
        self._refresh(conn)
        if need_status and self._has_status:
            row = conn.execute("SELECT status FROM _migration_status").fetchone()
            if row is not None and row[0] == "migrating":
                raise NotReady(self.path)
            self._ready = row is not None
        if write and self.check_marker:
            self._check_marker(conn)

    def check_late_write(self, conn: sqlite3.Connection) -> None:
        """A write in a transaction that began as a read. The marker may already be stale
        here (no write lock yet); the capture trigger is the backstop and is mapped too."""
        self.write_checked = True
        if self.check_marker:
            self._refresh(conn)
            self._check_marker(conn)

    def _check_marker(self, conn: sqlite3.Connection) -> None:
        if self._has_marker:
            row = conn.execute("SELECT status, new_path FROM _migration_marker").fetchone()
            if row is not None and row[0] == "draining":
                self._drained_to = row[1]
                raise WritesBlocked(self.path, row[1])
        elif self._drained_to is not None:
            # The marker is gone after we saw draining: cleanup-old after cutover
            # (retired: a write here would be lost) or abort (writes resume).
            self._retired = self._retired or _status_of(self._drained_to) == "ready"
            if self._retired:
                raise WritesBlocked(self.path, self._drained_to, retired=True)

    def state(self, conn: sqlite3.Connection) -> MigrationState:
        self._refresh(conn)
        marker = status = None
        if self._has_marker:
            row = conn.execute("SELECT status FROM _migration_marker").fetchone()
            marker = row[0] if row else None
        if self._has_status:
            row = conn.execute("SELECT status FROM _migration_status").fetchone()
            status = row[0] if row else None
        return MigrationState(marker, status)


def _wait(conn: sqlite3.Connection, watch: _Watch, timeout: float, poll: float) -> None:
    """Poll `PRAGMA data_version` (one page read) and re-read the status only when it moves."""
    deadline = time.monotonic() + timeout
    seen: int | None = None
    while True:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != seen:
            seen = version
            if watch.state(conn).migration_status != "migrating":
                return
        left = deadline - time.monotonic()
        if left <= 0:
            raise NotReady(watch.path, waited=timeout)
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
        mapped = _translate(exc, str(self._db.path))
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
        self._watch = _Watch(str(path), role)

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
        """Block until the database is not `migrating`; NotReady after `timeout` seconds."""
        _wait(self.connection, self._watch, timeout, poll)

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
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not p.exists():
        raise DatabaseNotFound(p)
    try:
        conn = sqlite3.connect(_uri(p, readonly), uri=True, timeout=timeout,
                               isolation_level=None, check_same_thread=check_same_thread)
    except sqlite3.OperationalError as exc:  # removed between the check and the open
        raise DatabaseNotFound(p) from exc
    return Database(conn, p, role)


def wait_until_ready(path: str | Path, timeout: float = 60.0, poll: float = 0.05) -> None:
    """Block until the database at `path` is cut over (or is no mig target at all)."""
    with connect(path, "new", readonly=True) as db:
        db.wait_until_ready(timeout, poll)


# ---------------------------------------------------------------- SQLAlchemy

_WATCH_KEY = "mig.runtime.watch"
_WRITE_WORDS = {"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"}
_WRITE_IN_WITH = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)


def _is_write(statement: str, context: Any) -> bool:
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        return True
    match = re.match(r"\s*(\w+)", statement)
    word = match.group(1).upper() if match else ""
    if word == "WITH":
        return bool(_WRITE_IN_WITH.search(statement))
    return word in _WRITE_WORDS


def install(engine: Engine, role: Role = "auto", path: str | Path | None = None) -> Engine:
    """Give a SQLAlchemy engine on a SQLite file the same checks, through engine events.

    A transaction begins at its first statement: `BEGIN IMMEDIATE` (and the
    marker check under the write lock) when that statement writes or the
    connection has the execution option `mig_write=True`, plain `BEGIN`
    otherwise. Trigger errors become WritesBlocked / NotReady.
    """
    from sqlalchemy import event

    _Watch(str(path or ""), role)  # validate the role now, not at the first connection
    where = str(path or engine.url.database or "")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves; the driver must not
        record.info[_WATCH_KEY] = _Watch(where, role)

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                executemany: bool) -> None:
        dbapi_conn = conn.connection.dbapi_connection
        watch: _Watch = conn.connection.info[_WATCH_KEY]
        options = conn.get_execution_options()
        write = bool(options.get("mig_write")) or _is_write(statement, context)
        if dbapi_conn.in_transaction:
            if write and not watch.write_checked:
                watch.check_late_write(dbapi_conn)
            return
        if options.get("isolation_level") == "AUTOCOMMIT":
            watch.check(dbapi_conn, write)
            return
        dbapi_conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            watch.check(dbapi_conn, write)
        except MigRuntimeError:
            dbapi_conn.execute("ROLLBACK")
            raise

    @event.listens_for(engine, "handle_error")
    def _on_error(ctx: Any) -> None:
        mapped = _translate(ctx.original_exception, where)
        if mapped is not None:
            raise mapped from ctx.original_exception

    return engine


def create_engine(path: str | Path, role: Role = "auto", **kwargs: Any) -> Engine:
    """`sqlalchemy.create_engine` on an existing file (`mode=rw`), with `install` applied."""
    from sqlalchemy import create_engine as sa_create_engine

    p = Path(path)
    if not p.exists():
        raise DatabaseNotFound(p)
    url = f"sqlite+pysqlite:///{_uri(p, readonly=False)}&uri=true"
    return install(sa_create_engine(url, **kwargs), role, p)
