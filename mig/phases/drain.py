"""`mig drain`: close the old database to writes, then replay the log into the new one.

The marker switches to `draining` only after every check passed; from that
commit on, the capture triggers themselves reject writes from any client
(invariant 6). Before it switches, drain catches up: it replays what the
log holds while the old service still writes, in batches short enough not to
stall it (invariant 9), until only a tail is left; so the time writes are
refused is the time to replay the tail, not the whole log. Replay walks the
log in batches; each batch and its checkpoint commit in one transaction on
the new database, and replaying a batch twice gives the same rows, so a
killed drain simply runs again (invariant 5). When nothing is pending, the
seed rows and AUTOINCREMENT counters are applied.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from mig.db import (attach_old, cache_sized, failed_computing, let_writers_in, mig_writer, open_rw, paced,
                    translate_errors)
from mig.errors import MigError, leaves_on_failure
from mig.introspect import introspect
from mig.model import SeedRow
from mig.phases.cutover import NEW_SCHEMA_VERSION, OLD_SCHEMA_VERSION, check_new_schema
from mig.phases.safety import Progress, check_old_schema, guards_lifted
from mig.phases.preflight import logged_checks, logged_refusals
from mig.phases.seeds import apply_seeds, stored_seeds
from mig.phases.state import (BLOCKED_AT, CHECKED_THROUGH, DRAIN_BLOCKED_S, checkpoint, log_max, phase_lock,
                              progress_number, read_new, read_old, refuse)
from mig.phases.truth import (Mismatch, Tracked, count_mismatch, displaced, fk_problems_whole, forget, problems,
                              track, watch_deletes)
from mig.plan.ops import DataCheck, Plan
from mig.plan.statements import GONE_OPS, Replay, drain_lock_names, drain_lock_sql, replay_sql
from mig.sqltext import quote_ident as q

__all__ = ["DrainReport", "drain", "reopen_writes", "BATCH"]

# Large batches let replay walk each table in key order, nearly sequentially,
# and write each page it touches once per batch: a log dense in one table's
# rows rewrites most of its pages in every batch (measured at 1M rows, 523k
# entries: 35k entries/s at 20k per batch, 92k/s at 250k, 125k/s in one
# batch). So a batch holds BATCH entries, or as many as migrate copied rows
# when that is more (see _batch_size). A killed drain redoes at most one
# batch; the new database's WAL holds at most one batch's pages, so never
# more than the database itself.
BATCH = 1_000_000
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
# The most entries left for the window: its replay reads their rows' pages, cold at 10M
# rows (683 entries took 57 ms there), and its checks ask about each of them.
BLOCK_TAIL = 100
# A batch this small (the window's tail, the checks' short catch-ups) is replayed with the
# new database's guards in place and mig's own page cache, which they let through: a
# guard's check per row costs less than dropping and re-creating three triggers per
# table, and the tail then changes no schema (measured at 1M rows: ~100 entries over
# four tables, 5.6 -> x ms inside the window).
GUARDED_BATCH = 1_000


@dataclass
class DrainReport:
    old: str
    new: str
    previous_marker: str
    replayed: int
    remaining: int
    seeds_applied: int
    caught_up: int = 0  # of `replayed`, the entries replayed before writes were blocked
    blocked_seconds: float = 0.0  # from blocking writes to the end of drain's checks
    replay_seconds: float = 0.0  # the replay alone (catch-up and tail), like migrate's Copy time
    marker_status: str = "draining"  # the old database's marker once drain is done


def drain(new_path: Path, old_path: Path | None = None, progress: Progress | None = None) -> DrainReport:
    with phase_lock(new_path):
        with translate_errors(f"draining into {new_path}"):
            conn = mig_writer(open_rw(new_path))
            try:
                return _drain(conn, new_path, old_path, progress)
            finally:
                conn.close()


def _drain(conn: sqlite3.Connection, new_path: Path, old_path: Path | None,
           progress: Progress | None) -> DrainReport:
    plan, old_path = _check_new(conn, new_path, old_path)
    previous = _check_old(old_path, new_path)
    attach_old(conn, old_path)
    conn.execute(f"PRAGMA old.cache_size=-{REPLAY_CACHE_KIB}")
    conn.execute(f"PRAGMA temp.cache_size=-{REPLAY_CACHE_KIB}")
    conn.execute("PRAGMA main.wal_autocheckpoint=0")  # _checkpoint does it, and counts
    watch_deletes(conn, plan)
    run = _Run(conn, plan, tuple(stored_seeds(conn)), _batch_size(conn))
    first = checkpoint(conn)
    if previous == "recording":
        _before_the_block(run, old_path, new_path, progress)
    caught_up = checkpoint(conn) - first
    if previous == "recording":
        # Recorded just before the block (cutover reports the window from it, a little
        # long rather than short), so that a drain resumed after a kill keeps it.
        conn.execute("INSERT OR REPLACE INTO _migration_progress VALUES (?, ?)", (BLOCKED_AT, time.time()))
        run.old_version = _block_writes(old_path, run.old_version)
    blocked = time.monotonic()
    with _reopened_on_failure(conn, old_path), translate_errors(f"draining into {new_path}"):
        with _refused_rows_named(run):
            top, applied = _tail(run, progress, blocked)
        blocked_seconds = time.monotonic() - blocked
    return DrainReport(str(old_path), str(new_path), previous, top - first, log_max(conn, "old") - top,
                       applied, caught_up, blocked_seconds, run.replay_seconds)


@dataclass
class _Run:
    """One drain's connection (the new database, the old one attached) and what it learns."""

    conn: sqlite3.Connection
    plan: Plan
    seeds: tuple[SeedRow, ...]
    batch: int
    checks: list[DataCheck] | None = None  # the plan's questions for logged rows, built before the block
    tracked: Tracked | None = None  # changes noted since the whole checks (None: a resumed drain)
    checked_at: int = 0  # the log seq up to which every check has been asked
    old_version: int | None = None  # the old schema_version drain last checked the schema at
    new_version: int | None = None  # the same for the new database
    tail_version: int | None = None  # the new schema_version the last _caught_up started from
    replay_seconds: float = 0.0  # in replay batches, outside the truth checks
    pace: tuple[Sizer, int] | None = None  # how catch-up sizes its batches, sampled once


