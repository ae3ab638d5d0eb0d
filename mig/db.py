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
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Iterator

from mig.errors import DatabaseBusy, DatabaseError, NotFound

__all__ = [
    "open_ro",
    "open_rw",
    "attach_old",
    "create_db_file",
    "translate_errors",
    "BUSY_TIMEOUT_MS",
    "MIG_CACHE_SIZE",
    "mig_writer",
    "cache_sized",
    "failed_computing",
    "WriteBack",
    "let_writers_in",
    "paced",
    "READ_TARGET_S",
]

BUSY_TIMEOUT_MS = 10_000
# mig's connections' page cache (KiB; guards of migrations before 2026-12-07 let a
# write through only from a connection with this exact size, see mig_writer). About 8 MB: the copy appends in key order and replay walks keys in order, so a
# bigger cache bought nothing measurable (at 3M rows, copy 8.4-9.5 s with 31 MB,
# 8.7-9.6 s with 8 MB) and only made memory grow with the database until full.
MIG_CACHE_SIZE = -8039

def _uri(path: Path, mode: str) -> str:
    return "file:" + urllib.parse.quote(str(path.resolve())) + f"?mode={mode}"


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
    """Read-write on an existing file; never creates one."""
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


def _compile_option_used(name: object) -> int | None:
    from mig.plan.statements import GUARD_TOKEN

    if name == GUARD_TOKEN:
        return 1
    answer: int | None = _BUILT_IN.execute("SELECT sqlite_compileoption_used(?)", (name,)).fetchone()[0]
    return answer


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
        raise _as_mig_error(what, exc) from exc


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
    text = str(exc).lower()
    about_the_database = ("locked", "busy", "disk", "i/o", "readonly", "full", "no such table",
                          "no such column", "interrupted", "malformed database", "not a database")
    return isinstance(exc, sqlite3.OperationalError) and not any(w in text for w in about_the_database)


WRITER_GAP_S = 0.002


def let_writers_in() -> None:
    """Leave the old database alone for a moment between two of mig's short reads.

    Back to back, short reads (the plan's checks, verify, drain's catch-up)
    still keep a reader on the old database at every instant: in WAL mode its writers can then never reset the WAL and their
    checkpoints grow, in rollback mode a writer waits for a moment with no
    reader. Measured at 10M rows in WAL mode: a loop of 20k-row reads stalled a
    writer's commit up to 340 ms; with a 1-2 ms gap between reads, 75-85 ms.
    """
    time.sleep(WRITER_GAP_S)


# One of mig's reads or copy chunks of the old database aims at holding it this long.
# In rollback-journal mode a writer's commit waits for the chunk that holds the old
# database, then for its busy handler's next wake-up (SQLite's sleeps grow to 25-50 ms
# after 50 ms of waiting): with chunks kept between 20 and 80 ms, the worst commit at
# 10M rows was 145-215 ms over several runs (target 200); at 0.03, 15-60 ms.
READ_TARGET_S = 0.03


def paced(size: int, elapsed: float, target_s: float, lo: int, hi: int) -> int:
    """The next chunk's size, so that a chunk takes about `target_s`: doubled after
    one that took under half of it, halved after one that took over twice, within
    [lo, hi]. How mig's reads and copies of the old database stay short (invariant 9)."""
    if elapsed < target_s / 2:
        return max(size, min(hi, size * 2))
    if elapsed > target_s * 2:
        return max(lo, size // 2)
    return size


class WriteBack:
    """Flush the new database to disk every FLUSH_BYTES it grows, from a thread of mig's own.

    The bulk copy writes with `synchronous=OFF`, so gigabytes of dirty pages
    pile up in the OS and are written back in bursts; the old service's own
    fsync at commit then waits behind a burst (measured on this machine: a
    WAL writer stalled 510 ms behind 3 GB of unsynced writes, 110-150 ms when
    the writes were flushed every 16-64 MB). A single CREATE INDEX writes
    hundreds of MB in one statement, so the flushing runs beside it, in a
    thread (sqlite3 releases the GIL while a statement runs). Used as a
    context manager around the copy and the index build (invariant 9).

    The index build's sort spills to SQLite's temporary files, which are
    deleted when opened and so have no name to open: on Linux they are
    found among this process's open files and flushed the same way
    (measured at 10M rows with a 2 MB sort buffer: a WAL writer stalled 266
    ms behind them unflushed).
    """

    FLUSH_BYTES = 32 << 20
    POLL_S = 0.05

    def __init__(self, path: Path) -> None:
        self.files = [path, Path(str(path) + "-wal")]
        self.last = self._size()
        self.temp_last: dict[tuple[int, int], int] = {}  # (fd, inode) of a temp file -> size at last flush
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mig-writeback", daemon=True)

    def __enter__(self) -> "WriteBack":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._flush()  # the last < FLUSH_BYTES too, or the OS writes them back in one burst later

    def _size(self) -> int:
        return sum(f.stat().st_size for f in self.files if f.exists())

    def _run(self) -> None:
        while not self._stop.wait(self.POLL_S):
            size = self._size()
            if abs(size - self.last) >= self.FLUSH_BYTES:
                self._flush()
                self.last = size
            self._flush_temp_files()

    def _flush_temp_files(self) -> None:
        sizes = _sqlite_temp_files()
        for (fd, ino), size in sizes.items():
            if abs(size - self.temp_last.get((fd, ino), 0)) >= self.FLUSH_BYTES:
                with contextlib.suppress(OSError):  # closed meanwhile: nothing left to flush
                    if os.fstat(fd).st_ino == ino:  # not a number reused by another file since
                        os.fsync(fd)
                self.temp_last[(fd, ino)] = size
        self.temp_last = {k: self.temp_last.get(k, 0) for k in sizes}

    def _flush(self) -> None:
        # Our own files only: a global sync() would also make mig wait for
        # whatever else on the machine has dirty pages.
        for f in self.files:
            with contextlib.suppress(OSError):
                fd = os.open(f, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)


def _sqlite_temp_files() -> dict[tuple[int, int], int]:
    """This process's open SQLite temporary files (named `etilqs_*`), (fd, inode) -> size;
    empty where /proc is not there."""
    found: dict[tuple[int, int], int] = {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError, ValueError):
                if "etilqs_" in os.readlink(f"/proc/self/fd/{name}"):
                    st = os.fstat(int(name))
                    found[(int(name), st.st_ino)] = st.st_size
    return found
