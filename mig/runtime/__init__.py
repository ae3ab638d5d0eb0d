"""What services import: open a database and get the runbook's behaviour without effort.

The databases already enforce the migration (capture and write blocking are
triggers, invariants 2, 6 and 7); a service that ignores this package loses
nothing while the marker is there. What the package adds is *early, typed*
failure, so a service can answer HTTP 503 with `Retry-After` instead of a 500
with an IntegrityError, and a memory the database cannot keep:

    MigRuntimeError
    ├── WritesBlocked      the old database is draining, or this process saw it
    │                      drain (it is retired): send writes to the new service;
    │                      or the new database is being reverted by `mig revert`
    │                      (.reverted): send writes to the old service
    ├── NotReady           the new database is still migrating (or again, after a
    │                      revert): wait for cutover
    └── DatabaseNotFound   the path is no database file; nothing was created

    errors.py   the tree above
    watch.py    per-connection state, the checks, the process's draining memory,
                the one never-create open
    sqlite.py   connect() -> Database (transaction(), read(), state()), wait_until_ready()
                (both ways: a new database until cutover, an old one until it takes writes)
    sqla.py     install(engine), create_engine(path) for SQLAlchemy (imported lazily)
    django.py   MigMiddleware and watch_connections() for Django (import it by name:
                `mig.runtime.django.MigMiddleware` in settings.MIDDLEWARE)

The checks are cheap: the migration tables' existence is cached per
connection until `PRAGMA schema_version` changes, and a `ready` status is
remembered for good when the cutover left no revert window (then it is
one-way); with one, until the schema changes, and a write also reads the
window's one row. docs/runtime.md has the measured overhead and the rules.
"""

from __future__ import annotations

from mig.runtime.errors import DatabaseNotFound, MigRuntimeError, NotReady, WritesBlocked
from mig.runtime.sqla import create_engine, install  # SQLAlchemy itself is imported on use
from mig.runtime.sqlite import Database, connect, wait_until_ready
from mig.runtime.watch import MigrationState, Role

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