def _before_the_block(run: _Run, old_path: Path, new_path: Path, progress: Progress | None) -> None:
    """Everything that reads whole tables, while the old service still writes: a
    refusal leaves it writing, and the window holds only the tail."""
    conn = run.conn
    run.pace = _catch_up_pace(conn, run.batch)  # watches the old service for 0.2 s: once
    with _refused_rows_named(run):
        _catch_up(run, progress)
        _check_old(old_path, new_path)  # again: nothing may have changed while catching up
        run.checks = logged_checks(conn, run.plan, run.seeds)
        run.checked_at = checkpoint(conn)
        run.tracked = _check_whole(run, progress)
        _check_writable(conn)
        run.new_version = _check_new_schema(conn, run.plan)
        # The lock triggers go in now, idle until the marker says `draining`: the block is
        # then an UPDATE of the marker, not a schema change, which would make SQLite
        # prepare every statement that reads the old database again inside the window.
        # _close_in's rounds prepare the tail's statements against this schema.
        with _locks_dropped_on_failure(old_path):
            run.old_version = _install_locks(old_path, new_path)
            _close_in(run, progress)


def _close_in(run: _Run, progress: Progress | None) -> None:
    """Check what changed since the last check, until what is left for the window is at
    most BLOCK_TAIL entries: each round asks about what the old service wrote during
    the one before, so the rounds shrink, and the tail is replayed with writes refused.

    Each round ends with the new database's WAL emptied: the window's commits then
    write only the tail's pages, and the checkpoint SQLite runs when drain closes the
    database copies only those (at 10M rows, 13 MB left in the WAL made that close
    70-140 ms inside the window).
    """
    conn = run.conn
    for _ in range(CATCH_UP_ROUNDS):
        if log_max(conn, "old") - checkpoint(conn) > CATCH_UP_TAIL:  # too long for one read
            _catch_up(run, progress)
        _check_so_far(run)
        conn.execute("PRAGMA main.wal_checkpoint(TRUNCATE)")
        if log_max(conn, "old") - checkpoint(conn) <= BLOCK_TAIL:
            return


