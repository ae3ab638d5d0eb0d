"""What a connection knows about its file's migration, the checks, and the one way files are opened.

Shared by the sqlite3 front (`mig.runtime.sqlite`) and the SQLAlchemy one
(`mig.runtime.sqla`). The process-wide draining memory lives here: once any
connection of this process sees `draining` -- a read, a write, a `state()`
call or a capture trigger's refusal -- writes to that file are refused until
the file itself says how the migration went on:

- after `mig revert` the marker is `recording` again (so it is after `mig
  abort` and a new `mig migrate`): the old database is the live one, writes go on;
- after `mig abort` the new file it drained into is gone: writes go on;
- after `mig cleanup-old` (the marker gone, the new database still there)
  nothing in the old database refuses writes any more, and a write there would
  never reach the new one: the file is retired for the rest of the process's life.

The new database's side: from cutover to cleanup-old a reversible change leaves
it a revert window (`_migration_revert`); while that says `reverting` its writes
are refused (WritesBlocked naming the old database), its reads go on, and once
the revert is done it is `migrating` again (NotReady) until the next cutover.
"""

from __future__ import annotations

import os
import re
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mig.bookkeeping import DRAINING_MESSAGE, MIGRATING_MESSAGE, REVERTED_AT, REVERTING_MESSAGE
from mig.runtime.errors import DatabaseNotFound, MigRuntimeError, NotReady, WritesBlocked

__all__ = ["Role", "ROLES", "DRAINED", "RETIRED", "MigrationState", "Watch", "Pending", "check_role",
           "require_file", "open_file", "translate", "is_write_sql"]

Role = Literal["old", "new", "auto"]
ROLES = ("old", "new", "auto")

# The files this process saw draining (real path -> the new database's path).
# Per process, not per connection: a pooled connection that only read during
# drain, or one opened after cleanup-old, must refuse writes all the same.
DRAINED: dict[str, str | None] = {}
# Of those, the ones whose marker was seen gone while their new database still exists
# (cleanup-old after cutover): retired for good.
RETIRED: set[str] = set()

# What wait_until_ready still waits for: (migrating | reverted (migrating again after a
# revert) | reverting | draining, the other database's path when known).
Pending = tuple[str, "str | None"]

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
    # the new side's revert window: open | reverting (after cutover) | reverted (migrating
    # again after `mig revert`) | None (none: not cut over, cleanup-old closed it, or the
    # change cannot be reverted)
    revert: str | None = None


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


def _read_row(real_path: str, table: str, sql: str) -> tuple[str, str] | None:
    """One (text, text) row of a mig table in another file, read on a connection of its own;
    None when there is no such file, table or row. Raises sqlite3.Error when the file
    cannot be read now (busy, not a database)."""
    if not os.path.exists(real_path):
        return None
    conn = sqlite3.connect(_uri(Path(real_path), readonly=True), uri=True)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (table,)).fetchone() is None:
            return None
        row = conn.execute(sql).fetchone()
    finally:
        conn.close()
    return (row[0], row[1]) if row else None


def _marker_of(real_path: str) -> tuple[str, str] | None:
    """(status, new_path) of a file's marker."""
    try:
        return _read_row(real_path, "_migration_marker", "SELECT status, new_path FROM _migration_marker")
    except sqlite3.Error:
        return None


def _window_of(real_path: str) -> tuple[str, str] | None:
    """(status, old_path) of a new database's revert window; raises sqlite3.Error."""
    return _read_row(real_path, "_migration_revert", "SELECT status, old_path FROM _migration_revert")


