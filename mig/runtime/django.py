"""mig.runtime on Django: one middleware, `MigMiddleware`, in settings.MIDDLEWARE.

Django's sqlite3 backend opens its connections itself, so the library cannot
hand it a `Database`. The middleware does two things instead:

- It answers a view's `WritesBlocked` or `NotReady` with HTTP 503 and
  `Retry-After`. Without the watch below, the database's own refusal arrives
  as `django.db.IntegrityError` around the trigger's `sqlite3.IntegrityError`;
  that is translated too (`mig.runtime.watch.translate`), so a write the
  triggers refuse is a 503, never a 500.
- When it is loaded (once per process, at the first request or when the WSGI
  handler is built) it gives every SQLite alias of settings.DATABASES the
  library's checks, through an execute wrapper that Django runs around every
  statement of every connection, in requests and outside them: a transaction's
  first statement (Django's own `BEGIN` in `atomic()`, or a statement in
  autocommit) checks the marker and the status, the first write of a
  transaction checks the marker again, and the triggers' errors become typed.
  So a migrating new database refuses reads too (the triggers only see
  writes), and a process that saw its old database drain refuses writes to it
  after `mig cleanup-old` (the draining memory of `mig.runtime.watch`).

One optional setting (docs/runtime.md, "With Django", has the reasons):

    MIG_RUNTIME_ROLES = {"default": "auto"}  # alias -> role; default: every SQLite file alias, "auto"
                                             # {} turns the watch off (the 503 mapping stays)

Django is imported only here, and only when the middleware is used.
"""

from __future__ import annotations

import importlib
import re
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any, Callable

from mig.runtime.errors import NotReady, WritesBlocked
from mig.runtime.watch import Role, Watch, check_role, is_write_sql, require_file, translate

__all__ = ["MigMiddleware", "watch_connections", "unavailable_error"]

_ATTR = "_mig_runtime_watch"  # on a Django DatabaseWrapper: (raw connection, Watch)
_BEGIN = re.compile(r"\s*BEGIN\b", re.I)
_ROLES: dict[str, Role] = {}  # the aliases being watched, and how


def _django(module: str) -> Any:
    """Django has no type stubs: its modules are `Any` here, imported when first needed."""
    return importlib.import_module(module)


def _file_of(name: object) -> Path | None:
    """The file a Django SQLite NAME opens (Django passes uri=True), or None for memory."""
    text = str(name or "")
    if not text or text == ":memory:" or "mode=memory" in text:
        return None
    if text.startswith("file:"):
        path = urllib.parse.unquote(urllib.parse.urlsplit(text).path)
        return Path(path) if path else None
    return Path(text)


def _default_roles(connections: Any) -> dict[str, Role]:
    return {alias: "auto" for alias in connections
            if connections[alias].vendor == "sqlite"
            and _file_of(connections[alias].settings_dict.get("NAME")) is not None}


def watch_connections(roles: dict[str, Role] | None = None) -> dict[str, Role]:
    """Give the SQLite aliases' connections the library's checks; returns alias -> role.

    `roles` defaults to settings.MIG_RUNTIME_ROLES, and that to every alias on
    a SQLite file with role "auto". Each file must exist (DatabaseNotFound),
    since Django's open would create an empty one. Idempotent: the middleware
    calls it when it is loaded; call it yourself in a process that serves
    without middleware (a worker, a management command)."""
    from_settings = _django("django.conf").settings
    connections = _django("django.db").connections
    if roles is None:
        roles = getattr(from_settings, "MIG_RUNTIME_ROLES", None)
    chosen = dict(_default_roles(connections) if roles is None else roles)
    for alias, role in chosen.items():
        check_role(role)
        db = connections[alias]  # KeyError-like ConnectionDoesNotExist for an unknown alias
        if db.vendor != "sqlite":
            raise ValueError(f"MIG_RUNTIME_ROLES: {alias!r} is not a SQLite database ({db.vendor})")
        file = _file_of(db.settings_dict.get("NAME"))
        if file is not None:
            require_file(file)
    _ROLES.clear()
    _ROLES.update(chosen)
    signal = _django("django.db.backends.signals").connection_created
    signal.connect(_on_connection_created, dispatch_uid=__name__, weak=False)
    for db in connections.all(initialized_only=True):  # this thread's, opened before us
        _install(db)
    return dict(chosen)


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    _install(connection)