def _tail(run: _Run, progress: Progress | None, blocked: float) -> tuple[int, int]:
    """Replay the tail and end drain in one transaction: the last entries, the seed rows and
    AUTOINCREMENT counters, the truth checks, and the log position they reached. Returns
    that position and how many seed rows were applied."""
    conn = run.conn
    top = log_max(conn, "old")
    if top - checkpoint(conn) > run.batch:  # a drain resumed with much left: all but the last batch
        _replay(run, progress, top - run.batch, run.batch, _fixed(run.batch))
    pending, started = top - checkpoint(conn), time.monotonic()
    with _commit_unsynced(conn):
        with _caught_up(run) as top:  # the same top: writes are blocked
            run.replay_seconds += time.monotonic() - started
            if progress:
                progress("replay", pending, pending)
            applied = _finish(run, top, blocked)
    return top, applied


@contextmanager
def _commit_unsynced(conn: sqlite3.Connection) -> Iterator[None]:
    """The tail's commit without its fsync (`synchronous=NORMAL`), in WAL mode only, where
    that loses no consistency, only, on a power cut, the last commits. Losing this one
    is safe: every position cutover trusts (replay checkpoint, CHECKED_THROUGH, seeds,
    schema versions) is written in it and goes back together, and the old database
    keeps the block (committed with its fsync before) and the whole log, so cutover
    refuses until a drain run again replays and checks the tail again. The next
    synced commit, cutover's, or the checkpoint at close makes it durable first: the
    WAL is written in order. Inside the window that fsync is ~2 ms, more on a busy disk.
    """
    if not _in_wal(conn, "main"):
        yield
        return
    synchronous = conn.execute("PRAGMA main.synchronous").fetchone()[0]
    conn.execute("PRAGMA main.synchronous=NORMAL")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA main.synchronous={int(synchronous)}")


@contextmanager
def _caught_up(run: _Run) -> Iterator[int]:
    """A transaction that first replays what is pending, so that inside it the new
    database and the old one (whose read starts at the log's last entry) stand at the
    same log position, which it yields. It commits when the block ends, and in
    rollback-journal mode the old service's writers wait meanwhile: keep it short."""
    conn = run.conn
    conn.execute("BEGIN")
    try:
        done, top = checkpoint(conn), log_max(conn, "old")  # the old snapshot starts here
        run.tail_version = _schema_version(conn, "main")  # of the snapshot this transaction writes on
        if top > done:
            _apply_batch(run, done, top)
        yield top
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _check_whole(run: _Run, progress: Progress | None) -> Tracked:
    """The whole-table checks, before writes are blocked; from here on every change is tracked.

    Logged rows against the plan's refusals, in short reads; every reference of
    the new database (it is mig's alone: no other writer waits); and each
    table's row count against the old one at one log position (_caught_up).
    The reference check takes seconds at 1M rows: the old service's writes of
    that time are caught up in paced batches before the counts, whose reads
    should each replay little.
    """
    conn = run.conn
    _check_logged(run, hi=run.checked_at, live=True)
    if found := fk_problems_whole(conn):
        raise refuse("fk_violation", detail="; ".join(found))
    tracked = track(conn, run.plan, introspect(conn))
    _catch_up(run, progress)
    mismatched = []
    for tp in run.plan.captured:  # one table per read: writers wait for one count at a time
        with _caught_up(run):
            mismatch = count_mismatch(conn, tp, run.seeds)
        let_writers_in()
        if mismatch:
            mismatched.append(mismatch)
    _refuse_counts(mismatched)
    return tracked


def _refuse_counts(mismatched: list[Mismatch]) -> None:
    """Rows the old database cannot explain were written to the new one (past its guards):
    blame that database, not the old one's writers."""
    if surplus := [m.text for m in mismatched if m.surplus]:
        raise refuse("new_written", detail="; ".join(surplus))
    if mismatched:
        raise refuse("rows_lost_early", detail="; ".join(m.text for m in mismatched))


def _check_so_far(run: _Run) -> None:
    """Before the block, ask about what changed during the whole checks, in one read of
    the old database that replays what is pending first (the rows compare at one log
    position); then note afresh, so the window asks only about the tail."""
    assert run.tracked is not None
    with _caught_up(run) as top:
        _check_changes(run)
    forget(run.conn, run.tracked)
    run.checked_at = top


