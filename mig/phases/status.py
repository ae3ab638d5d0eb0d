"""`mig status`: the runbook's validation lines, read-only, never creating a file."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mig.phases.common.state import read_new, read_old, recorded_link, table_exists
from mig.sqlite.connect import attach_old, open_ro, translate_errors

__all__ = ["StatusReport", "status"]


@dataclass
class StatusReport:
    old: str | None
    new: str | None
    marker_status: str | None = None  # recording | draining | no marker
    log_entries: int | None = None
    migration_status: str | None = None  # migrating | ready | no status marker
    schema_hash: str | None = None
    pending: int | None = None
    cutover_complete: bool = False
    id_mapping_entries: int | None = None  # None: removed
    migration_progress: str | None = None  # present | removed
    # While migrating: done | not finished. A migrate killed or still copying has the
    # same marker and status as a finished one; only this line tells them apart.
    bulk_copy: str | None = None
    # After cutover: open | reverting | closed (none: cleanup-old ended it, or the change is
    # not reversible); and how many writes the new side logged. After a revert: reverted
    # (the pair is back where migrate left it).
    revert_window: str | None = None
    revert_log_entries: int | None = None


def status(old_path: Path | None, new_path: Path | None, follow_links: bool = True) -> StatusReport:
    """The lines for the databases given; with follow_links, pending entries are counted
    against the database the other one recorded even when only one was given."""
    report = StatusReport(str(old_path) if old_path else None, str(new_path) if new_path else None)
    with translate_errors("reading migration state"):
        conn = open_ro(new_path or old_path)  # type: ignore[arg-type]
        try:
            # One read transaction over both files, so the counts agree with each other.
            conn.execute("BEGIN")
            old_schema = _attach_log(conn, old_path, new_path, follow_links)
            if new_path is not None:
                _new_lines(conn, report, old_schema)
            if old_path is not None:
                o = read_old(conn, old_schema or "main")
                report.marker_status = o.marker or "no marker"
                report.log_entries = o.log_entries or 0
            conn.execute("COMMIT")
        finally:
            conn.close()
    return report


def _attach_log(conn: sqlite3.Connection, old_path: Path | None, new_path: Path | None,
                follow_links: bool) -> str | None:
    """The schema name under which the old database's log is readable on `conn`, if any."""
    if new_path is None:
        return "main" if old_path is not None else None
    source = old_path
    if source is None and follow_links:
        link = recorded_link(new_path)
        source = link[1] if link is not None and link[0] == "new" and link[1].exists() else None
    if source is None:
        return None
    attach_old(conn, source, reader=True)
    return "old"


def _new_lines(conn: sqlite3.Connection, report: StatusReport, old_schema: str | None) -> None:
    n = read_new(conn)
    report.migration_status = n.status or "no status marker"
    report.schema_hash = n.schema_hash
    report.id_mapping_entries = n.id_mapping_entries
    if n.status is not None:  # a file that is no mig target never had it: not "removed"
        report.migration_progress = "present" if n.checkpoint is not None else "removed"
    report.cutover_complete = n.status == "ready"
    if n.status == "ready":
        _revert_lines(conn, report)
    elif n.reverted:
        report.revert_window = "reverted"
    if n.status == "migrating":
        report.bulk_copy = "done" if n.copy_done else "not finished"
    if n.status == "ready":
        report.pending = 0
    elif old_schema is not None and n.checkpoint is not None and table_exists(conn, "_migration_log", old_schema):
        report.pending = conn.execute(f"SELECT count(*) FROM {old_schema}._migration_log WHERE seq > ?",
                                      (n.checkpoint,)).fetchone()[0]


def _revert_lines(conn: sqlite3.Connection, report: StatusReport) -> None:
    if not table_exists(conn, "_migration_revert"):
        report.revert_window = "closed"
        return
    row = conn.execute("SELECT status FROM _migration_revert").fetchone()
    report.revert_window = row[0] if row else "closed"
    report.revert_log_entries = conn.execute("SELECT count(*) FROM main._migration_log").fetchone()[0]
