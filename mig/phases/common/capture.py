"""Taking capture out of the old database (shared by `mig abort`, `mig cleanup-old` and
`mig revert`), and the old database's own triggers a revert keeps aside meanwhile."""

from __future__ import annotations

import json
import sqlite3

from mig.bookkeeping import CAPTURE_PREFIX, STASHED_TRIGGERS
from mig.phases.common.state import table_exists
from mig.sql.text import quote_ident as q

__all__ = ["remove_capture", "remove_capture_in", "stash_triggers", "restore_stashed", "capture_triggers"]


def remove_capture(conn: sqlite3.Connection) -> tuple[bool, bool]:
    """Drop capture triggers, marker and log in one transaction; report what existed."""
    if not (capture_triggers(conn) or table_exists(conn, "_migration_marker")
            or table_exists(conn, "_migration_log") or table_exists(conn, "_migration_progress")):
        return False, False  # nothing of ours: not even an empty transaction (it writes an empty file)
    conn.execute("BEGIN IMMEDIATE")
    found = remove_capture_in(conn)
    conn.execute("COMMIT")
    return found


def remove_capture_in(conn: sqlite3.Connection) -> tuple[bool, bool]:
    """remove_capture inside the caller's transaction: the triggers (a revert's guards,
    which carry the same prefix, among them), the old database's own triggers a
    revert kept aside put back, then mig's tables."""
    had_marker = table_exists(conn, "_migration_marker")
    had_log = table_exists(conn, "_migration_log")
    for name in capture_triggers(conn):
        conn.execute(f"DROP TRIGGER {q(name)}")
    restore_stashed(conn)
    if had_marker:
        conn.execute("DROP TABLE _migration_marker")
    if had_log:
        conn.execute("DROP TABLE _migration_log")
    return had_marker, had_log


def restore_stashed(conn: sqlite3.Connection) -> None:
    """Inside the caller's transaction: the triggers stash_triggers kept aside back in
    place, and the revert's _migration_progress gone with them."""
    if not table_exists(conn, "_migration_progress"):
        return
    row = conn.execute("SELECT value FROM _migration_progress WHERE key = ?", (STASHED_TRIGGERS,)).fetchone()
    for sql in json.loads(row[0]) if row else ():
        conn.execute(sql)
    conn.execute("DROP TABLE _migration_progress")


def stash_triggers(conn: sqlite3.Connection, tables: list[str]) -> None:
    """Inside the caller's transaction: keep the old database's own triggers on `tables`
    in its _migration_progress and drop them, so that a revert's replay does not fire
    them (their copies in the new database already made those writes)."""
    low = {t.lower() for t in tables}
    found = [(name, sql) for name, tbl, sql in conn.execute(
        "SELECT name, tbl_name, sql FROM main.sqlite_master WHERE type = 'trigger'")
        if tbl.lower() in low and not name.startswith(CAPTURE_PREFIX) and sql]
    conn.execute("INSERT INTO _migration_progress VALUES (?, ?)", (STASHED_TRIGGERS, json.dumps([s for _, s in found])))
    for name, _ in found:
        conn.execute(f"DROP TRIGGER {q(name)}")


def capture_triggers(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE ? ESCAPE '\\'",
        (CAPTURE_PREFIX.replace("_", "\\_") + "%",))]
