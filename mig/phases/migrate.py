"""`mig migrate`: refuse first, then capture, build, copy.

Order of effect, each step committed before the next:
1. the old database's soundness (PRAGMA quick_check) and the disk space the
   migration needs, then plan and data checks, read-only (invariant 1: a
   refusal changes nothing);
2. capture on the old database: marker, log and triggers in one transaction,
   so every write committed from then on is logged (invariant 2);
3. the new database: schema without indexes, bookkeeping, guard triggers,
   the stored plan, all in its first transaction (invariant 7);
4. the bulk copy in short chunks, each its own transaction, so the old
   service's writers never wait long (invariant 9). Writes that race a chunk
   are in the log and drain replays them; the copy and replay are both
   "make the new row equal the old row now", so the interleaving cannot
   lose or double a write;
5. indexes, the old database's journal mode (the copy writes in rollback-journal
   mode: each page once, not to a WAL and again), then `copy_done`.
A killed migrate resumes from the last committed chunk when run again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ContextManager

from mig.bookkeeping import (
    REVERT_CAPTURE,
    REVERT_PLAN,
    guard_trigger_sql,
    new_bookkeeping_sql,
    old_bookkeeping_sql,
)
from mig.ddl import create_index_sql, table_statements, trigger_statements, view_statements
from mig.errors import PlanRefused, leaves_on_failure
from mig.model import Schema, schema_hash
from mig.phases.common import datachecks
from mig.phases.common.preconditions import (
    already_done,
    already_has,
    check_creatable,
    check_fresh,
    check_resumable,
    has_schema,
    same_file,
    target_state,
    without_source,
)
from mig.phases.common.safeguards import Progress, fingerprint, guards_lifted
from mig.phases.common.seeds import apply_seeds
from mig.phases.common.state import now, phase_lock, read_old, refuse
from mig.plan.capture import capture_trigger_sql, log_key, log_width, revert_capture_sql
from mig.plan.ops import Plan, TablePlan
from mig.plan.reverse import reverse_plan, reversibility
from mig.plan.statements import chunk_end_sql, copy_chunk_sql
from mig.sql.text import quote_ident as q
from mig.sql.values import encode_value
from mig.sqlite.connect import (
    INDEX_BUILD_CACHE_SIZE,
    attach_old,
    cache_sized,
    create_db_file,
    mig_writer,
    open_ro,
    open_rw,
    remove_db_files,
    translate_errors,
)
from mig.sqlite.introspect import introspect
from mig.sqlite.pacing import READ_TARGET_S, WriteBack, paced

__all__ = ["MigrateReport", "migrate"]



@dataclass
class MigrateReport:
    old: str | None
    new: str
    schema_hash: str
    action: str  # migrated | resumed | already-migrated | already-cut-over | nothing-to-do
    copied_tables: int = 0
    copied_rows: int = 0
    copy_seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)
    message: str = ""
    notes: list[str] = field(default_factory=list)  # a check that could not be made


def schema_commit(schema_path: Path | None) -> str | None:
    env = os.environ.get("MIG_SCHEMA_COMMIT")
    if env:
        return env
    if schema_path is None:
        return None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=schema_path.resolve().parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def migrate(old_path: Path | None, new_path: Path, target: Schema, schema_path: Path | None = None,
            progress: Progress | None = None) -> MigrateReport:
    shash = schema_hash(target)
    report = MigrateReport(str(old_path) if old_path else None, str(new_path), shash, "migrated")
    if old_path is None or not old_path.exists():
        report.action, report.message = without_source(old_path, new_path)
        return report
    if old_path.resolve() == new_path.resolve():
        report.action, report.message = same_file(old_path, target)
        return report
    if not new_path.is_file():
        check_creatable(new_path)
    _remove_if_empty(new_path)
    if not new_path.exists():  # refuse before any side effect, the lock file included
        if (same := already_has(old_path, target)) is not None:
            report.action, report.message = same
            return report
        report.notes += check_fresh(old_path, new_path)  # sound, room on disk: before any change
        old_schema, plan = datachecks.make_plan(old_path, target)
        if plan.refusals:
            raise PlanRefused(plan.refusals)
    with phase_lock(new_path, like=old_path):
        if new_path.exists():
            return _resume(old_path, new_path, report, progress)
        _install_capture(old_path, new_path, old_schema, plan)
        with _recording_on_failure(old_path):
            _build_new(old_path, new_path, target, plan, schema_commit(schema_path), old_schema)
            _copy_and_finish(old_path, new_path, plan, report, progress)
    return report


def _recording_on_failure(old_path: Path) -> ContextManager[None]:
    """A failure once capture is in says what it leaves: mig's capture on the old database."""
    return leaves_on_failure(f"the migration stays in place on {old_path} (its writes are captured): "
                             "run `mig migrate` again to go on from the last copied chunk, or "
                             "`mig abort` to undo it")


