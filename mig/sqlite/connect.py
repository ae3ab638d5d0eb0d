"""The database boundary: how mig opens files and how sqlite3 errors become MigErrors.

Opening says its intent, and no open ever creates a file: a mistyped path
is an error, never a new empty database; only `migrate` creates the new
database, with permissions no looser than the old one (invariant 11).

Reading opens the file read-write when we may write it, yet never writes.
SQLite needs that to leave the files as it found them: a `mode=ro`
connection cannot roll back the hot journal a killed writer left in
rollback-journal mode (every read then fails), and in WAL mode it creates
`-wal`/`-shm` files it cannot remove, while a read-write connection that
closes last checkpoints and removes them. Writer connections attach the
old database `mode=ro`, so a copy or replay can never write it by mistake.
Every connection has a busy timeout so that mig waits politely behind the
old service's writes instead of failing.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import stat
import urllib.parse
from pathlib import Path
from typing import Iterator

from mig.bookkeeping import GUARD_TOKEN
from mig.errors import DatabaseBusy, DatabaseError, NotFound, WrongState

__all__ = [
    "open_ro",
    "litefs_primary",
    "refuse_replica",
    "open_rw",
    "attach_old",
    "create_db_file",
    "translate_errors",
    "reading",
    "BUSY_TIMEOUT_MS",
    "MIG_CACHE_SIZE",
    "mig_writer",
    "cache_sized",
    "failed_computing",
    "remove_db_files",
    "raise_interrupt_behind",
]

BUSY_TIMEOUT_MS = 10_000
# mig's connections' page cache (KiB; guards of migrations before 2026-12-07 let a
# write through only from a connection with this exact size, see mig_writer). About 8 MB: the copy appends in key order and replay walks keys in order, so a
# bigger cache bought nothing measurable (at 3M rows, copy 8.4-9.5 s with 31 MB,
# 8.7-9.6 s with 8 MB) and only made memory grow with the database until full.
MIG_CACHE_SIZE = -8039

def _uri(path: Path, mode: str) -> str:
    return "file:" + urllib.parse.quote(str(path.resolve())) + f"?mode={mode}"


def litefs_primary(path: Path) -> str | None:
    """The primary node's name when `path` is in a LiteFS mount on a replica: LiteFS puts a
    `.primary` file naming it in the mount of every replica, and none on the primary."""
    marker = path.parent / ".primary"
    try:
        return (marker.read_text().strip() or "(unnamed)") if marker.is_file() else None
    except OSError:
        return None


def refuse_replica(path: Path) -> None:
    """Refuse to write on a LiteFS replica, before anything is written: LiteFS takes writes on
    the primary only (a replica's SQLite fails them as read-only or as an I/O error)."""
    primary = litefs_primary(path)
    if primary is not None:
        raise WrongState(f"{path} is on a LiteFS replica (the mount's .primary names the primary node, "
                         f"{primary}); LiteFS takes writes only on the primary: run mig there, on {primary}")


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    if mode != "rwc" and not path.exists():
        raise NotFound(f"database {path} does not exist")
    if path.is_file() and not os.access(path, os.R_OK):
        raise DatabaseError(f"{path}: this user may not read it (permission denied); "
                            "run mig as a user who can read and write it")
    if mode == "ro" and _is_wal(path) and not Path(f"{path}-shm").exists():
        # SQLite would create -wal and -shm files it cannot remove, with the database's
        # permission bits, owned by this user: the service could then not open its own file.
        raise DatabaseError(f"{path}: this user cannot write this WAL database, and reading it "
                            f"would leave {path.name}-wal and {path.name}-shm files behind that its "
                            "service may not be able to write; run mig as a user who can write "
                            "the database and its directory (the service's user)")
    try:
        conn = sqlite3.connect(_uri(path, mode), uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fail now if not a database
    except sqlite3.DatabaseError as exc:
        raise _as_mig_error(str(path), exc) from exc
    return conn


def _is_wal(path: Path) -> bool:
    """The file header says WAL (bytes 18 and 19 are 2)."""
    try:
        with open(path, "rb") as f:
            header = f.read(20)
    except OSError:
        return False
    return len(header) == 20 and header[18] == 2 and header[19] == 2


def _read_mode(path: Path) -> str:
    """`rw` where we may write (see the module docstring), else a true `ro`."""
    writable = os.access(path, os.W_OK) and os.access(path.resolve().parent, os.W_OK)
    return "rw" if writable else "ro"


def open_ro(path: str | Path) -> sqlite3.Connection:
    """For reading only; never creates a file and never writes one."""
    p = Path(path)
    return _connect(p, _read_mode(p) if p.exists() else "ro")


def attach_old(conn: sqlite3.Connection, old_path: Path, reader: bool = False) -> None:
    """Attach the old database as `old`; `mode=ro` unless `conn` only ever reads."""
    if not old_path.exists():
        raise NotFound(f"database {old_path} does not exist")
    mode = _read_mode(old_path) if reader else "ro"
    conn.execute("ATTACH DATABASE ? AS old", (_uri(old_path, mode),))


def open_rw(path: str | Path) -> sqlite3.Connection:
    """Read-write on an existing file, for writing it; never creates one, nor writes on a
    LiteFS replica (a reader opens `rw` too, see _read_mode, and may read there)."""
    refuse_replica(Path(path))
    return _connect(Path(path), "rw")


def mig_writer(conn: sqlite3.Connection) -> sqlite3.Connection:
    """Mark a connection as mig's own, so the new database's guards let it write: it
    alone answers yes to their question (plan.statements.guard_trigger_sql).

    A migration an older mig started has guards that check the page-cache size
    instead: the connection takes the value they hold, and goes on with it.
    """
    conn.create_function("sqlite_compileoption_used", 1, _compile_option_used, deterministic=True)
    conn.execute(f"PRAGMA cache_size={_legacy_guard_identity(conn) or MIG_CACHE_SIZE}")
    conn.execute("PRAGMA foreign_keys=OFF")
    return conn


_BUILT_IN = sqlite3.connect(":memory:", check_same_thread=False)  # answers every other option


# A Ctrl-C (or SIGTERM) that arrives while SQLite runs mig's function above is raised
# inside it, and sqlite3 reports it as "user-defined function raised exception": the
# interrupt, kept here, is what the error really is (see interrupt_behind).
_INTERRUPTED: list[BaseException] = []


def _compile_option_used(name: object) -> int | None:
    try:
        if name == GUARD_TOKEN:
            return 1
        answer: int | None = _BUILT_IN.execute("SELECT sqlite_compileoption_used(?)", (name,)).fetchone()[0]
        return answer
    except BaseException as exc:  # a signal's exception: nothing else can fail here
        _INTERRUPTED[:] = [exc]
        raise


def raise_interrupt_behind(exc: sqlite3.Error) -> None:
    """Raise the Ctrl-C or SIGTERM that SQLite reported as a failure of mig's own function,
    so that an interrupted command says it was interrupted, not that a row is wrong."""
    if _INTERRUPTED and "user-defined function raised exception" in str(exc):
        interrupt = _INTERRUPTED.pop()
        if not isinstance(interrupt, Exception):
            raise interrupt from None


def _legacy_guard_identity(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT sql FROM main.sqlite_master WHERE type = 'trigger' "
                       "AND name LIKE '\\_mig\\_guard\\_%' ESCAPE '\\' LIMIT 1").fetchone()
    found = re.search(r"pragma_cache_size\) <> (-?\d+)", row[0]) if row and row[0] else None
    return int(found.group(1)) if found else None


# The page cache while an index is built. SQLite sizes CREATE INDEX's sort
# buffer by the cache, and a sort in small runs is faster here (measured at 1M
# rows: four indexes 1.9 s with a 31 MB cache, 1.0-1.5 s with 2 MB) and its
# memory no longer grows with the index until it reaches the cache's size.
INDEX_BUILD_CACHE_SIZE = -2000  # SQLite's default


@contextlib.contextmanager
def cache_sized(conn: sqlite3.Connection, size: int) -> Iterator[None]:
    """Run with another page cache for the new database, then be mig's writer again.

    Only for DDL and for writes to tables whose guards are lifted: on a migration
    an older mig started, its guards refuse a connection whose cache is not mig's.
    """
    mine = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size={size}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size={mine}")


def create_db_file(path: Path, like: Path) -> sqlite3.Connection:
    """Create `path` as an empty database, permissions no looser than `like`'s."""
    refuse_replica(path)
    mode = stat.S_IMODE(os.stat(like).st_mode) & 0o666
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    os.close(fd)
    os.chmod(path, mode)  # the umask may only have tightened it; keep it exactly
    with contextlib.suppress(OSError):
        st = os.stat(like)
        os.chown(path, st.st_uid, st.st_gid)
    return _connect(path, "rw")


@contextlib.contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Turn sqlite3 errors inside the block into MigErrors naming `what`."""
    try:
        yield
    except sqlite3.Error as exc:
        raise_interrupt_behind(exc)
        raise _as_mig_error(what, exc) from exc


@contextlib.contextmanager
def reading(path: Path, what: str | None = None) -> Iterator[sqlite3.Connection]:
    """A read-only connection to `path` for the block, closed after it; sqlite3 errors
    become MigErrors naming `what` (by default, reading the file)."""
    with translate_errors(what or f"reading {path}"):
        conn = open_ro(path)
        try:
            yield conn
        finally:
            conn.close()


def _as_mig_error(what: str, exc: sqlite3.Error) -> DatabaseError | DatabaseBusy:
    """The MigError for a sqlite3 error while doing `what`; a lock says what to do about it."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        # Not "for 10 s": SQLite gives up at once where waiting could not help.
        return DatabaseBusy(f"{what}: another connection holds the database locked ({text}; "
                            f"mig waits up to {BUSY_TIMEOUT_MS // 1000} s); retry when the "
                            "long-running writer is done")
    return DatabaseError(f"{what}: {text}")


def failed_computing(exc: sqlite3.Error) -> bool:
    """An error SQLite raised computing a value (`malformed JSON`, an overflow, a
    function's own error) rather than one about the database (locks, I/O, a full disk,
    a missing table): the answer about the data, not a reason to retry."""
    raise_interrupt_behind(exc)  # mig's own function was interrupted: no answer about the data
    text = str(exc).lower()
    about_the_database = ("locked", "busy", "disk", "i/o", "readonly", "full", "no such table",
                          "no such column", "interrupted", "malformed database", "not a database")
    return isinstance(exc, sqlite3.OperationalError) and not any(w in text for w in about_the_database)


def remove_db_files(path: Path) -> bool:
    """Remove a database and its journal, WAL and shared-memory files; whether it existed."""
    existed = path.exists()
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(str(path) + suffix)
    return existed
