"""Refuse first: compare the live old database with the target and ask every data question.

Read-only on the old database (invariant 1), and in short reads only
(invariant 9): a question over a big table is asked range by range of its
key, each range its own read transaction, so in rollback-journal mode the
old service's writers never wait behind mig for long. A question about the
whole table at once (duplicates) first gathers its rows, range by range,
into a private temporary database on disk, and is asked there.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from mig.db import attach_old, let_writers_in, translate_errors
from mig.introspect import introspect
from mig.model import Schema
from mig.plan.compare import compare
from mig.plan.ops import GATHERED, RANGE, DataCheck, Plan, Refusal
from mig.sqltext import quote_ident as q

__all__ = ["make_plan", "CHECK_CHUNK_ROWS"]

CHECK_CHUNK_ROWS = 20_000


def make_plan(old_path: Path, target: Schema) -> tuple[Schema, Plan]:
    """Compare and run every data check, read-only. Refusals are in the plan."""
    with translate_errors(f"reading {old_path}"):
        # "" is a private temporary database on disk: gathered rows never fill memory.
        conn = sqlite3.connect("", isolation_level=None)
        try:
            attach_old(conn, old_path, reader=True)
            old_schema = introspect(conn, "old")
            plan = compare(old_schema, target)
            refusals = list(plan.refusals) + _virtual_tables(conn)
            for check in plan.checks:
                refusal = _run_check(conn, check)
                if refusal is not None:
                    refusals.append(refusal)
        finally:
            conn.close()
    return old_schema, replace(plan, refusals=tuple(refusals))


def _virtual_tables(conn: sqlite3.Connection) -> list[Refusal]:
    """SQLite allows no triggers on a virtual table, so its writes could not be captured."""
    rows = conn.execute("SELECT name FROM old.sqlite_master WHERE type = 'table' "
                        "AND sql LIKE 'CREATE VIRTUAL TABLE%'").fetchall()
    return [Refusal(name, None, "a virtual table: SQLite allows no triggers on it, so mig cannot "
                    "capture its writes", "move it out of the database before migrating (and rebuild "
                    "it in the new one afterwards)") for (name,) in rows]


def _key(cols: tuple[str, ...]) -> str:
    names = ["rowid" if c == "rowid" else q(c) for c in cols]
    return names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"


def _marks(n: int) -> str:
    return "?" if n == 1 else "(" + ", ".join("?" * n) + ")"


def _ranges(conn: sqlite3.Connection, table: str | None,
            key_cols: tuple[str, ...]) -> Iterator[tuple[str, tuple[object, ...]]]:
    """RANGE replacements that cover `table` in short reads of its key (one, whole, if None)."""
    if table is None:
        yield "1", ()
        return
    key, cols = _key(key_cols), ", ".join("rowid" if c == "rowid" else q(c) for c in key_cols)
    last: tuple[object, ...] | None = None
    while True:
        after = "" if last is None else f"WHERE {key} > {_marks(len(key_cols))} "
        params: tuple[object, ...] = () if last is None else last
        end = conn.execute(f"SELECT {cols} FROM old.{q(table)} {after}ORDER BY {cols} LIMIT 1 OFFSET ?",
                           params + (CHECK_CHUNK_ROWS - 1,)).fetchone()
        lower = "" if last is None else f"{key} > {_marks(len(key_cols))} AND "
        if end is None:
            yield (lower + "1"), params
            return
        yield (lower + f"{key} <= {_marks(len(key_cols))}"), params + tuple(end)
        last = tuple(end)


def _run_check(conn: sqlite3.Connection, check: DataCheck) -> Refusal | None:
    if check.gather_sql is not None:
        return _run_gathered(conn, check)
    count, sample = 0, None
    for cond, params in _ranges(conn, check.chunk_table, check.chunk_key):
        n_marks = check.count_sql.count(RANGE)
        found = conn.execute(check.count_sql.replace(RANGE, cond), params * n_marks).fetchone()[0]
        let_writers_in()
        if found and sample is None:
            sample = _sample(conn, check.sample_sql.replace(RANGE, cond), params * n_marks)
        count += found
    return _refusal(check, count, sample)


def _run_gathered(conn: sqlite3.Connection, check: DataCheck) -> Refusal | None:
    """Copy the check's rows range by range into GATHERED, then count there."""
    assert check.gather_sql is not None
    conn.execute(f"DROP TABLE IF EXISTS {GATHERED}")
    first = True
    for cond, params in _ranges(conn, check.chunk_table, check.chunk_key):
        sql = check.gather_sql.replace(RANGE, cond)
        n = params * check.gather_sql.count(RANGE)
        conn.execute(f"CREATE TABLE {GATHERED} AS {sql}" if first else f"INSERT INTO {GATHERED} {sql}", n)
        first = False
        let_writers_in()
    count = conn.execute(check.count_sql).fetchone()[0]
    sample = _sample(conn, check.sample_sql, ()) if count else None
    conn.execute(f"DROP TABLE {GATHERED}")
    return _refusal(check, count, sample)


def _sample(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> str | None:
    cur = conn.execute(sql, params)
    row = cur.fetchone()
    names = [d[0] for d in cur.description]
    return ", ".join(f"{n}={v!r}" for n, v in zip(names, row)) if row else None


def _refusal(check: DataCheck, count: int, sample: str | None) -> Refusal | None:
    if not count:
        return None
    return Refusal(check.table, check.column, check.reason, check.hint, count, sample)
