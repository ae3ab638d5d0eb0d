"""`mig cutover`: check the truth, then open the new database in one transaction.

Truth, not a flag (invariant 8): the old log itself must be replayed to its
last entry and the old marker must be `draining` (so no new entry can
appear), drain's truth checks (foreign keys, row counts, logged rows; see
mig.phases.common.consistency) must have reached that same last entry, the seed rows must be in
place, and neither schema may have changed. All of it costs what the schema
and the seed rows cost, never a scan of a table: cutover runs while writes
are refused. Then, atomically: the target's own triggers are created (so
they fire only for writes from now on), the guard triggers and the
replay-only tables are dropped, and the status becomes `ready`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from mig.bookkeeping import BLOCKED_AT, CHECKED_THROUGH, DRAIN_BLOCKED_S, REVERT_CAPTURE, REVERT_PLAN
from mig.ddl import seed_row_match_sql
from mig.phases.common.safeguards import NEW_SCHEMA_VERSION, OLD_SCHEMA_VERSION, check_new_schema, check_old_schema
from mig.phases.common.seeds import stored_seeds
from mig.phases.common.state import (
    checkpoint,
    log_max,
    now,
    phase_lock,
    progress_number,
    read_new,
    read_old,
    refuse,
    table_exists,
)
from mig.plan.ops import Plan
from mig.sql.text import quote_ident as q
from mig.sqlite.connect import mig_writer, open_ro, open_rw, translate_errors

__all__ = ["CutoverReport", "cutover"]


@dataclass
class CutoverReport:
    new: str
    previous_status: str
    current_status: str
    dropped_id_mapping: bool
    dropped_migration_progress: bool
    # The write-unavailability window as the old service saw it: from drain's block
    # to `ready` (None when drain recorded no block time), and drain's own part.
    writes_refused_seconds: float | None = None
    drain_blocked_seconds: float | None = None


def cutover(new_path: Path, old_path: Path | None = None) -> CutoverReport:
    with phase_lock(new_path):
        with translate_errors(f"cutting over {new_path}"):
            conn = mig_writer(open_rw(new_path))
            try:
                state = read_new(conn)
                if state.status is None:
                    raise refuse("no_status", path=new_path)
                if state.status == "ready":
                    return CutoverReport(str(new_path), "ready", "ready", False, False)
                old = Path(old_path or state.old_path or "")
                assert state.plan is not None
                _check_old_log(conn, old, new_path)
                if not state.seeds_applied:  # killed after its last batch, before seeds and counters
                    raise refuse("drain_incomplete", detail="the last drain did not finish (seed rows "
                                 "and AUTOINCREMENT counters)")
                _check_seeds(conn)
                blocked_at, drain_part = progress_number(conn, BLOCKED_AT), progress_number(conn, DRAIN_BLOCKED_S)
                dropped = _open_new(conn, state.plan)
                refused = time.time() - blocked_at if blocked_at is not None else None
            finally:
                conn.close()
    return CutoverReport(str(new_path), "migrating", "ready", *dropped, refused, drain_part)


def _schema_unchanged(conn: sqlite3.Connection, key: str) -> bool:
    """The database's schema_version is the one drain recorded under `key` where it last
    checked the schema (see drain.OLD_SCHEMA_VERSION). SQLite bumps it at every schema
    change (only `PRAGMA schema_version = N` or `writable_schema`, which its manual
    calls ways to corrupt a database, change a schema without it), so the same
    number is the same, checked, schema: no introspection inside the window."""
    recorded = progress_number(conn, key)
    return recorded is not None and recorded == conn.execute("PRAGMA schema_version").fetchone()[0]


def _check_old_log(conn: sqlite3.Connection, old_path: Path, new_path: Path) -> None:
    """Every entry of the old log is replayed, and drain's truth checks reached the last one."""
    if not old_path.is_file():
        raise refuse("old_missing", path=old_path)
    old = open_ro(old_path)
    recorded = progress_number(conn, OLD_SCHEMA_VERSION)
    try:
        old.execute("BEGIN")  # one snapshot: the marker, the log's end, the schema
        state = read_old(old, counted=False)
        if state.marker is None:
            raise refuse("drain_incomplete", detail=f"the old database {old_path} has no migration marker")
        if state.marker == "recording":
            raise refuse("drain_incomplete", detail="the old database is still recording writes")
        top = log_max(old)
        # No trigger sees DDL: a table created (and written) while writes were blocked
        # would be in neither database after cutover. Its schema tells: the schema_version
        # the block left (drain checked the schema there), else the schema itself.
        if recorded is None or recorded != old.execute("PRAGMA schema_version").fetchone()[0]:
            check_old_schema(old, state.fingerprint)
    finally:
        old.close()
    done = checkpoint(conn)
    if top > done:
        raise refuse("drain_incomplete", detail=f"{top - done} log entries are not replayed")
    checked = progress_number(conn, CHECKED_THROUGH)
    if checked is None or checked < top:
        raise refuse("drain_incomplete", detail="the last drain did not finish its checks "
                     "(foreign keys, row counts, logged rows)")


def _check_seeds(conn: sqlite3.Connection) -> None:
    for row in stored_seeds(conn):
        cond = seed_row_match_sql(row)  # its bytes, as drain applied it and verify compares it
        if conn.execute(f"SELECT 1 FROM {q(row.table)} WHERE {cond}", row.values).fetchone() is None:
            raise refuse("seeds_missing", detail=f"a seed row of {row.table} is missing or changed")


def _open_new(conn: sqlite3.Connection, plan: Plan) -> tuple[bool, bool]:
    """In one transaction: the schema checked (in it, so that nothing changes it before
    the commit), the guards dropped, the target's triggers made, `ready`."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        return _open_new_in(conn, plan)
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _open_new_in(conn: sqlite3.Connection, plan: Plan) -> tuple[bool, bool]:
    if not _schema_unchanged(conn, NEW_SCHEMA_VERSION):
        check_new_schema(conn, plan)
    triggers = json.loads(conn.execute(
        "SELECT value FROM _migration_progress WHERE key='target_triggers'").fetchone()[0])
    guards = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE '\\_mig\\_guard\\_%' ESCAPE '\\'")]
    had_map = table_exists(conn, "_id_mapping")
    for name in guards:
        conn.execute(f"DROP TRIGGER {q(name)}")
    for sql in triggers:
        conn.execute(sql)
    _open_revert_window(conn)
    if had_map:
        conn.execute("DROP TABLE _id_mapping")
    conn.execute("DROP TABLE _migration_progress")
    conn.execute("UPDATE _migration_status SET status = 'ready', updated_at = ?", (now(),))
    conn.execute("COMMIT")
    return had_map, True


def _open_revert_window(conn: sqlite3.Connection) -> None:
    """In the opening transaction, when the change is reversible: the new side's log and
    capture (built by migrate, so nothing is planned inside the window), from the
    new service's first write on. A migration an older mig started has none."""
    stored = dict(conn.execute("SELECT key, value FROM _migration_progress WHERE key IN (?, ?)",
                               (REVERT_PLAN, REVERT_CAPTURE)).fetchall())
    if REVERT_PLAN not in stored or REVERT_CAPTURE not in stored:
        return
    for sql in json.loads(stored[REVERT_CAPTURE]):
        conn.execute(sql)
    conn.execute("INSERT INTO _migration_revert SELECT 1, 'open', old_path, ?, ?, ?, NULL FROM _migration_status",
                 (stored[REVERT_PLAN], stored[REVERT_CAPTURE], now()))
