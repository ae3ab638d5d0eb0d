"""`mig revert`: after cutover, back to the old database with nothing lost.

From cutover until `mig cleanup-old` the new database records every write in its
own log (capture made by cutover, see mig.plan.capture.revert_capture_sql), and
the old one stays closed to writes. Revert is drain the other way round: it
replays that log into the old database through the reverse plan
(mig.plan.reverse) while the new service still writes, blocks the new database
(its capture triggers refuse every write once the window says `reverting`),
and in one transaction on the old database replays the tail and gives it
back to its service, recording again: its own triggers back, its capture
triggers back, the marker `recording`. The window ends with that commit.
Then the new database goes back to where migrate left it (`migrating`, its
guards back, replay positioned at the old log's end), so the pair stands as
after `mig migrate`: `mig drain` and `mig cutover` go forward again, `mig
abort` ends the migration.

While it replays, the old database's capture triggers are guards that refuse
its service as drain did and let mig's connection pass, and its own triggers
are kept aside (their copies in the new database already made those writes).
Replay is the forward one (mig.phases.common.replay) with the roles swapped:
the connection's main database is the old one, the new one is attached as the
side replayed from. Each batch commits with its checkpoint, so a killed revert
runs again; a failed one gives the new database its writes back.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from mig.bookkeeping import (
    REVERT_CAPTURE,
    REVERT_PLAN,
    REVERTED_AT,
    drain_lock_names,
    guard_trigger_sql,
    new_bookkeeping_sql,
    old_guard_names,
    old_guard_sql,
)
from mig.errors import MigError, leaves_on_failure
from mig.phases.common.capture import capture_triggers, restore_stashed, stash_triggers
from mig.phases.common.consistency import watch_deletes
from mig.phases.common.replay import (
    REPLAY_CACHE_KIB,
    Replayer,
    apply_batch,
    batch_size,
    carry_counter,
    catch_up,
)
from mig.phases.common.safeguards import Progress, fingerprint
from mig.phases.common.state import (
    NewState,
    checkpoint,
    log_max,
    phase_lock,
    read_new,
    read_old,
    refuse,
    table_exists,
)
from mig.plan.capture import capture_trigger_names, capture_trigger_sql, log_key
from mig.plan.ops import Plan
from mig.plan.reverse import reversibility
from mig.sql.text import quote_ident as q
from mig.sqlite.connect import attach_old, failed_computing, mig_writer, open_ro, open_rw, translate_errors
from mig.sqlite.introspect import introspect

__all__ = ["RevertReport", "revert"]


@dataclass
class RevertReport:
    old: str
    new: str
    previous_status: str  # the revert window's: open | reverting | reverted (done already)
    replayed: int = 0
    caught_up: int = 0  # of `replayed`, the entries replayed before the new database was blocked
    blocked_seconds: float = 0.0  # from blocking the new database to the old one's reopening commit
    replay_seconds: float = 0.0
    left_behind: list[str] = field(default_factory=list)  # new columns, whose values stay in the new database


@dataclass(frozen=True)
class _Window:
    status: str
    old_path: Path
    reverse: Plan
    capture: str  # the new side's capture, JSON: what the next cutover opens the window with
    old_log_top: int | None  # the old log's end, recorded when the new database was blocked


def revert(new_path: Path, old_path: Path | None = None, progress: Progress | None = None) -> RevertReport:
    with phase_lock(new_path):
        with translate_errors(f"reverting {new_path}"):
            new = mig_writer(open_rw(new_path))
            try:
                state = read_new(new)
                if state.status == "migrating" and state.reverted:  # done: a re-run changes nothing
                    return RevertReport(str(old_path or state.old_path), str(new_path), "reverted")
                window = _window(new, new_path, old_path, state)
                old_path = old_path or window.old_path
                report = RevertReport(str(old_path), str(new_path), window.status, left_behind=[
                    f"{tp.source}.{c}" for tp in window.reverse.tables for c in tp.dropped_columns])
                conn = mig_writer(open_rw(old_path))
                try:
                    _revert(new, conn, window, state, report, progress)
                finally:
                    conn.close()
            finally:
                new.close()
    return report


def _window(new: sqlite3.Connection, new_path: Path, old_path: Path | None, state: NewState) -> _Window:
    """The new database's revert window, or the refusal that says why there is none."""
    if state.status is None:
        raise refuse("no_status", path=new_path)
    if state.status != "ready":
        raise refuse("revert_before_cutover", path=new_path, status=state.status)
    row = new.execute("SELECT status, old_path, plan, capture, old_log_top FROM _migration_revert").fetchone() \
        if table_exists(new, "_migration_revert") else None
    if row is None:
        raise _no_window(new, new_path, old_path, state.plan)
    return _Window(row[0], Path(row[1]), Plan.from_json(row[2]), row[3], row[4])


