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

import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from mig.bookkeeping import BLOCKED_AT, CHECKED_THROUGH, DRAIN_BLOCKED_S
from mig.model import SeedRow
from mig.phases.common.blocking import block_writes, install_locks, locks_dropped_on_failure, reopened_on_failure
from mig.phases.common.consistency import (
    Mismatch,
    Tracked,
    count_mismatch,
    fk_problems_whole,
    forget,
    problems,
    track,
    watch_deletes,
)
from mig.phases.common.datachecks import logged_checks, logged_refusals
from mig.phases.common.replay import (
    CATCH_UP_ROUNDS,
    CATCH_UP_TAIL,
    REPLAY_CACHE_KIB,
    Replayer,
    apply_batch,
    batch_size,
    carry_counter,
    catch_up,
    commit_unsynced,
    replay,
)
from mig.phases.common.safeguards import (
    NEW_SCHEMA_VERSION,
    OLD_SCHEMA_VERSION,
    Progress,
    check_old_side,
    checked_new_schema_version,
    schema_version,
)
from mig.phases.common.seeds import apply_seeds, stored_seeds
from mig.phases.common.state import checkpoint, log_max, phase_lock, progress_number, read_new, refuse
from mig.plan.ops import DataCheck, Plan
from mig.sqlite.connect import attach_old, failed_computing, mig_writer, open_rw, translate_errors
from mig.sqlite.introspect import introspect
from mig.sqlite.pacing import fixed, let_writers_in

__all__ = ["DrainReport", "drain"]

# The most entries left for the window: its replay reads their rows' pages, cold at 10M
# rows (683 entries took 57 ms there), and its checks ask about each of them.
BLOCK_TAIL = 100


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
    run = _Run(conn, plan, tuple(stored_seeds(conn)), Replayer(conn, plan, batch_size(conn)))
    first = checkpoint(conn)
    if previous == "recording":
        _before_the_block(run, old_path, new_path, progress)
    caught_up = checkpoint(conn) - first
    if previous == "recording":
        # Recorded just before the block (cutover reports the window from it, a little
        # long rather than short), so that a drain resumed after a kill keeps it.
        conn.execute("INSERT OR REPLACE INTO _migration_progress VALUES (?, ?)", (BLOCKED_AT, time.time()))
        run.old_version = block_writes(old_path, run.old_version)
    blocked = time.monotonic()
    with reopened_on_failure(conn, old_path), translate_errors(f"draining into {new_path}"):
        with _refused_rows_named(run):
            top, applied = _tail(run, progress, blocked)
        blocked_seconds = time.monotonic() - blocked
    return DrainReport(str(old_path), str(new_path), previous, top - first, log_max(conn, "old") - top,
                       applied, caught_up, blocked_seconds, run.replayer.seconds)


@dataclass
class _Run:
    """One drain's connection (the new database, the old one attached) and what it learns."""

    conn: sqlite3.Connection
    plan: Plan
    seeds: tuple[SeedRow, ...]
    replayer: Replayer
    checks: list[DataCheck] | None = None  # the plan's questions for logged rows, built before the block
    tracked: Tracked | None = None  # changes noted since the whole checks (None: a resumed drain)
    checked_at: int = 0  # the log seq up to which every check has been asked
    old_version: int | None = None  # the old schema_version drain last checked the schema at
    new_version: int | None = None  # the same for the new database
    tail_version: int | None = None  # the new schema_version the last _caught_up started from


def _before_the_block(run: _Run, old_path: Path, new_path: Path, progress: Progress | None) -> None:
    """Everything that reads whole tables, while the old service still writes: a
    refusal leaves it writing, and the window holds only the tail."""
    conn = run.conn
    with _refused_rows_named(run):
        catch_up(run.replayer, progress)
        _check_old(old_path, new_path)  # again: nothing may have changed while catching up
        run.checks = logged_checks(conn, run.plan, run.seeds)
        run.checked_at = checkpoint(conn)
        run.tracked = _check_whole(run, progress)
        _check_writable(conn)
        run.new_version = checked_new_schema_version(conn, run.plan)
        # The lock triggers go in now, idle until the marker says `draining`: the block is
        # then an UPDATE of the marker, not a schema change, which would make SQLite
        # prepare every statement that reads the old database again inside the window.
        # _close_in's rounds prepare the tail's statements against this schema.
        with locks_dropped_on_failure(old_path):
            run.old_version = install_locks(old_path, new_path)
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
            catch_up(run.replayer, progress)
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
    if top - checkpoint(conn) > run.replayer.batch:  # a drain resumed with much left: all but the last batch
        replay(run.replayer, progress, top - run.replayer.batch, run.replayer.batch, fixed(run.replayer.batch))
    pending, started = top - checkpoint(conn), time.monotonic()
    with commit_unsynced(conn):
        with _caught_up(run) as top:  # the same top: writes are blocked
            run.replayer.seconds += time.monotonic() - started
            if progress:
                progress("replay", pending, pending)
            applied = _finish(run, top, blocked)
    return top, applied


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
        run.tail_version = schema_version(conn, "main")  # of the snapshot this transaction writes on
        if top > done:
            apply_batch(run.replayer, done, top)
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
    catch_up(run.replayer, progress)
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
        return check_old_side(conn, old_path, new_path)
    finally:
        conn.close()


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
            carry_counter(conn, tp.source or "", tp.target)
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
        checked_new_schema_version(conn, run.plan)
    conn.execute("INSERT OR REPLACE INTO _migration_progress VALUES (?, ?)",
                 (NEW_SCHEMA_VERSION, schema_version(conn, "main")))
    if run.old_version is not None:  # this drain blocked writes (else an earlier drain recorded it)
        conn.execute("INSERT OR REPLACE INTO _migration_progress VALUES (?, ?)", (OLD_SCHEMA_VERSION, run.old_version))
    # Drain's own share of the window, for cutover's report of the whole of it: the first
    # drain that finished it (a re-run adds its own time to the window, not to this).
    conn.execute("INSERT OR IGNORE INTO _migration_progress VALUES (?, ?)",
                 (DRAIN_BLOCKED_S, time.monotonic() - blocked))
    return applied


