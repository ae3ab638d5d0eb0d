"""`mig status`: the runbook's validation lines, read-only, never creating a file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mig.db import open_ro, translate_errors
from mig.phases.state import read_new, read_old

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


def status(old_path: Path | None, new_path: Path | None) -> StatusReport:
    report = StatusReport(str(old_path) if old_path else None, str(new_path) if new_path else None)
    old_conn = open_ro(old_path) if old_path else None
    new_conn = open_ro(new_path) if new_path else None
    try:
        with translate_errors("reading migration state"):
            if old_conn is not None:
                o = read_old(old_conn)
                report.marker_status = o.marker or "no marker"
                report.log_entries = o.log_entries or 0
            if new_conn is not None:
                n = read_new(new_conn)
                report.migration_status = n.status or "no status marker"
                report.schema_hash = n.schema_hash
                report.id_mapping_entries = n.id_mapping_entries
                report.migration_progress = "present" if n.checkpoint is not None else "removed"
                report.cutover_complete = n.status == "ready"
                if n.status == "ready":
                    report.pending = 0
                elif old_conn is not None and n.checkpoint is not None and o.log_entries is not None:
                    report.pending = old_conn.execute(
                        "SELECT count(*) FROM _migration_log WHERE seq > ?", (n.checkpoint,)).fetchone()[0]
    finally:
        for c in (old_conn, new_conn):
            if c is not None:
                c.close()
    return report