def _no_window(new: sqlite3.Connection, new_path: Path, old_path: Path | None, plan: Plan | None) -> MigError:
    """Why a cut-over database has no revert window: the change cannot be reverted (said
    from both schemas, as `mig plan` said it), or cleanup-old closed the window."""
    old_path = old_path or Path(new.execute("SELECT old_path FROM _migration_status").fetchone()[0])
    if not old_path.is_file():
        return refuse("revert_window_closed", path=new_path, detail=f"the old database {old_path} is gone")
    old = open_ro(old_path)
    try:
        if read_old(old, counted=False).marker is None:
            return refuse("revert_window_closed", path=new_path, detail="`mig cleanup-old` ended it, "
                          "and the old database has taken no writes since cutover; restore from a backup")
        old_schema = introspect(old)
    finally:
        old.close()
    assert plan is not None
    back = reversibility(plan, old_schema, introspect(new))
    if not back.reversible:
        return refuse("not_reversible", detail="; ".join(back.reasons))
    return refuse("revert_window_closed", path=new_path, detail="it was cut over by an older mig, which "
                  "opened none")


def _revert(new: sqlite3.Connection, conn: sqlite3.Connection, window: _Window, state: NewState,
            report: RevertReport, progress: Progress | None) -> None:
    new_path = Path(report.new)
    assert state.plan is not None
    marker = read_old(conn, counted=False)
    ours = marker.new_path == str(new_path.resolve())
    if window.status == "reverting" and marker.marker == "recording" and ours:  # killed once the old reopened
        _back_to_migrating(new, window, state.plan)
        return
    if marker.marker != "draining" or not ours:
        raise refuse("revert_window_closed", path=new_path, detail=f"the old database {report.old} is no "
                     f"longer closed for this migration (its marker: {marker.marker or 'none'})")
    capture = _old_capture_sql(conn, state.plan, window.reverse)
    _prepare_old(conn, window.reverse)
    attach_old(conn, new_path)
    for schema in ("main", "old", "temp"):
        conn.execute(f"PRAGMA {schema}.cache_size=-{REPLAY_CACHE_KIB}")
    watch_deletes(conn, window.reverse)
    replayer = Replayer(conn, window.reverse, batch_size(conn), guards=old_guard_names, refusal="revert_refused")
    first = checkpoint(conn)
    with _given_back_on_failure(new, conn, window), translate_errors(f"reverting {new_path}"), _refused_rows_named():
        if window.status == "open":
            catch_up(replayer, progress)
        report.caught_up = checkpoint(conn) - first
        # The old log takes no entry while the old database is closed: its end now is where
        # the new database's replay stands once it is migrating again.
        window = dataclasses.replace(window, old_log_top=log_max(conn, "main"))
        new.execute("UPDATE _migration_revert SET status = 'reverting', old_log_top = ?", (window.old_log_top,))
        blocked = time.monotonic()
        top = _tail_and_reopen(conn, replayer, capture)
        report.blocked_seconds = time.monotonic() - blocked
    report.replayed, report.replay_seconds = top - first, replayer.seconds
    _back_to_migrating(new, window, state.plan)


def _old_capture_sql(conn: sqlite3.Connection, plan: Plan, reverse: Plan) -> list[str]:
    """The capture triggers the old database gets back when it reopens, on the tables the
    replay writes (made now: nothing is introspected inside the window)."""
    old_schema = introspect(conn)
    targets = {tp.target for tp in reverse.tables}
    return [sql for table in old_schema.tables if table.name in targets
            for sql in capture_trigger_sql(table, old_schema, log_key(table, plan))]