def _install(db: Any) -> None:
    if db.alias in _ROLES and watch_statement not in db.execute_wrappers:
        # First in the list is outermost; appending inside someone's
        # `with connection.execute_wrapper(...)` would make their exit pop ours.
        db.execute_wrappers.insert(0, watch_statement)


def _watch_of(db: Any, raw: sqlite3.Connection, role: Role) -> Watch:
    """The watch of the DatabaseWrapper's current raw connection (a reconnect gets a new one)."""
    mine: tuple[sqlite3.Connection, Watch] | None = getattr(db, _ATTR, None)
    if mine is None or mine[0] is not raw:
        mine = (raw, Watch(raw, str(db.settings_dict.get("NAME") or ""), role))
        setattr(db, _ATTR, mine)
    return mine[1]


def _sqlite_error(exc: BaseException) -> BaseException | None:
    """The sqlite3 error Django wrapped (`raise django_error from sqlite_error`)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None or isinstance(seen, sqlite3.Error):
            return seen
        seen = seen.__cause__
    return None


def _run(watch: Watch, execute: Callable[..., Any], sql: str, params: Any, many: bool,
         context: Any) -> Any:
    try:
        return execute(sql, params, many, context)
    except Exception as exc:
        original = _sqlite_error(exc)
        mapped = watch.translate(original) if original is not None else None
        if mapped is not None:
            raise mapped from exc
        raise


def watch_statement(execute: Callable[..., Any], sql: str, params: Any, many: bool,
                    context: dict[str, Any]) -> Any:
    """Django execute wrapper: the library's checks around one statement.

    Outside a transaction (Django's autocommit) the checks run before the
    statement. Django's `BEGIN` (atomic(); `transaction_mode` may make it
    IMMEDIATE) is followed by the read checks; the transaction's first write
    checks the marker again: under the write lock with BEGIN IMMEDIATE, and
    else with the capture trigger as the backstop, as in `mig.runtime.sqla`."""
    db = context["connection"]
    role = _ROLES.get(db.alias)
    raw = db.connection
    if role is None or not isinstance(raw, sqlite3.Connection):
        return execute(sql, params, many, context)
    watch = _watch_of(db, raw, role)
    write = is_write_sql(sql)
    begin = not raw.in_transaction and _BEGIN.match(sql) is not None
    with db.wrap_database_errors:  # a sqlite3 error of the checks' own reads, as Django's
        if raw.in_transaction:
            if write and not watch.write_checked:
                watch.check_late_write(raw)
        elif not begin:
            watch.check(raw, write)
    result = _run(watch, execute, sql, params, many, context)
    if begin:
        try:
            with db.wrap_database_errors:
                watch.check(raw, write=False)  # a deferred read until its first write
        except BaseException:
            raw.execute("ROLLBACK")  # Django's atomic() has not started: leave no transaction
            raise
    return result


def unavailable_error(exc: BaseException) -> WritesBlocked | NotReady | None:
    """The migration error behind an exception, or None: mig.runtime's own, or the
    triggers' refusal that Django wrapped (from a connection the watch did not see)."""
    if isinstance(exc, (WritesBlocked, NotReady)):
        return exc
    original = _sqlite_error(exc)
    if original is None:
        return None
    label, real = "the database", ""
    connections = _django("django.db").connections
    files = list(_ROLES) or list(_default_roles(connections))
    if len(files) == 1:  # one file: name it, and let a drain seen here be remembered
        name = connections[files[0]].settings_dict.get("NAME")
        file = _file_of(name)
        if file is not None:
            label, real = str(name), str(file.resolve())
    mapped = translate(original, label, real)
    return mapped if isinstance(mapped, (WritesBlocked, NotReady)) else None


class MigMiddleware:
    """`WritesBlocked` / `NotReady` from a view -> 503 with `Retry-After`; and the watch.

    Put it last in settings.MIDDLEWARE: Django offers a view's exception to
    the innermost middleware first, and one that answers every exception
    itself would otherwise answer before this one. Override `unavailable()`
    for another body (JSON, a template); keep the status and the header."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.roles = watch_connections()

    def __call__(self, request: Any) -> Any:
        return self.get_response(request)

    def process_exception(self, request: Any, exception: Exception) -> Any:
        error = unavailable_error(exception)
        return None if error is None else self.unavailable(request, error)

    def unavailable(self, request: Any, error: WritesBlocked | NotReady) -> Any:
        response = _django("django.http").HttpResponse(
            f"{type(error).__name__}: {error}\n", status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(error.retry_after)
        return response