def _status_of(real_path: str) -> str | None:
    """A new database's `_migration_status.status`; raises sqlite3.Error."""
    row = _read_row(real_path, "_migration_status", "SELECT status, old_path FROM _migration_status")
    return row[0] if row else None


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
    if REVERTING_MESSAGE in str(exc):
        try:
            window = _window_of(real_path) if real_path else None
        except sqlite3.Error:
            window = None
        return WritesBlocked(label, reverted=True, old_path=window[1] if window else None)
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
        self._has_marker = self._has_status = self._has_window = self._has_progress = False
        # `ready` seen since the schema last changed. Only a revert takes a database from
        # `ready` back to `migrating`, and it changes the schema as it does (the window
        # dropped, the guards made): the status is read again after each schema change.
        self._ready = False
        # `ready` with no revert window: that is one-way, the status is never read again
        # (a window is made in cutover's own transaction, and only ever removed).
        self._one_way = False

    def _refresh(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA schema_version").fetchone()[0]
        if version == self._schema_version:
            return
        names = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN "
            "('_migration_marker', '_migration_status', '_migration_revert', '_migration_progress')")}
        self._has_marker = "_migration_marker" in names
        self._has_status = "_migration_status" in names
        self._has_window = "_migration_revert" in names
        self._has_progress = "_migration_progress" in names
        self._schema_version = version
        self._ready = False

    def check(self, conn: sqlite3.Connection, write: bool) -> None:
        """Run first thing inside a transaction; raise NotReady or WritesBlocked."""
        self.write_checked = write
        need_status = self.check_status and not self._one_way
        need_marker = self.check_marker or (write and self.key in DRAINED)
        if not (need_status or need_marker):
            return
        self._refresh(conn)
        if need_status and self._has_status:
            self._check_status(conn, write)
        if need_marker:
            self._check_marker(conn, write)

    def _check_status(self, conn: sqlite3.Connection, write: bool) -> None:
        """NotReady while migrating. After cutover, while the revert window is there, a
        write reads it (one row): refused once a revert is under way."""
        if not self._ready:
            # one statement: `ready` and the window's absence are one snapshot
            row = conn.execute("SELECT status, EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' "
                               "AND name = '_migration_revert') FROM _migration_status").fetchone()
            if row is None:
                return
            if row[0] == "migrating":
                raise NotReady(self.label, reverted=self._reverted_before(conn))
            self._ready = True
            self._one_way = not row[1]
        if write and self._has_window:
            self._check_window(conn)

    def _check_window(self, conn: sqlite3.Connection) -> None:
        row = conn.execute("SELECT status, old_path FROM _migration_revert").fetchone()
        if row is not None and row[0] != "open":
            raise WritesBlocked(self.label, reverted=True, old_path=row[1])

    def check_late_write(self, conn: sqlite3.Connection) -> None:
        """A write in a transaction that began as a read. The marker may already be stale
        here (no write lock yet); the capture trigger is the backstop and is mapped too."""
        self.write_checked = True
        self._refresh(conn)
        if self.check_status and self._has_window:
            self._check_window(conn)
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
                DRAINED.pop(self.key, None)  # recording again: reverted, or aborted and migrated anew
        if write and self.key in DRAINED and self._retired():
            raise WritesBlocked(self.label, DRAINED[self.key], retired=True)

    def _retired(self) -> bool:
        """Whether a file this process saw draining, whose marker is now gone (or is back
        after the file was retired), is retired. Not if `mig abort` deleted the new database
        it drained into: live again, and forgotten. Otherwise it was cleanup-old after
        cutover: a write here would never be replayed, and the file is retired for good."""
        if self.key not in RETIRED and _new_is_gone(DRAINED[self.key]):
            DRAINED.pop(self.key)
            return False
        RETIRED.add(self.key)
        return True

    def _saw_draining(self, new_path: str | None) -> None:
        if self.key:
            DRAINED[self.key] = new_path

    def state(self, conn: sqlite3.Connection) -> MigrationState:
        self._refresh(conn)
        marker = status = window = None
        if self._has_marker:
            row = conn.execute("SELECT status, new_path FROM _migration_marker").fetchone()
            marker = row[0] if row else None
            if marker == "draining":
                self._saw_draining(row[1])
        if self._has_status:
            row = conn.execute("SELECT status FROM _migration_status").fetchone()
            status = row[0] if row else None
        if self._has_window:
            row = conn.execute("SELECT status FROM _migration_revert").fetchone()
            window = row[0] if row else None
        elif status == "migrating" and self._reverted_before(conn):
            window = "reverted"
        return MigrationState(marker, status, window)

    def _reverted_before(self, conn: sqlite3.Connection) -> bool:
        """A migrating new database that `mig revert` took back (it left REVERTED_AT)."""
        return self._has_progress and conn.execute(
            "SELECT 1 FROM _migration_progress WHERE key = ?", (REVERTED_AT,)).fetchone() is not None

    def pending(self, conn: sqlite3.Connection) -> Pending | None:
        """For wait_until_ready, in either direction: what keeps this database from taking
        reads and writes now (None: nothing). Raises WritesBlocked when it never takes
        writes again: an old database retired by a migration this process saw drain, or
        one draining into a database that was cut over with no revert window."""
        self._refresh(conn)
        if self._has_status:
            row = conn.execute("SELECT status FROM _migration_status").fetchone()
            if row is not None and row[0] == "migrating":
                return ("reverted" if self._reverted_before(conn) else "migrating", None)
            window = conn.execute("SELECT status, old_path FROM _migration_revert").fetchone() \
                if self._has_window else None
            if window is not None and window[0] != "open":
                return ("reverting", window[1])
        if self._has_marker:
            row = conn.execute("SELECT status, new_path FROM _migration_marker").fetchone()
            if row is not None and row[0] == "draining":
                self._saw_draining(row[1])
                if _cut_over_for_good(row[1]):
                    raise WritesBlocked(self.label, row[1], retired=True)
                return ("draining", row[1])
            if row is not None and self.key not in RETIRED:
                DRAINED.pop(self.key, None)
        if self.key in DRAINED and self._retired():
            raise WritesBlocked(self.label, DRAINED[self.key], retired=True)
        return None

    def translate(self, exc: BaseException) -> MigRuntimeError | None:
        return translate(exc, self.label, self.key)


def _cut_over_for_good(new_path: str | None) -> bool:
    """Whether the database an old one drains into is cut over with no revert window:
    nothing but cleanup-old (which retires the old one) can happen to the pair then."""
    if not new_path or _new_is_gone(new_path):
        return False
    try:
        return _status_of(new_path) == "ready" and _window_of(new_path) is None
    except sqlite3.Error:
        return False
