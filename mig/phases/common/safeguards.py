"""What migrate leaves behind for the later phases to rely on, and how they check it.

On the old database: its schema's fingerprint (in the marker) and the capture
triggers; drain and cutover refuse when either changed, since no trigger sees
DDL. On the new database: the guard triggers that keep every other client out
until cutover (invariant 7), which mig's own copy and replay lift inside their
transactions. Light on purpose: cutover runs inside the write-unavailability
window and imports this, never the planner.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from mig.bookkeeping import guard_trigger_names
from mig.model import Schema, canonical_json
from mig.phases.common.state import read_old, refuse
from mig.plan.capture import logging_trigger_names
from mig.plan.ops import Plan
from mig.sql.text import quote_ident as q
from mig.sqlite.introspect import introspect

__all__ = ["Progress", "fingerprint", "check_old_schema", "check_old_side", "guards_lifted", "check_new_schema",
           "checked_new_schema_version", "schema_version", "OLD_SCHEMA_VERSION", "NEW_SCHEMA_VERSION"]

# (what, done, total or None) -> None: how copy and replay report their progress.
Progress = Callable[[str, int, "int | None"], None]

# _migration_progress keys drain leaves: each database's `PRAGMA schema_version` where
# drain last checked its schema (the old one's as the block left it, the new one's as
# the tail left it); cutover asks the schema again only when it moved since.
OLD_SCHEMA_VERSION = "old_schema_version"
NEW_SCHEMA_VERSION = "new_schema_version"


def fingerprint(schema: Schema) -> str:
    return hashlib.sha256(canonical_json(schema.without_intents()).encode()).hexdigest()[:16]


def check_old_schema(conn: sqlite3.Connection, recorded: str | None, plan: Plan | None = None) -> None:
    """The old database's schema is the one migrate saw (its fingerprint), and every
    capture trigger migrate installed is still there. With the stored `plan`, the
    refusal names the tables and columns it reads that are gone."""
    schema = introspect(conn)
    now_print = fingerprint(schema)
    if now_print != recorded:
        gone = _gone(schema, plan) if plan is not None else []
        raise refuse("old_changed", detail="; ".join(gone) if gone else "a table, column, index, view "
                     f"or trigger was created, changed or dropped: fingerprint {recorded} -> {now_print}")
    _check_capture(conn, schema)


def _gone(schema: Schema, plan: Plan) -> list[str]:
    """What the plan copies from that the old database no longer has."""
    out = []
    for tp in plan.captured:
        table = schema.table(tp.source)  # type: ignore[arg-type]
        if table is None:
            out.append(f"table {tp.source} is gone")
            continue
        read = [name for c in tp.copied_columns if c.how != "rowid"
                for name in (c.reads if c.how == "converted" else (c.source or "",))]
        out += [f"column {tp.source}.{name} is gone" for name in dict.fromkeys(read) if table.column(name) is None]
    return out


def _check_capture(conn: sqlite3.Connection, schema: Schema) -> None:
    """Refuse when a capture trigger migrate installed on the old database is gone: a
    plain client can drop one (no trigger sees DDL, and fingerprints leave ours out),
    and the writes after that were never logged."""
    have = {r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'trigger'")}
    gone = [n for t in schema.tables for n in logging_trigger_names(t) if n not in have]
    if gone:
        raise refuse("capture_gone", names=", ".join(gone))


def check_old_side(conn: sqlite3.Connection, old_path: Path, new_path: Path) -> str:
    """The old side is ours, for this target, and its schema is what migrate saw: its marker."""
    state = read_old(conn)
    if state.marker is None:
        raise refuse("no_marker", path=old_path)
    if state.new_path != str(new_path.resolve()):
        raise refuse("other_target", other=state.new_path, path=new_path)
    check_old_schema(conn, state.fingerprint)
    return state.marker


def check_new_schema(conn: sqlite3.Connection, plan: Plan | None) -> None:
    """The new schema is the one migrate built, and every table is still guarded."""
    assert plan is not None
    row = conn.execute("SELECT value FROM _migration_progress WHERE key = 'new_fingerprint'").fetchone()
    now_print = fingerprint(introspect(conn))
    if row is not None and row[0] != now_print:
        raise refuse("new_changed", detail=f"fingerprint {row[0]} -> {now_print}")
    guards = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    missing = [tp.target for tp in plan.tables
               if not set(guard_trigger_names(tp.target)) <= guards]
    if missing:
        raise refuse("new_changed", detail=f"the write guards of {', '.join(missing)} were dropped")


def schema_version(conn: sqlite3.Connection, schema: str) -> int:
    return int(conn.execute(f"PRAGMA {schema}.schema_version").fetchone()[0])


def checked_new_schema_version(conn: sqlite3.Connection, plan: Plan) -> int:
    """check_new_schema (migrate's, every table guarded), and the
    schema_version it holds for, read in one snapshot."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        version = schema_version(conn, "main")
        check_new_schema(conn, plan)
        return version
    finally:
        if own and conn.in_transaction:
            conn.execute("COMMIT")


@contextmanager
def guards_lifted(conn: sqlite3.Connection, table: str, names: list[str] | None = None) -> Iterator[None]:
    """Inside mig's open write transaction, drop `table`'s guard triggers and put them back.

    A guard checks `pragma_cache_size` for every row written, which costs
    more than the copy itself. Dropped and recreated (from their stored
    text) in the same transaction, the guards are in place in every
    committed state, so no other connection ever sees the table unguarded
    (invariant 7); if the block raises, the caller's rollback undoes the drop.
    """
    assert conn.in_transaction, "guards may only be lifted inside a transaction"
    names = names or guard_trigger_names(table)
    marks = ", ".join("?" for _ in names)
    stored = conn.execute(f"SELECT name, sql FROM main.sqlite_master WHERE type = 'trigger' "
                          f"AND name IN ({marks})", names).fetchall()
    for name, _ in stored:
        conn.execute(f"DROP TRIGGER main.{q(name)}")
    yield
    for _, sql in stored:
        conn.execute(sql)
