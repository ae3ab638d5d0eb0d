"""Replaying the old database's log into the new one: shared by drain (and, for the
other direction, revert).

Replay walks the log in batches; each batch and its checkpoint commit in one
transaction on the new database, and replaying a batch twice gives the same
rows, so a killed replay simply runs again (invariant 5). Catch-up replays
while the old service still writes, in batches paced so that it does not
wait (mig.sqlite.pacing), until only a tail is left.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from mig.bookkeeping import guard_trigger_names
from mig.phases.common.consistency import displaced
from mig.phases.common.safeguards import Progress, guards_lifted
from mig.phases.common.state import checkpoint, log_max, refuse
from mig.plan.ops import Plan
from mig.plan.statements import GONE_OPS, Replay, replay_sql
from mig.sql.text import quote_ident as q
from mig.sqlite.connect import cache_sized
from mig.sqlite.pacing import CATCH_UP_FIRST, WRITE_SAMPLE_S, Sizer, adaptive, fixed, let_writers_in, page_paced

__all__ = ["Replayer", "BATCH", "REPLAY_CACHE_KIB", "CATCH_UP_TAIL", "CATCH_UP_ROUNDS", "GUARDED_BATCH",
           "batch_size", "catch_up_pace", "catch_up", "replay", "apply_batch", "in_wal", "old_service_writes",
           "carry_counter", "commit_unsynced"]

# Large batches let replay walk each table in key order, nearly sequentially,
# and write each page it touches once per batch: a log dense in one table's
# rows rewrites most of its pages in every batch (measured at 1M rows, 523k
# entries: 35k entries/s at 20k per batch, 92k/s at 250k, 125k/s in one
# batch). So a batch holds BATCH entries, or as many as migrate copied rows
# when that is more (see _batch_size). A killed drain redoes at most one
# batch; the new database's WAL holds at most one batch's pages, so never
# more than the database itself.
BATCH = 1_000_000
# Each database's page cache while replaying (KiB). The old one: each table's
# key gathering and its delete read the batch's log entries, and SQLite's
# default 2 MB for an attached database held a fraction of them (measured at
# 1M rows, 523k entries: 3.4-4.0 s -> 3.2-3.7 s; 64 MB no faster). The new
# one: with mig's 8 MB, pages an insert touches (its indexes') were written to
# the WAL, dropped and read back (pwrite+pread 357k -> 308k; `mig drain` over 8
# runs each: median 3.37 -> 3.29 s, best 3.26 -> 2.89 s). The temporary one:
# a batch's keys of one table are a b-tree (2.2M keys at 10M rows), and with
# SQLite's 2 MB its random inserts went out to the temp file and back (10M
# rows, 5M entries in one batch: 48.6 s -> 40.1-43.7 s). Flat: none grows with
# the log; drain's peak RSS 115 MB at 10M rows.
REPLAY_CACHE_KIB = 32_768
CATCH_UP_TAIL = 2_000
CATCH_UP_ROUNDS = 10
# A batch this small (the window's tail, the checks' short catch-ups) is replayed with the
# new database's guards in place: a guard's check per row costs less than dropping and
# re-creating three triggers per table (the tail is ~100 entries over a few tables), and
# the tail then changes no schema, so nothing is prepared again inside the window.
GUARDED_BATCH = 1_000


@dataclass
class Replayer:
    """One replay's connection (the new database, the old one attached) and its pace."""

    conn: sqlite3.Connection
    plan: Plan
    batch: int  # entries per batch (batch_size)
    pace: tuple[Sizer, int] | None = None  # how catch-up sizes its batches, sampled once
    seconds: float = 0.0  # in replay batches, outside the truth checks
    guards: Callable[[str], list[str]] = guard_trigger_names  # a target table's guard triggers
    refusal: str = "logged_refused_early"  # the REFUSALS text for a row a batch would push out


