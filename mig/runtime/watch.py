"""What a connection knows about its file's migration, the checks, and the one way files are opened.

Shared by the sqlite3 front (`mig.runtime.sqlite`) and the SQLAlchemy one
(`mig.runtime.sqla`). The process-wide draining memory lives here: once any
connection of this process sees `draining` -- a read, a write, a `state()`
call or a capture trigger's refusal -- writes to that file are refused for
the rest of the process's life. After `mig cleanup-old` nothing in the old
database refuses them any more, and a write there would never reach the new
one. After `mig abort` the old database is the live one again: the new file
it drained into is gone, or a new migration is recording, and writes go on.
"""

from __future__ import annotations

import os
import re
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mig.bookkeeping import DRAINING_MESSAGE, MIGRATING_MESSAGE
from mig.runtime.errors import DatabaseNotFound, MigRuntimeError, NotReady, WritesBlocked

__all__ = ["Role", "ROLES", "DRAINED", "RETIRED", "MigrationState", "Watch", "check_role", "require_file",
           "open_file", "translate", "is_write_sql"]

Role = Literal["old", "new", "auto"]
ROLES = ("old", "new", "auto")

# The files this process saw draining (real path -> the new database's path).
# Per process, not per connection: a pooled connection that only read during
# drain, or one opened after cleanup-old, must refuse writes all the same.
DRAINED: dict[str, str | None] = {}
# Of those, the ones whose new database was seen cut over: retired for good.
RETIRED: set[str] = set()


_WRITE_WORDS = {"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"}
_WRITE_IN_WITH = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)


def is_write_sql(statement: str) -> bool:
    """Whether a statement writes, by its first word (a WITH by the words in it): the one
    rule the SQLAlchemy and Django fronts share."""
    match = re.match(r"\s*(\w+)", statement)
    word = match.group(1).upper() if match else ""
    if word == "WITH":
        return bool(_WRITE_IN_WITH.search(statement))
    return word in _WRITE_WORDS


def _new_is_gone(new_path: str | None) -> bool:
    """The migration was aborted: the new database it drained into no longer exists."""
    return new_path is not None and not os.path.exists(new_path)


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


@dataclass(frozen=True)
class MigrationState:
    marker: str | None  # the old side: recording | draining | None (no migration)
    migration_status: str | None  # the new side: migrating | ready | None (not a mig target)


def require_file(path: Path) -> None:
    if path.is_dir():
        raise DatabaseNotFound(path, "is a directory, not a database file")
    if not path.exists():
        raise DatabaseNotFound(path)


def _uri(path: Path, readonly: bool) -> str:
    # quote() escapes `?`, `#` and `%`, which would otherwise end or mangle the path
    return "file:" + urllib.parse.quote(str(path.resolve())) + ("?mode=ro" if readonly else "?mode=rw")


def open_file(path: Path, readonly: bool, timeout: float, check_same_thread: bool) -> sqlite3.Connection:
    """The one way this module opens a file: `mode=rw` or `mode=ro`, so never a new file."""
    require_file(path)
    try:
        return sqlite3.connect(_uri(path, readonly), uri=True, timeout=timeout,
                               isolation_level=None, check_same_thread=check_same_thread)
    except sqlite3.OperationalError as exc:  # removed between the check and the open
        raise DatabaseNotFound(path) from exc


def _real_path(conn: sqlite3.Connection) -> str:
    """The file SQLite opened, symlinks resolved: the key of the draining memory."""
    for _, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return os.path.realpath(file) if file else ""
    return ""  # pragma: no cover - every connection has a main database


def _marker_of(real_path: str) -> tuple[str, str] | None:
    """(status, new_path) of a file's marker, read on a connection of its own."""
    try:
        conn = sqlite3.connect(_uri(Path(real_path), readonly=True), uri=True)
        try:
            row = conn.execute("SELECT status, new_path FROM _migration_marker").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return (row[0], row[1]) if row else None


def translate(exc: BaseException, label: str, real_path: str) -> MigRuntimeError | None:
    """The guard and capture triggers' RAISE texts, as typed errors."""
    if not isinstance(exc, sqlite3.IntegrityError):
        return None
    if DRAINING_MESSAGE in str(exc):
        marker = _marker_of(real_path) if real_path else None
        new_path = marker[1] if marker else DRAINED.get(real_path)
        if real_path:
            DRAINED[real_path] = new_path
        return WritesBlocked(label, new_path)
    if MIGRATING_MESSAGE in str(exc):
        return NotReady(label)
    return None


class Watch:
    """What one connection knows about its database's migration state, and the checks."""

    def __init__(self, conn: sqlite3.Connection, label: str, role: Role) -> None:
        check_role(role)
        self.key = _real_path(conn)
        self.label = label or self.key
        self.check_marker = role in ("old", "auto")
        self.check_status = role in ("new", "auto")
        self.write_checked = False  # this transaction's marker check is done
        self._schema_version: int | None = None
        self._has_marker = self._has_status = False
        self._ready = False  # cutover is one-way: once seen, never read again

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
        need_marker = self.check_marker or (write and self.key in DRAINED)
        if not (need_status or need_marker):
            return
        self._refresh(conn)
        if need_status and self._has_status:
            row = conn.execute("SELECT status FROM _migration_status").fetchone()
            if row is not None and row[0] == "migrating":
                raise NotReady(self.label)
            self._ready = row is not None
        if need_marker:
            self._check_marker(conn, write)

    def check_late_write(self, conn: sqlite3.Connection) -> None:
        """A write in a transaction that began as a read. The marker may already be stale
        here (no write lock yet); the capture trigger is the backstop and is mapped too."""
        self.write_checked = True
        self._refresh(conn)
        self._check_marker(conn, write=True)

    def _check_marker(self, conn: sqlite3.Connection, write: bool) -> None:
        if self._has_marker:
            row = conn.execute("SELECT status, new_path FROM _migration_marker").fetchone()
            if row is not None and row[0] == "draining":
                self._saw_draining(row[1])
                if write:
                    raise WritesBlocked(self.label, row[1])
                return
            if row is not None and self.key not in RETIRED:
                DRAINED.pop(self.key, None)  # recording again: aborted, then migrated anew
        if write and self.key in DRAINED:
            if self.key not in RETIRED and _new_is_gone(DRAINED[self.key]):
                DRAINED.pop(self.key)  # aborted: the old database is the live one again
                return
            # cleanup-old after cutover: this process saw the file drain, and a
            # write here would never be replayed.
            RETIRED.add(self.key)
            raise WritesBlocked(self.label, DRAINED[self.key], retired=True)

    def _saw_draining(self, new_path: str | None) -> None:
        if self.key:
            DRAINED[self.key] = new_path

    def state(self, conn: sqlite3.Connection) -> MigrationState:
        self._refresh(conn)
        marker = status = None
        if self._has_marker:
            row = conn.execute("SELECT status, new_path FROM _migration_marker").fetchone()
            marker = row[0] if row else None
            if marker == "draining":
                self._saw_draining(row[1])
        if self._has_status:
            row = conn.execute("SELECT status FROM _migration_status").fetchone()
            status = row[0] if row else None
        return MigrationState(marker, status)

    def translate(self, exc: BaseException) -> MigRuntimeError | None:
        return translate(exc, self.label, self.key)
