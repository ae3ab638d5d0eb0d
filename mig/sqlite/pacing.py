"""How mig's reads and writes keep out of the old service's way (invariant 9), in one place.

The old database is read in short pieces, each sized to hold it for about
a target time (`paced`): the copy's chunks, the plan's checks, drain's
catch-up batches, with a moment between two reads for its writers
(`let_writers_in`). The new database is flushed to disk as it grows
(`WriteBack`), so the old service's own fsync never waits behind a burst of
mig's dirty pages. Every figure here was measured; the comments say where.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Callable

__all__ = ["WRITER_GAP_S", "let_writers_in", "READ_TARGET_S", "paced", "WriteBack", "CHECK_CHUNK_ROWS",
           "CHECK_TARGET_S", "Pace", "CATCH_UP_TARGET_S", "CATCH_UP_PAGES", "CATCH_UP_FIRST", "WRITE_SAMPLE_S",
           "Sizer", "fixed", "adaptive", "page_paced"]

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


# ---------------------------------------------------------------- the plan's checks

CHECK_CHUNK_ROWS = 20_000  # the first range of a check; later ones are paced to CHECK_TARGET_S
# Longer than the copy's chunks: between two reads the old service's commits
# make SQLite drop mig's page cache of the old database, and a check re-reads
# what its lookups need. Measured at 10M rows, rollback journal, a writer
# running: 20k-row ranges of an FK check took 110-180 ms and stalled the
# writer up to 184 ms; paced to 40 ms, 145 ms, but the plan took twice as
# long. 80 ms is the middle, bounding a costly check without that price.
CHECK_TARGET_S = 0.08


class Pace:
    """Rows per range of a check, so that each read holds the old database about
    CHECK_TARGET_S: a lookup into a big parent table per row (a foreign key)
    makes 20k rows take 100+ ms at 10M rows, a plain scan of them a few ms."""

    def __init__(self) -> None:
        self.rows = CHECK_CHUNK_ROWS
        self._started = time.monotonic()

    def start(self) -> None:
        self._started = time.monotonic()

    def done(self) -> None:
        self.rows = paced(self.rows, time.monotonic() - self._started, CHECK_TARGET_S, 100, 200_000)


# ---------------------------------------------------------------- drain's catch-up

# Catching up while the old service writes: in rollback-journal mode each
# batch's read lock on the old database holds its writers back, so batches are
# sized to about CATCH_UP_TARGET_S (WAL mode: see CATCH_UP_PAGES); the
# catch-up stops once CATCH_UP_TAIL entries or fewer are left, or when a
# round no longer gains on the writers.
CATCH_UP_TARGET_S = 0.05
# In WAL mode readers never block writers, but a batch's commit and checkpoint
# write every page it touched, and the old service's fsync waits behind that
# burst on a shared disk: at 10M rows, a writer at ~470 commits/s waited up to
# 1.1 s behind one full-size catch-up batch (5M entries, 1.2 GB of pages), and
# 650-750 ms behind batches of ~57k entries. So when the old service is seen
# writing (its log grew during WRITE_SAMPLE_S), catch-up batches are sized to
# write about CATCH_UP_PAGES pages of the new database each (32 MB at 4 KB
# pages), starting from CATCH_UP_FIRST entries: the catch-up takes longer, the
# service does not wait. With no writer, one batch still takes the whole log.
CATCH_UP_PAGES = 8_192
CATCH_UP_FIRST = 2_000
WRITE_SAMPLE_S = 0.2


# (last batch size, its seconds, pages it wrote to the new WAL or -1) -> next batch size
Sizer = Callable[[int, float, int], int]


def fixed(batch: int) -> Sizer:
    return lambda size, elapsed, pages: batch


def adaptive(batch: int) -> Sizer:
    """Keep each catch-up batch near CATCH_UP_TARGET_S of holding the old database."""
    return lambda size, elapsed, pages: paced(size, elapsed, CATCH_UP_TARGET_S, 200, batch)


def page_paced(batch: int) -> Sizer:
    """Keep the pages each catch-up batch writes near CATCH_UP_PAGES: the size that
    would have written that many at the last batch's pages per entry, at most
    twice or half the last size at a time."""
    def size_next(size: int, elapsed: float, pages: int) -> int:
        wanted = size * 2 if pages <= 0 else size * CATCH_UP_PAGES // pages
        return max(200, min(batch, size * 2, max(size // 2, wanted)))
    return size_next
