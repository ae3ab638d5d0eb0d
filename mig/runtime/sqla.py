"""mig.runtime on SQLAlchemy: `install(engine)` adds the checks through engine events,
`create_engine(path)` opens an existing file with the package's own never-create open."""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mig.runtime.errors import MigRuntimeError
from mig.runtime.watch import Role, Watch, check_role, is_write_sql, open_file, require_file, translate

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.engine import Engine

__all__ = ["install", "create_engine"]

_WATCH_KEY = "mig.runtime.watch"


def _is_write(statement: str, context: Any) -> bool:
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        return True
    return is_write_sql(statement)


def _autocommit(conn: Any) -> bool:
    """Whether SQLAlchemy commits nothing itself: AUTOCOMMIT on the connection (execution
    option) or on the engine (`create_engine(..., isolation_level="AUTOCOMMIT")`). Our own
    BEGIN would then never be committed, and the pool would roll the writes back. The
    engine-level setting has no public accessor; this is the rule of SQLAlchemy 2.0's
    Connection._is_autocommit_isolation, and tests pin both forms."""
    level = conn.get_execution_options().get("isolation_level")
    if level is None:
        level = getattr(conn.dialect, "_on_connect_isolation_level", None)
    return bool(level == "AUTOCOMMIT")


def _engine_file(engine: Engine) -> Path | None:
    """The file a SQLite engine's URL names, or None (memory, a creator, another backend)."""
    database = engine.url.database
    if not engine.url.drivername.startswith("sqlite") or not database or database == ":memory:":
        return None
    if str(engine.url.query.get("uri", "")).lower() in ("true", "1"):
        parts = urllib.parse.urlsplit(database)
        if "mode=memory" in parts.query or not parts.path:
            return None
        return Path(urllib.parse.unquote(parts.path))
    return Path(database)


def _watch_of(conn: Any, where: str, role: Role) -> Watch:
    """The connection's watch; a connection pooled before install() gets one on first use."""
    info = conn.connection.info
    watch: Watch | None = info.get(_WATCH_KEY)
    if watch is None:
        dbapi_conn = conn.connection.dbapi_connection
        if not dbapi_conn.in_transaction:  # setting it inside one would commit it
            dbapi_conn.isolation_level = None
        watch = info[_WATCH_KEY] = Watch(dbapi_conn, where, role)
    return watch


def _watch_in(ctx: Any) -> Watch | None:
    """The failing connection's watch, if there is one to ask (none at connect time)."""
    try:
        return ctx.connection.connection.info.get(_WATCH_KEY) if ctx.connection else None
    except Exception:  # noqa: BLE001 - a closed or invalidated connection: map by path
        return None


def install(engine: Engine, role: Role = "auto", path: str | Path | None = None) -> Engine:
    """Give a SQLAlchemy engine on a SQLite file the same checks, through engine events.

    A transaction begins at its first statement: `BEGIN IMMEDIATE` (and the
    marker check under the write lock) when that statement writes or the
    connection has the execution option `mig_write=True`, plain `BEGIN`
    otherwise; with AUTOCOMMIT the checks run per statement. Trigger errors
    become WritesBlocked / NotReady. A file the engine's URL names must exist
    (DatabaseNotFound): SQLAlchemy's default open would create it.
    """
    from sqlalchemy import event

    check_role(role)  # now, not at the first connection
    file = Path(path) if path is not None else _engine_file(engine)
    if file is not None:
        require_file(file)
    where = str(file or "")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves; the driver must not
        record.info[_WATCH_KEY] = Watch(dbapi_conn, where, role)

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                executemany: bool) -> None:
        dbapi_conn = conn.connection.dbapi_connection
        watch = _watch_of(conn, where, role)
        write = bool(conn.get_execution_options().get("mig_write")) or _is_write(statement, context)
        if dbapi_conn.in_transaction:
            if write and not watch.write_checked:
                watch.check_late_write(dbapi_conn)
            return
        if _autocommit(conn):
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
        watch = _watch_in(ctx)
        mapped = (watch.translate(ctx.original_exception) if watch is not None else
                  translate(ctx.original_exception, where, os.path.realpath(where) if where else ""))
        if mapped is not None:
            raise mapped from ctx.original_exception

    return engine


def create_engine(path: str | Path, role: Role = "auto", *, timeout: float = 5.0,
                  **kwargs: Any) -> Engine:
    """`sqlalchemy.create_engine` on an existing file, with `install` applied.

    The file is opened by this module (`creator=`, `mode=rw`), not through a
    URL: SQLAlchemy would decode `%`, `?` and `#` in the path and open, or
    create, another file. `timeout` is sqlite3's busy timeout."""
    from sqlalchemy import create_engine as sa_create_engine
    from sqlalchemy.engine import URL

    for own in ("creator", "connect_args"):
        if own in kwargs:
            raise TypeError(f"mig.runtime.create_engine opens the file itself; {own}= is not "
                            "supported (pass timeout=, or build the engine and call install())")
    p = Path(path)
    require_file(p)

    def creator() -> sqlite3.Connection:
        return open_file(p, False, timeout, check_same_thread=False)  # the pool crosses threads

    # URL.create takes the name verbatim (no parsing); it only makes SQLAlchemy
    # choose its file-database pool. The creator does the opening.
    url = URL.create("sqlite+pysqlite", database=str(p.resolve()))
    return install(sa_create_engine(url, creator=creator, **kwargs), role, p)