def batch_size(conn: sqlite3.Connection) -> int:
    """BATCH, or the rows migrate copied when more: a batch of 1M random keys in a
    10M-row database still touches most pages of the tables it writes."""
    copied = sum(int(json.loads(value).get("rows", 0)) for (value,) in conn.execute(
        "SELECT value FROM _migration_progress WHERE key LIKE 'copy:%'"))
    return max(BATCH, copied)


def in_wal(conn: sqlite3.Connection, schema: str) -> bool:
    return bool(conn.execute(f"PRAGMA {schema}.journal_mode").fetchone()[0].lower() == "wal")


def old_service_writes(conn: sqlite3.Connection) -> bool:
    before = log_max(conn, "old")
    time.sleep(WRITE_SAMPLE_S)
    return log_max(conn, "old") != before


def catch_up_pace(conn: sqlite3.Connection, batch: int) -> tuple[Sizer, int]:
    """How catch-up sizes its batches, and the first one's size."""
    if not in_wal(conn, "old"):
        return adaptive(batch), 1_000
    if in_wal(conn, "main") and old_service_writes(conn):
        return page_paced(batch), CATCH_UP_FIRST
    return fixed(batch), batch


def catch_up(r: Replayer, progress: Progress | None) -> None:
    """Replay while the old service still writes, until only a tail is left."""
    conn = r.conn
    behind = None
    for _ in range(CATCH_UP_ROUNDS):
        top = log_max(conn, "old")
        pending = top - checkpoint(conn)
        # One round even for a short log: a logged row the new schema refuses then
        # fails drain while the old service still writes, not after it is blocked.
        tail = pending <= CATCH_UP_TAIL and behind is not None
        if pending == 0 or tail or (behind is not None and pending >= behind):
            break
        sizer, first = _pace(r, pending)
        replay(r, progress, top, first, sizer, label="catch-up")
        behind = pending


def _pace(r: Replayer, pending: int) -> tuple[Sizer, int]:
    """The catch-up's pace, decided once (catch_up_pace) and only when it can matter: in
    WAL mode a round of at most CATCH_UP_FIRST entries is one batch at any pace, so a
    short log is replayed without first watching the old service for WRITE_SAMPLE_S."""
    if r.pace is None:
        if pending <= CATCH_UP_FIRST and in_wal(r.conn, "old"):
            return fixed(r.batch), r.batch
        r.pace = catch_up_pace(r.conn, r.batch)
    return r.pace


def replay(r: Replayer, progress: Progress | None, top: int, size: int, sizer: Sizer,
            label: str = "replay") -> None:
    """Replay (checkpoint, top] in batches, the first of `size` entries."""
    conn = r.conn
    start = done = checkpoint(conn)
    while done < top:
        hi = min(done + size, top)
        started = time.monotonic()
        conn.execute("BEGIN")
        apply_batch(r, done, hi)
        conn.execute("COMMIT")
        pages = checkpoint_wal(conn)
        done = hi
        elapsed = time.monotonic() - started
        r.seconds += elapsed
        size = sizer(size, elapsed, pages)
        let_writers_in()
        if progress:
            progress(label, done - start, top - start)


def apply_batch(r: Replayer, lo: int, hi: int) -> None:
    """Replay (lo, hi] and move the checkpoint to `hi`, inside the caller's transaction."""
    conn, plan = r.conn, r.plan
    # The checkpoint first: it commits with the batch all the same. A small batch writes
    # through the guards (mig's connection passes them; a guard an older mig made checks
    # the page-cache size, so the cache keeps mig's); a large one lifts them table by
    # table and reads through a bigger cache.
    conn.execute("UPDATE _migration_progress SET value = ? WHERE key = 'replay_checkpoint'", (hi,))
    small = hi - lo <= GUARDED_BATCH
    with contextlib.nullcontext() if small else cache_sized(conn, -REPLAY_CACHE_KIB):
        for name, ops in _logged_ops(conn, lo, hi).items():
            tp = plan.by_source(name)
            if tp is None:  # a table the new schema drops
                continue
            statements = replay_sql(tp)
            with contextlib.nullcontext() if small else guards_lifted(conn, tp.target, r.guards(tp.target)):  # restored before commit
                _replay_table(conn, statements, {"lo": lo, "hi": hi}, gone=bool(ops & set(GONE_OPS)))
            if (pushed_out := displaced(conn, tp, statements.keys_table)) is not None:  # the batch rolls back
                raise refuse(r.refusal, detail=pushed_out)


