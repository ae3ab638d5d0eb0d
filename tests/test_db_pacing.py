"""The small pacing mechanisms: how chunks and drain's catch-up batches are sized, which files WriteBack flushes."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from mig.phases.common import replay
from mig.sqlite import pacing
from mig.sqlite.connect import INDEX_BUILD_CACHE_SIZE, MIG_CACHE_SIZE, cache_sized
from mig.sqlite.pacing import _sqlite_temp_files, paced


@pytest.mark.parametrize(("size", "elapsed", "expected"), [
    (1000, 0.001, 2000),     # well under half the target: double
    (1000, 0.03, 1000),      # near the target: keep
    (1000, 0.5, 500),        # over twice the target: halve
    (150, 0.5, 100),         # never below lo
    (150_000, 0.001, 200_000),  # never above hi
    (7, 0.001, 14),          # a size below lo still only doubles (tests start ranges tiny)
])
def test_paced_aims_each_chunk_at_its_target(size: int, elapsed: float, expected: int) -> None:
    assert paced(size, elapsed, 0.04, 100, 200_000) == expected


def test_cache_sized_gives_back_the_cache_the_guards_know(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.sqlite", isolation_level=None)
    conn.execute(f"PRAGMA cache_size={MIG_CACHE_SIZE}")
    with pytest.raises(ZeroDivisionError), cache_sized(conn, INDEX_BUILD_CACHE_SIZE):
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == INDEX_BUILD_CACHE_SIZE
        raise ZeroDivisionError  # restored even when the statement fails
    assert conn.execute("PRAGMA cache_size").fetchone()[0] == MIG_CACHE_SIZE


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="finding temp files needs /proc")
def test_sqlite_temp_files_of_this_process_are_found(tmp_path: Path) -> None:
    """SQLite deletes its temporary files as it opens them; WriteBack finds them by fd."""
    conn = sqlite3.connect(tmp_path / "x.sqlite", isolation_level=None)
    conn.execute("PRAGMA temp_store=FILE")
    conn.execute("PRAGMA temp.cache_size=-64")  # 64 KiB: the temp database spills to its file
    conn.execute("CREATE TEMP TABLE spill AS WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
                 "SELECT i + 1 FROM c WHERE i < 4000) SELECT i, randomblob(500) AS b FROM c")
    found = _sqlite_temp_files()
    assert any(size > 1_000_000 for size in found.values()), found
    conn.close()
    assert not set(_sqlite_temp_files()) & set(found)  # closed with the connection


PAGES = pacing.CATCH_UP_PAGES


@pytest.mark.parametrize(("size", "pages", "expected"), [
    (10_000, PAGES, 10_000),             # wrote what it may: keep
    (10_000, PAGES * 5 // 4, 8_000),     # a quarter more: a fifth fewer entries
    (10_000, PAGES * 4, 5_000),          # four times as many: at most halve
    (10_000, PAGES // 8, 20_000),        # far fewer: at most double
    (10_000, -1, 20_000),                # no WAL to count: double
    (600_000, 1, 1_000_000),             # never above the full batch
    (300, PAGES * 10, 200),              # never below 200
])
def test_a_catch_up_batch_beside_a_writer_writes_a_bounded_number_of_pages(size: int, pages: int,
                                                                          expected: int) -> None:
    assert pacing.page_paced(1_000_000)(size, 1.0, pages) == expected


def _attached_log(tmp_path: Path) -> sqlite3.Connection:
    setup = sqlite3.connect(tmp_path / "old.sqlite", isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE _migration_log (seq INTEGER PRIMARY KEY, tbl TEXT)")
    setup.close()
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("ATTACH DATABASE ? AS old", (str(tmp_path / "old.sqlite"),))
    return conn


def test_a_quiet_old_service_is_not_taken_for_a_writer(tmp_path: Path) -> None:
    assert not replay.old_service_writes(_attached_log(tmp_path))


def test_an_old_service_that_writes_is_seen_writing(tmp_path: Path) -> None:
    conn = _attached_log(tmp_path)
    stop = threading.Event()

    def write() -> None:
        w = sqlite3.connect(tmp_path / "old.sqlite", isolation_level=None)
        while not stop.wait(0.01):
            w.execute("INSERT INTO _migration_log (tbl) VALUES ('t')")
        w.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert replay.old_service_writes(conn)
    finally:
        stop.set()
        writer.join()