def _prepare_old(conn: sqlite3.Connection, reverse: Plan) -> None:
    """Once per revert (a re-run finds it done): the replay's checkpoint, the old
    database's own triggers kept aside, and guards in place of the capture triggers of
    every table the replay writes, in one transaction."""
    if table_exists(conn, "_migration_progress"):
        return
    targets = [tp.target for tp in reverse.tables]
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE _migration_progress (key TEXT PRIMARY KEY, value) WITHOUT ROWID")
        conn.execute("INSERT INTO _migration_progress VALUES ('replay_checkpoint', 0)")
        stash_triggers(conn, targets)
        for table in introspect(conn).tables:
            if table.name in targets:
                _drop_triggers(conn, capture_trigger_names(table))
                for sql in old_guard_sql(table.name):
                    conn.execute(sql)
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _tail_and_reopen(conn: sqlite3.Connection, r: Replayer, capture: list[str]) -> int:
    """With the new database blocked, one transaction on the old one: the rest of the log,
    the AUTOINCREMENT counters, and the old database given back to its service,
    recording again. Returns the log position it reached. Committed with its fsync (drain's
    tail may skip it, not this one): the new database's side, synced after it, must never
    outlive it on a power cut."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        done, top = checkpoint(conn), log_max(conn, "old")
        if top > done:
            apply_batch(r, done, top)
        for tp in r.plan.tables:
            if tp.autoincrement:
                carry_counter(conn, tp.source or "", tp.target)
        restore_stashed(conn)
        for tp in r.plan.tables:
            _drop_triggers(conn, old_guard_names(tp.target))
        for sql in capture:
            conn.execute(sql)
        _drop_triggers(conn, drain_lock_names())  # they refuse the marker's update
        conn.execute("UPDATE _migration_marker SET status = 'recording'")
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    return top


def _back_to_migrating(new: sqlite3.Connection, window: _Window, plan: Plan) -> None:
    """After the window, one transaction on the new database: its revert window and its own
    triggers out (kept for the next cutover), its guards back, replay positioned at the
    old log's end, `migrating`: where migrate left it, so drain can go forward again."""
    new.execute("BEGIN IMMEDIATE")
    try:
        own = [(name, sql) for name, sql in new.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name NOT LIKE '\\_mig\\_%' ESCAPE '\\'")]
        _drop_triggers(new, [name for name, _ in own] + capture_triggers(new))
        new.execute("DROP TABLE _migration_revert")
        new.execute("DROP TABLE _migration_log")
        new.execute(next(s for s in new_bookkeeping_sql() if s.startswith("CREATE TABLE _migration_progress")))
        for name in ["_migration_status", "_migration_progress", "_schema_identity"] + [tp.target for tp in plan.tables]:
            for sql in guard_trigger_sql(name):
                new.execute(sql)
        progress = {"replay_checkpoint": window.old_log_top or 0, "copy_done": 1,
                    "target_triggers": json.dumps([sql for _, sql in own]),
                    "new_fingerprint": fingerprint(introspect(new)),
                    REVERT_PLAN: window.reverse.to_json(), REVERT_CAPTURE: window.capture, REVERTED_AT: time.time()}
        new.executemany("INSERT INTO _migration_progress VALUES (?, ?)", progress.items())
        new.execute("UPDATE _migration_status SET status = 'migrating'")
        new.execute("COMMIT")
    finally:
        if new.in_transaction:
            new.execute("ROLLBACK")


def _drop_triggers(conn: sqlite3.Connection, names: list[str]) -> None:
    for name in names:
        conn.execute(f"DROP TRIGGER IF EXISTS main.{q(name)}")


@contextmanager
def _given_back_on_failure(new: sqlite3.Connection, conn: sqlite3.Connection, window: _Window) -> Iterator[None]:
    """Writes are never left blocked by a failed revert: until the old database reopens,
    any failure sets the window back to `open`, and the new service writes again (every
    write logged, so the next revert starts from its checkpoint). The replay's own
    transaction goes first: in rollback-journal mode its read of the new database would
    hold off that write. A failure (a Ctrl-C) after the old database's reopening commit
    leaves the window `reverting`: the old database serves, and a write the new one took
    then would be in neither the old database nor any revert."""
    try:
        yield
    except BaseException:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            reopened = conn.execute("SELECT status FROM main._migration_marker").fetchone() == ("recording",)
            if not reopened:
                new.execute("UPDATE _migration_revert SET status = 'open'")
        except sqlite3.Error:
            state = (f"writes to {window.old_path} stay refused, and so do the new database's until "
                     "`mig revert` succeeds")
        else:
            state = ("the old database takes writes again (they are recorded), the new one stays blocked "
                     "until `mig revert` run again finishes" if reopened else
                     "the new database takes writes again (they are recorded), the old one stays closed")
        with leaves_on_failure(state):
            raise


@contextmanager
def _refused_rows_named() -> Iterator[None]:
    """A row the old schema refuses (its NOT NULL, CHECK or UNIQUE; one a REPLACE would push
    out) fails the replay: say it is the new service's row that cannot go back."""
    try:
        yield
    except (sqlite3.IntegrityError, sqlite3.OperationalError) as exc:
        if str(exc).startswith("mig:") or not (isinstance(exc, sqlite3.IntegrityError) or failed_computing(exc)):
            raise
        raise refuse("revert_refused", detail=f"replay failed: {exc}") from exc