def _check_changes(run: _Run) -> None:
    """The whole checks' questions, about what changed since `checked_at`, with the old
    database at the checkpoint (frozen, or read in the caller's transaction): the
    logged rows, the references, and the rows each changed key names."""
    assert run.tracked is not None
    top = checkpoint(run.conn)
    _check_logged(run, lo=run.checked_at, hi=top)
    references, rows = problems(run.conn, run.plan, run.tracked, run.checked_at, top, run.seeds)
    if references:
        raise refuse("fk_violation", detail="; ".join(references))
    if rows:
        raise refuse("rows_lost_early", detail="; ".join(rows))


def _check_new(conn: sqlite3.Connection, new_path: Path, old_path: Path | None) -> tuple[Plan, Path]:
    state = read_new(conn)
    if state.status is None:
        raise refuse("no_status", path=new_path)
    if state.status == "ready":
        raise refuse("already_ready", path=new_path, detail="drain is refused after cutover")
    if not state.copy_done:
        raise refuse("copy_incomplete")
    assert state.plan is not None and state.old_path is not None
    return state.plan, old_path or Path(state.old_path)


def _check_old(old_path: Path, new_path: Path) -> str:
    """The old side is ours, for this target, and its schema is what migrate saw: its marker."""
    conn = open_rw(old_path)
    try:
        return _check_old_on(conn, old_path, new_path)
    finally:
        conn.close()


def _check_old_on(conn: sqlite3.Connection, old_path: Path, new_path: Path) -> str:
    state = read_old(conn)
    if state.marker is None:
        raise refuse("no_marker", path=old_path)
    if state.new_path != str(new_path.resolve()):
        raise refuse("other_target", other=state.new_path, path=new_path)
    check_old_schema(conn, state.fingerprint)
    return state.marker


def _schema_version(conn: sqlite3.Connection, schema: str) -> int:
    return int(conn.execute(f"PRAGMA {schema}.schema_version").fetchone()[0])


def _check_new_schema(conn: sqlite3.Connection, plan: Plan) -> int:
    """Cutover's check of the new schema (migrate's, every table guarded), and the
    schema_version it holds for, read in one snapshot."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        version = _schema_version(conn, "main")
        check_new_schema(conn, plan)
        return version
    finally:
        if own and conn.in_transaction:
            conn.execute("COMMIT")


def _lock_sql() -> list[str]:
    """drain_lock_sql's triggers, idle while the marker is not `draining`. The marker's
    own update to `draining` passes (its BEFORE trigger still reads `recording`); every
    write to the marker or the log after it is refused."""
    when = " WHEN (SELECT status FROM _migration_marker) = 'draining' BEGIN "
    return [sql.replace(" BEGIN ", when, 1) for sql in drain_lock_sql()]


def _install_locks(old_path: Path, new_path: Path) -> int:
    """Create the idle lock triggers, with the old schema checked in the same transaction;
    the schema_version they leave."""
    old = open_rw(old_path)
    try:
        old.execute("BEGIN IMMEDIATE")
        if _check_old_on(old, old_path, new_path) != "recording":
            raise refuse("drain_incomplete", detail=f"{old_path} stopped recording while drain caught up")
        for sql in _lock_sql():
            old.execute(sql)
        version = _schema_version(old, "main")
        old.execute("COMMIT")
        return version
    finally:
        old.close()


@contextmanager
def _locks_dropped_on_failure(old_path: Path) -> Iterator[None]:
    """A drain that fails before the block takes its idle lock triggers out again."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error, MigError):
            _write_old(old_path, [f"DROP TRIGGER IF EXISTS {q(name)}" for name in drain_lock_names()])
        raise


def _check_writable(conn: sqlite3.Connection) -> None:
    """Write to the new database and roll back, before the old one refuses writes: a
    read-only file or another connection's lock would otherwise be found only once
    the old service is down for writes."""
    conn.execute("BEGIN")
    try:
        conn.execute("UPDATE _migration_progress SET value = value WHERE key = 'replay_checkpoint'")
    finally:
        if conn.in_transaction:  # SQLite may have rolled back already (disk full, I/O error)
            conn.execute("ROLLBACK")