def _remove_if_empty(path: Path) -> None:
    """A migrate killed before the new database's first commit leaves an empty file: start over."""
    if path.is_file() and not has_schema(path):
        remove_db_files(path)


def _install_capture(old_path: Path, new_path: Path, old_schema: Schema, plan: Plan) -> None:
    with translate_errors(f"installing capture on {old_path}"):
        conn = open_rw(old_path)
        try:
            state = read_old(conn)
            if state.marker is not None:
                if state.new_path != str(new_path.resolve()):
                    raise refuse("other_target", other=state.new_path, path=new_path)
                return  # capture from an interrupted migrate: keep it, the log stays valid
            width = log_width(old_schema, plan)
            conn.execute("BEGIN IMMEDIATE")
            for sql in old_bookkeeping_sql(width):
                conn.execute(sql)
            for table in old_schema.tables:
                for sql in capture_trigger_sql(table, old_schema, log_key(table, plan)):
                    conn.execute(sql)
            conn.execute("INSERT INTO _migration_marker VALUES (1, 'recording', ?, ?, ?, ?)",
                         (str(new_path.resolve()), plan.schema_hash, now(), fingerprint(old_schema)))
            conn.execute("COMMIT")
        finally:
            conn.close()


def _build_new(old_path: Path, new_path: Path, target: Schema, plan: Plan, commit: str | None,
               old_schema: Schema) -> None:
    with translate_errors(f"creating {new_path}"):
        conn = mig_writer(create_db_file(new_path, like=old_path))
        try:
            old_mode = open_ro(old_path)
            journal = old_mode.execute("PRAGMA journal_mode").fetchone()[0].lower()
            old_mode.close()
            conn.execute("BEGIN IMMEDIATE")
            # UNIQUE indexes before the copy, like UNIQUE constraints: built afterwards over
            # rows not yet replayed, a value that moved between two rows during the copy
            # would fail the build; present during it, INSERT OR REPLACE settles it.
            unique = [create_index_sql(i) for i in target.indexes if i.unique]
            for sql in new_bookkeeping_sql() + table_statements(target) + unique + view_statements(target):
                conn.execute(sql)
            for name in ["_migration_status", "_migration_progress", "_id_mapping",
                         "_schema_identity"] + [t.name for t in target.tables]:
                for sql in guard_trigger_sql(name):
                    conn.execute(sql)
            conn.execute("INSERT INTO _migration_status VALUES (1, 'migrating', ?, ?, ?, ?)",
                         (str(old_path.resolve()), plan.to_json(), _seeds_json(target), now()))
            conn.execute("INSERT INTO _schema_identity VALUES (1, ?, ?, ?)",
                         (plan.schema_hash, commit, now()))
            parts = {**_target_parts(target, journal), **_revert_parts(plan, old_schema, target)}
            for key, value in parts.items():
                conn.execute("INSERT INTO _migration_progress VALUES (?, ?)", (key, value))
            conn.execute("COMMIT")
        finally:
            conn.close()