def checkpoint_wal(conn: sqlite3.Connection) -> int:
    """Copy the batch's pages from the new WAL into the database, as SQLite's own
    checkpoint at its commit would have; how many pages that was (-1: no WAL)."""
    return int(conn.execute("PRAGMA main.wal_checkpoint(PASSIVE)").fetchone()[1])


def _logged_ops(conn: sqlite3.Connection, lo: int, hi: int) -> dict[str, set[str]]:
    """The tables logged in (lo, hi], each with the ops logged for it."""
    tables: dict[str, set[str]] = {}
    for name, op in conn.execute("SELECT DISTINCT tbl, op FROM old._migration_log WHERE seq > ? AND seq <= ?",
                                 (lo, hi)):
        tables.setdefault(name, set()).add(op)
    return tables


def _replay_table(conn: sqlite3.Connection, replay: Replay, params: dict[str, int], gone: bool) -> None:
    """Run one table's replay. Skip the delete when it would look for gone rows among
    no entry that can mean one (measured: a scan of the batch's log per table); skip
    the REPLACE when delete and upsert covered every key (only with an upsert:
    without one, delete removed every logged row; and only where row counts
    count keys)."""
    keys = 0
    for sql in replay.keys:  # the last, the INSERT, counts the keys
        keys = conn.execute(sql, params).rowcount
    handled = conn.execute(replay.delete, params).rowcount if gone or not replay.delete_gone_only else 0
    if replay.upsert is not None:
        handled += conn.execute(replay.upsert, params).rowcount
    if replay.upsert is None or handled != keys or not replay.counts_keys:
        conn.execute(replay.replace, params)
    for sql in replay.nulls:
        conn.execute(sql, params)


def carry_counter(conn: sqlite3.Connection, source: str, target: str) -> None:
    """The new counter never goes below the old one (invariant 4)."""
    old_seq = conn.execute("SELECT seq FROM old.sqlite_sequence WHERE name = ?", (source,)).fetchone()
    new_seq = conn.execute("SELECT seq FROM main.sqlite_sequence WHERE name = ?", (target,)).fetchone()
    top = conn.execute(f"SELECT coalesce(max(rowid), 0) FROM main.{q(target)}").fetchone()[0]
    value = max(old_seq[0] if old_seq else 0, new_seq[0] if new_seq else 0, top)
    if new_seq is None:
        conn.execute("INSERT INTO main.sqlite_sequence (name, seq) VALUES (?, ?)", (target, value))
    else:
        conn.execute("UPDATE main.sqlite_sequence SET seq = ? WHERE name = ?", (value, target))


@contextmanager
def commit_unsynced(conn: sqlite3.Connection) -> Iterator[None]:
    """The tail's commit without its fsync (`synchronous=NORMAL`), in WAL mode only, where
    that loses no consistency, only, on a power cut, the last commits. Losing this one
    is safe: every position cutover trusts (replay checkpoint, CHECKED_THROUGH, seeds,
    schema versions) is written in it and goes back together, and the old database
    keeps the block (committed with its fsync before) and the whole log, so cutover
    refuses until a drain run again replays and checks the tail again. The next
    synced commit, cutover's, or the checkpoint at close makes it durable first: the
    WAL is written in order. Inside the window that fsync is ~2 ms, more on a busy disk.
    """
    if not in_wal(conn, "main"):
        yield
        return
    synchronous = conn.execute("PRAGMA main.synchronous").fetchone()[0]
    conn.execute("PRAGMA main.synchronous=NORMAL")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA main.synchronous={int(synchronous)}")