@contextmanager
def _refused_rows_named(run: _Run) -> Iterator[None]:
    """A logged row the new schema refuses (its CHECK, NOT NULL or UNIQUE, or an index
    expression that cannot be computed over it) fails replay
    with SQLite's bare message, and running drain again cannot get past it: name the
    rows, as the checks do, and say what to do (the old service writes, or writes
    again once a failed tail gives them back, so the row can be fixed there)."""
    try:
        yield
    except (sqlite3.IntegrityError, sqlite3.OperationalError) as exc:
        if str(exc).startswith("mig:") or not (isinstance(exc, sqlite3.IntegrityError)
                                               or failed_computing(exc)):
            raise  # a guard's refusal, or trouble with the database, not a row of the log
        if run.conn.in_transaction:
            run.conn.execute("ROLLBACK")
        _check_logged(run)
        raise refuse("logged_refused_early", detail=f"replay failed: {exc}") from exc


def _check_logged(run: _Run, lo: int = 0, hi: int | None = None, live: bool = False) -> None:
    """Refuse when a row logged in (lo, hi] does not fit the new schema (see logged_refusals)."""
    checks = run.checks if run.checks is not None else logged_checks(run.conn, run.plan, run.seeds)
    refused = logged_refusals(run.conn, run.plan, checks, lo, hi, live)
    if refused:
        raise refuse("logged_refused_early", detail="; ".join(r.message for r in refused))


@contextmanager
def _reopened_on_failure(conn: sqlite3.Connection, old_path: Path) -> Iterator[None]:
    """Writes are never left blocked by a failed drain: on any failure once they may
    be (a refused tail row, an error, Ctrl-C), the old database goes back to
    `recording`, and the message says so. Replay is idempotent and the log keeps
    every write, so the next drain simply starts over from the checkpoint."""
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        try:
            _reopen_writes(conn, old_path)
        except (sqlite3.Error, MigError):
            state = (f"writes to {old_path} are blocked (draining) until `mig drain` "
                     "succeeds or `mig abort` reopens it")
        else:
            state = f"writes to {old_path} are accepted again (it is recording, and every write is logged)"
        with leaves_on_failure(state):
            raise


def _block_writes(old_path: Path, version: int | None) -> int:
    """From this commit on the capture triggers refuse every write, and the lock
    triggers every write to the marker and the log (invariant 6). Installed and
    checked by _install_locks at schema_version `version`: when the schema changed
    since (or they were not), the schema is checked again and the triggers made
    here. Returns the schema_version the block leaves."""
    old = open_rw(old_path)
    try:
        old.execute("BEGIN IMMEDIATE")
        if version is None or _schema_version(old, "main") != version:
            state = read_old(old)
            check_old_schema(old, state.fingerprint)
            for sql in _lock_sql():
                old.execute(sql)
        old.execute("UPDATE _migration_marker SET status = 'draining'")
        version = _schema_version(old, "main")
        old.execute("COMMIT")
        return version
    finally:
        old.close()


def _write_old(old_path: Path, statements: list[str]) -> None:
    """Run `statements` on the old database in one transaction of their own."""
    old = open_rw(old_path)
    try:
        old.execute("BEGIN IMMEDIATE")
        for sql in statements:
            old.execute(sql)
        old.execute("COMMIT")
    finally:
        old.close()


def reopen_writes(new_path: Path, old_path: Path) -> None:
    """Undo a finished drain's block: the old database records again (see _reopen_writes)."""
    with phase_lock(new_path), translate_errors(f"reopening {old_path} to writes"):
        conn = mig_writer(open_rw(new_path))
        try:
            _reopen_writes(conn, old_path)
        finally:
            conn.close()


def _reopen_writes(conn: sqlite3.Connection, old_path: Path) -> None:
    """Undo _block_writes: the lock triggers go first, as they refuse the marker's update."""
    _write_old(old_path, [*(f"DROP TRIGGER IF EXISTS {q(name)}" for name in drain_lock_names()),
                          "UPDATE _migration_marker SET status = 'recording'"])
    conn.execute("DELETE FROM _migration_progress WHERE key IN (?, ?, ?, ?, ?, ?)",
                 (BLOCKED_AT, CHECKED_THROUGH, DRAIN_BLOCKED_S, "seeds_applied", OLD_SCHEMA_VERSION,
                  NEW_SCHEMA_VERSION))


