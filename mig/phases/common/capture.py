"""Taking capture out of the old database: shared by `mig abort` and `mig cleanup-old`."""

from __future__ import annotations

import sqlite3

from mig.bookkeeping import CAPTURE_PREFIX
from mig.phases.common.state import table_exists
from mig.sql.text import quote_ident as q

__all__ = ["remove_capture"]


def remove_capture(conn: sqlite3.Connection) -> tuple[bool, bool]:
    """Drop capture triggers, marker and log in one transaction; report what existed."""
    triggers = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE ? ESCAPE '\\'",
        (CAPTURE_PREFIX.replace("_", "\\_") + "%",))]
    had_marker = table_exists(conn, "_migration_marker")
    had_log = table_exists(conn, "_migration_log")
    if not (triggers or had_marker or had_log):
        return False, False  # nothing of ours: not even an empty transaction (it writes an empty file)
    conn.execute("BEGIN IMMEDIATE")
    for name in triggers:
        conn.execute(f"DROP TRIGGER {q(name)}")
    if had_marker:
        conn.execute("DROP TABLE _migration_marker")
    if had_log:
        conn.execute("DROP TABLE _migration_log")
    conn.execute("COMMIT")
    return had_marker, had_log