def _target_parts(target: Schema, journal: str) -> dict[str, object]:
    """What later phases build from the target: stored so they never re-read the schema file."""
    return {
        "replay_checkpoint": 0,
        "new_journal_mode": "wal" if journal == "wal" else "delete",
        "target_indexes": json.dumps([[i.name, create_index_sql(i)] for i in target.indexes
                                      if not i.unique]),
        "target_triggers": json.dumps(trigger_statements(target)),
    }


def _revert_parts(plan: Plan, old_schema: Schema, target: Schema) -> dict[str, object]:
    """What cutover needs to open the revert window: the reverse plan and the new side's
    capture; nothing when the change cannot be reverted (`mig revert` says why)."""
    if not reversibility(plan, old_schema, target).reversible:
        return {}
    reverse = reverse_plan(plan, old_schema, target)
    return {REVERT_PLAN: reverse.to_json(), REVERT_CAPTURE: json.dumps(revert_capture_sql(target, reverse))}


def _seeds_json(target: Schema) -> str:
    return json.dumps([[r.table, list(r.columns), [encode_value(v) for v in r.values]]
                       for r in target.seeds])


def _resume(old_path: Path, new_path: Path, report: MigrateReport,
            progress: Progress | None) -> MigrateReport:
    state = target_state(new_path)
    done = already_done(state, old_path, new_path)
    if done is not None:
        report.action, report.message = done
        return report
    assert state.plan is not None
    report.action = "resumed"
    with _recording_on_failure(old_path):
        report.notes += check_resumable(old_path, new_path)
        _copy_and_finish(old_path, new_path, state.plan, report, progress)
    return report


def _copy_and_finish(old_path: Path, new_path: Path, plan: Plan, report: MigrateReport,
                     progress: Progress | None) -> None:
    with translate_errors(f"copying into {new_path}"):
        conn = mig_writer(open_rw(new_path))
        try:
            conn.execute("PRAGMA synchronous=OFF")  # a killed copy resumes; see docs/design.md
            attach_old(conn, old_path)
            started = time.monotonic()
            with WriteBack(new_path):
                for tp in plan.captured:
                    rows = _copy_table(conn, tp, progress)
                    report.tables[tp.target] = rows
                    report.copied_rows += rows
                report.copied_tables = len(plan.captured)
                # BEGIN IMMEDIATE locks every attached database: detach the old one
                # first, or its writers would wait for the whole index build.
                conn.execute("DETACH DATABASE old")
                _build_indexes(conn)
                _use_journal_mode(conn)
                _mark_copied(conn)
            report.copy_seconds = time.monotonic() - started
        finally:
            conn.close()