def _batch_size(conn: sqlite3.Connection) -> int:
    """BATCH, or the rows migrate copied when more: a batch of 1M random keys in a
    10M-row database still touches most pages of the tables it writes."""
    copied = sum(int(json.loads(value).get("rows", 0)) for (value,) in conn.execute(
        "SELECT value FROM _migration_progress WHERE key LIKE 'copy:%'"))
    return max(BATCH, copied)


# (last batch size, its seconds, pages it wrote to the new WAL or -1) -> next batch size
Sizer = Callable[[int, float, int], int]


def _fixed(batch: int) -> Sizer:
    return lambda size, elapsed, pages: batch


def _adaptive(batch: int) -> Sizer:
    """Keep each catch-up batch near CATCH_UP_TARGET_S of holding the old database."""
    return lambda size, elapsed, pages: paced(size, elapsed, CATCH_UP_TARGET_S, 200, batch)


def _page_paced(batch: int) -> Sizer:
    """Keep the pages each catch-up batch writes near CATCH_UP_PAGES: the size that
    would have written that many at the last batch's pages per entry, at most
    twice or half the last size at a time."""
    def size_next(size: int, elapsed: float, pages: int) -> int:
        wanted = size * 2 if pages <= 0 else size * CATCH_UP_PAGES // pages
        return max(200, min(batch, size * 2, max(size // 2, wanted)))
    return size_next


def _in_wal(conn: sqlite3.Connection, schema: str) -> bool:
    return bool(conn.execute(f"PRAGMA {schema}.journal_mode").fetchone()[0].lower() == "wal")


def _old_service_writes(conn: sqlite3.Connection) -> bool:
    before = log_max(conn, "old")
    time.sleep(WRITE_SAMPLE_S)
    return log_max(conn, "old") != before


def _catch_up_pace(conn: sqlite3.Connection, batch: int) -> tuple[Sizer, int]:
    """How catch-up sizes its batches, and the first one's size."""
    if not _in_wal(conn, "old"):
        return _adaptive(batch), 1_000
    if _in_wal(conn, "main") and _old_service_writes(conn):
        return _page_paced(batch), CATCH_UP_FIRST
    return _fixed(batch), batch


def _catch_up(run: _Run, progress: Progress | None) -> None:
    """Replay while the old service still writes, until only a tail is left."""
    conn = run.conn
    assert run.pace is not None
    sizer, first = run.pace
    behind = None
    for _ in range(CATCH_UP_ROUNDS):
        top = log_max(conn, "old")
        pending = top - checkpoint(conn)
        # One round even for a short log: a logged row the new schema refuses then
        # fails drain while the old service still writes, not after it is blocked.
        tail = pending <= CATCH_UP_TAIL and behind is not None
        if pending == 0 or tail or (behind is not None and pending >= behind):
            break
        _replay(run, progress, top, first, sizer, label="catch-up")
        behind = pending


def _replay(run: _Run, progress: Progress | None, top: int, size: int, sizer: Sizer,
            label: str = "replay") -> None:
    """Replay (checkpoint, top] in batches, the first of `size` entries."""
    conn = run.conn
    start = done = checkpoint(conn)
    while done < top:
        hi = min(done + size, top)
        started = time.monotonic()
        conn.execute("BEGIN")
        _apply_batch(run, done, hi)
        conn.execute("COMMIT")
        pages = _checkpoint(conn)
        done = hi
        elapsed = time.monotonic() - started
        run.replay_seconds += elapsed
        size = sizer(size, elapsed, pages)
        let_writers_in()
        if progress:
            progress(label, done - start, top - start)


def _apply_batch(run: _Run, lo: int, hi: int) -> None:
    """Replay (lo, hi] and move the checkpoint to `hi`, inside the caller's transaction."""
    conn, plan = run.conn, run.plan
    # The checkpoint first: it commits with the batch all the same, and from here on
    # only tables whose guards are lifted are written, which needs no cache identity.
    conn.execute("UPDATE _migration_progress SET value = ? WHERE key = 'replay_checkpoint'", (hi,))
    small = hi - lo <= GUARDED_BATCH
    with contextlib.nullcontext() if small else cache_sized(conn, -REPLAY_CACHE_KIB):
        for name, ops in _logged_ops(conn, lo, hi).items():
            tp = plan.by_source(name)
            if tp is None:  # a table the new schema drops
                continue
            replay = replay_sql(tp)
            with contextlib.nullcontext() if small else guards_lifted(conn, tp.target):  # restored before commit
                _replay_table(conn, replay, {"lo": lo, "hi": hi}, gone=bool(ops & set(GONE_OPS)))
            if (pushed_out := displaced(conn, tp, replay.keys_table)) is not None:  # the batch rolls back
                raise refuse("logged_refused_early", detail=pushed_out)


def _checkpoint(conn: sqlite3.Connection) -> int:
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


def _finish(run: _Run, top: int, blocked: float) -> int:
    """Inside the tail's transaction: seeds (upsert by key) and AUTOINCREMENT counters;
    then the truth checks, and the log position they reached.

    Tracked since the whole checks, only the changes are asked about. A drain
    resumed after a kill inside the window tracked nothing, and asks the whole
    questions there: that recovery path alone scans whole tables with writes blocked.
    """
    conn = run.conn
    applied = apply_seeds(conn)
    for tp in run.plan.captured:
        if tp.autoincrement:
            _carry_counter(conn, tp.source or "", tp.target)
    conn.execute("INSERT OR REPLACE INTO _migration_progress VALUES ('seeds_applied', 1)")
    if run.tracked is not None:
        _check_changes(run)
    elif (progress_number(conn, CHECKED_THROUGH) or -1) < top:  # not a re-run after a drain that finished
        _check_logged(run)
        if found := fk_problems_whole(conn):
            raise refuse("fk_violation", detail="; ".join(found))
        _refuse_counts([m for tp in run.plan.captured if (m := count_mismatch(conn, tp, run.seeds))])
    conn.execute("INSERT OR REPLACE INTO _migration_progress VALUES (?, ?)", (CHECKED_THROUGH, top))
    # The new schema as this transaction leaves it, for cutover: checked before the block
    # and unchanged since (no other connection can have changed it once this transaction
    # read it; replay's own changes put the same guards back), else checked here.
    if run.new_version is None or run.tail_version != run.new_version:
        _check_new_schema(conn, run.plan)
    conn.execute("INSERT OR REPLACE INTO _migration_progress VALUES (?, ?)",
                 (NEW_SCHEMA_VERSION, _schema_version(conn, "main")))
    if run.old_version is not None:  # this drain blocked writes (else an earlier drain recorded it)
        conn.execute("INSERT OR REPLACE INTO _migration_progress VALUES (?, ?)", (OLD_SCHEMA_VERSION, run.old_version))
    # Drain's own share of the window, for cutover's report of the whole of it: the first
    # drain that finished it (a re-run adds its own time to the window, not to this).
    conn.execute("INSERT OR IGNORE INTO _migration_progress VALUES (?, ?)",
                 (DRAIN_BLOCKED_S, time.monotonic() - blocked))
    return applied


def _carry_counter(conn: sqlite3.Connection, source: str, target: str) -> None:
    """The new counter never goes below the old one (invariant 4)."""
    old_seq = conn.execute("SELECT seq FROM old.sqlite_sequence WHERE name = ?", (source,)).fetchone()
    new_seq = conn.execute("SELECT seq FROM main.sqlite_sequence WHERE name = ?", (target,)).fetchone()
    top = conn.execute(f"SELECT coalesce(max(rowid), 0) FROM main.{q(target)}").fetchone()[0]
    value = max(old_seq[0] if old_seq else 0, new_seq[0] if new_seq else 0, top)
    if new_seq is None:
        conn.execute("INSERT INTO main.sqlite_sequence (name, seq) VALUES (?, ?)", (target, value))
    else:
        conn.execute("UPDATE main.sqlite_sequence SET seq = ? WHERE name = ?", (value, target))
