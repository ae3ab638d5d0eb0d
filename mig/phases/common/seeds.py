"""Seed rows and the row-count truth check, shared by migrate, drain and cutover.

Seed rows are stored in the new database at migrate time and applied after
the bulk copy and again at the end of every drain that leaves nothing
pending, so a replayed old row can never overwrite them. Each is upserted by
primary key; a conflict on another UNIQUE fails loudly instead of deleting
the other row (docs/fsx.md §4.10: no other row is deleted or changed).

The count check is the net under every path that could lose a row silently
(a row written during the migration that violates a new UNIQUE, displaced by
replay's INSERT OR REPLACE): once the old database is frozen, each new table
holds the old rows plus the seed rows that are new.
"""

from __future__ import annotations

import json
import sqlite3

from mig.ddl import seed_statements
from mig.errors import DatabaseError
from mig.model import Schema, SeedRow
from mig.plan.ops import Plan, TablePlan
from mig.sql.text import quote_ident as q
from mig.sql.values import decode_value
from mig.sqlite.introspect import introspect

__all__ = ["stored_seeds", "apply_seeds", "count_mismatches"]


def stored_seeds(conn: sqlite3.Connection) -> list[SeedRow]:
    row = conn.execute("SELECT seeds FROM main._migration_status").fetchone()
    return [SeedRow(t, tuple(c), tuple(decode_value(v) for v in vals))
            for t, c, vals in json.loads(row[0] if row else "[]")]


def apply_seeds(conn: sqlite3.Connection) -> int:
    """Upsert every stored seed row inside the caller's transaction; returns how many."""
    seeds = stored_seeds(conn)
    if seeds:
        tables = introspect(conn).tables
        for sql, params in seed_statements(Schema(tables=tables, seeds=tuple(seeds))):
            try:
                conn.execute(sql, params)
            except sqlite3.IntegrityError as exc:
                raise DatabaseError(f"a seed row of {_table_of(sql)} with {params!r} conflicts with "
                                    f"a row already there ({exc}); change the seed row or that row") from exc
    return len(seeds)


def _table_of(sql: str) -> str:
    return sql.split("INTO", 1)[1].split("(", 1)[0].strip()


def count_mismatches(conn: sqlite3.Connection, plan: Plan) -> list[str]:
    """Tables whose new row count is not the old one plus the new seed rows (old attached)."""
    seeds = stored_seeds(conn)
    out = []
    for tp in plan.captured:
        table_seeds = [s for s in seeds if s.table == tp.target]
        if table_seeds and (not tp.replace_by_key or tp.new_key == ("rowid",)):
            continue  # seeds into a keyless table: "insert unless identical", not countable
        old = conn.execute(f"SELECT count(*) FROM old.{q(tp.source or '')}").fetchone()[0]
        new = conn.execute(f"SELECT count(*) FROM main.{q(tp.target)}").fetchone()[0]
        expected = old + sum(1 for s in table_seeds if not _in_old(conn, tp, s))
        if new != expected:
            out.append(f"{tp.target} has {new} rows, the old database {old}"
                       + (f" (+{expected - old} seed rows)" if expected != old else ""))
    return out


def _in_old(conn: sqlite3.Connection, tp: TablePlan, seed: SeedRow) -> bool:
    values = seed.as_dict()
    lower = {k.lower(): v for k, v in values.items()}
    key = [lower.get(k.lower()) for k in tp.new_key]
    match = " AND ".join(f"{'rowid' if k == 'rowid' else q(k)} IS ?" for k in tp.old_key)
    return conn.execute(f"SELECT 1 FROM old.{q(tp.source or '')} WHERE {match}", key).fetchone() is not None
