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
from typing import Callable, Iterator

from mig.introspect import introspect
from mig.model import Schema, canonical_json
from mig.phases.state import refuse
from mig.plan.ops import Plan
from mig.plan.statements import guard_trigger_names, logging_trigger_names
from mig.sqltext import quote_ident as q

__all__ = ["Progress", "fingerprint", "check_old_schema", "guards_lifted"]

# (what, done, total or None) -> None: how copy and replay report their progress.
Progress = Callable[[str, int, "int | None"], None]


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
        out += [f"column {tp.source}.{c.source} is gone" for c in tp.copied_columns
                if c.how != "rowid" and table.column(c.source) is None]  # type: ignore[arg-type]
    return out


def _check_capture(conn: sqlite3.Connection, schema: Schema) -> None:
    """Refuse when a capture trigger migrate installed on the old database is gone: a
    plain client can drop one (no trigger sees DDL, and fingerprints leave ours out),
    and the writes after that were never logged."""
    have = {r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'trigger'")}
    gone = [n for t in schema.tables for n in logging_trigger_names(t) if n not in have]
    if gone:
        raise refuse("capture_gone", names=", ".join(gone))


@contextmanager
def guards_lifted(conn: sqlite3.Connection, table: str) -> Iterator[None]:
    """Inside mig's open write transaction, drop `table`'s guard triggers and put them back.

    A guard checks `pragma_cache_size` for every row written, which costs
    more than the copy itself. Dropped and recreated (from their stored
    text) in the same transaction, the guards are in place in every
    committed state, so no other connection ever sees the table unguarded
    (invariant 7); if the block raises, the caller's rollback undoes the drop.
    """
    assert conn.in_transaction, "guards may only be lifted inside a transaction"
    names = guard_trigger_names(table)
    marks = ", ".join("?" for _ in names)
    stored = conn.execute(f"SELECT name, sql FROM main.sqlite_master WHERE type = 'trigger' "
                          f"AND name IN ({marks})", names).fetchall()
    for name, _ in stored:
        conn.execute(f"DROP TRIGGER main.{q(name)}")
    yield
    for _, sql in stored:
        conn.execute(sql)