def _build_indexes(conn: sqlite3.Connection) -> None:
    """Indexes after the copy: one sort per index instead of a b-tree insert per row.

    One transaction per index (an interrupted build resumes with the indexes
    not yet there), while WriteBack flushes beside it.
    """
    row = conn.execute("SELECT value FROM _migration_progress WHERE key='target_indexes'").fetchone()
    have = {r[0].lower() for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    for name, sql in json.loads(row[0]):
        if name.lower() in have:
            continue
        conn.execute("BEGIN IMMEDIATE")
        with cache_sized(conn, INDEX_BUILD_CACHE_SIZE):
            conn.execute(sql)
        conn.execute("COMMIT")


def _use_journal_mode(conn: sqlite3.Connection) -> None:
    """Give the new database the old one's journal mode, now that the copy is in.

    The copy and the index build write it in rollback-journal mode: every page
    goes to the file once, not to the WAL and again to the file (half the
    writes), and no WAL as big as the largest index is left to delete. Freeing
    a file of hundreds of MB on a filesystem mounted with `discard` held up the
    old service's fsync for 250 ms here (see bench/README.md). Nobody else uses
    the new database before migrate ends (the new service is deployed after),
    and a migrate killed before the switch makes it when resumed.
    """
    row = conn.execute("SELECT value FROM _migration_progress WHERE key = 'new_journal_mode'").fetchone()
    if row is None or row[0] not in ("wal", "delete"):  # a migrate begun before 2026-12-02 made it WAL at once
        return
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != row[0]:
        conn.execute(f"PRAGMA journal_mode={row[0]}")


def _mark_copied(conn: sqlite3.Connection) -> None:
    """The end of migrate, in one transaction: the seed rows, so the new database
    holds them from now on (drain applies them again once the log is replayed),
    the fingerprint cutover checks and `copy_done`."""
    conn.execute("BEGIN IMMEDIATE")
    apply_seeds(conn)
    # What cutover checks the new schema against: SQLite has no DDL triggers, so
    # DDL from another client while the file is closed to writes is found, not stopped.
    conn.execute("INSERT OR REPLACE INTO _migration_progress VALUES ('new_fingerprint', ?)",
                 (fingerprint(introspect(conn)),))
    conn.execute("INSERT OR REPLACE INTO _migration_progress VALUES ('copy_done', 1)")
    conn.execute("COMMIT")


@dataclass
class _CopyState:
    """Where a table's copy stands; stored as JSON in `_migration_progress`."""

    last: list[object] | None = None  # chunk key of the last copied row
    rows: int = 0
    done: bool = False


def _copy_table(conn: sqlite3.Connection, tp: TablePlan, progress: Progress | None) -> int:
    key = f"copy:{tp.target}"
    row = conn.execute("SELECT value FROM _migration_progress WHERE key=?", (key,)).fetchone()
    state = _CopyState(**json.loads(row[0])) if row else _CopyState()
    if state.done:
        return state.rows
    total = _rows_about(conn, tp)
    size = 1000
    while not state.done:
        started = time.monotonic()
        _copy_chunk(conn, tp, state, size)
        conn.execute("INSERT OR REPLACE INTO _migration_progress VALUES (?, ?)",
                     (key, json.dumps(state.__dict__)))
        conn.execute("COMMIT")  # its write to the new file lets the old one's writers in (no gap needed)
        if progress:
            progress(f"copy {tp.target}", state.rows, max(total, state.rows))
        size = paced(size, time.monotonic() - started, READ_TARGET_S, 100, 200_000)
    return state.rows


def _rows_about(conn: sqlite3.Connection, tp: TablePlan) -> int:
    """The progress bar's total: the rowid span where the copy walks rowids (two lookups),
    else a count. A count reads the whole table in one read, and in rollback-journal
    mode the old service's writers wait for it (5M rows: a cold count takes 100+ ms)."""
    source = f"old.{q(tp.source or '')}"
    if tp.chunk_key == ("rowid",):
        # One subquery each: SQLite answers a lone min() or max() from the b-tree's edge.
        low, high = conn.execute(f"SELECT (SELECT min(rowid) FROM {source}), "
                                 f"(SELECT max(rowid) FROM {source})").fetchone()
        return 0 if low is None else int(high) - int(low) + 1
    return int(conn.execute(f"SELECT count(*) FROM {source}").fetchone()[0])


def _copy_chunk(conn: sqlite3.Connection, tp: TablePlan, state: _CopyState, size: int) -> None:
    """Copy up to `size` rows after `state.last`; leaves the transaction open."""
    first = state.last is None
    after = [] if state.last is None else list(state.last)
    conn.execute("BEGIN")
    end = conn.execute(chunk_end_sql(tp, first), after + [size - 1]).fetchone()
    with guards_lifted(conn, tp.target):
        cur = conn.execute(copy_chunk_sql(tp, first, end is None), after + list(end or ()))
    state.rows += max(cur.rowcount, 0)
    state.done = end is None
    if end is not None:
        state.last = list(end)

