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

from mig.errors import SchemaInputError, WrongState
from mig.model import Schema, SeedRow
from mig.phases.common.state import log_max
from mig.plan.checks import plan_checks
from mig.plan.compare import compare, intent_problems
from mig.plan.ops import EVALUATE, GATHERED, RANGE, DataCheck, Plan, Refusal, TablePlan
from mig.sql.text import quote_ident as q
from mig.sql.text import sql_literal
from mig.sqlite.connect import attach_old, failed_computing, translate_errors
from mig.sqlite.introspect import introspect
from mig.sqlite.pacing import Pace, let_writers_in

__all__ = ["make_plan", "logged_checks", "logged_refusals"]



def _unevaluable_defaults(conn: sqlite3.Connection, plan: Plan, target: Schema) -> list[Refusal]:
    """A new column's DEFAULT is evaluated by mig's copy for every old row: one SQLite
    cannot evaluate here (a function mig's connection lacks, malformed JSON) would fail
    the copy after capture is installed, so the plan refuses it."""
    out = []
    for tp in plan.captured:
        table = target.table(tp.target)
        for col in tp.columns:
            column = table.column(col.target) if table is not None and col.how == "default" else None
            default = column.default if column is not None else None
            if default is None:
                continue
            try:
                conn.execute(f"SELECT {default}").fetchall()
            except sqlite3.Error as exc:
                old_t = f"old.{q(tp.source or '')}"
                rows = conn.execute(f"SELECT count(*) FROM {old_t}").fetchone()[0]
                keys = ", ".join(q(k) if k != "rowid" else "rowid" for k in tp.old_key)
                out.append(Refusal(tp.target, col.target, f"SQLite cannot evaluate its DEFAULT {default} ({exc})",
                                   "use a constant or an expression of SQLite's built-in functions", rows,
                                   _sample(conn, f"SELECT {keys} FROM {old_t} LIMIT 1", ())))
    return out


def _nulled(target: Schema, refused: list[Refusal]) -> Schema:
    """`target` with the refused columns' DEFAULT made NULL."""
    bad = {(r.table, r.column) for r in refused}
    return replace(target, tables=tuple(
        replace(t, columns=tuple(replace(c, default="NULL") if (t.name, c.name) in bad else c
                                 for c in t.columns)) for t in target.tables))


def make_plan(old_path: Path, target: Schema) -> tuple[Schema, Plan]:
    """Compare and run every data check, read-only. Refusals are in the plan."""
    with translate_errors(f"reading {old_path}"):
        # "" is a private temporary database on disk: gathered rows never fill memory.
        conn = sqlite3.connect("", isolation_level=None)
        try:
            attach_old(conn, old_path, reader=True)
            old_schema = introspect(conn, "old")
            _refuse_intents_naming_nothing(old_schema, target)
            plan = compare(old_schema, target)
            defaults = _unevaluable_defaults(conn, plan, target)
            virtual = _virtual_tables(conn)
            refusals = list(plan.refusals) + virtual + defaults
            # The checks read the mapped rows, the refused DEFAULTs too: ask them with
            # NULL there (and not about those columns), so every other refusal is listed.
            checks = compare(old_schema, _nulled(target, defaults)).checks if defaults else plan.checks
            refused_columns = {(r.table, r.column) for r in defaults}
            refused_tables = {r.table for r in virtual}  # one refusal for a virtual table, not two
            for check in checks:
                if (check.table, check.column) in refused_columns or check.table in refused_tables:
                    continue
                refusal = _run_check(conn, check)
                if refusal is not None:
                    refusals.append(refusal)
                    if _stops_table(check, plan.table(check.table)):
                        refused_tables.add(check.table)
        finally:
            conn.close()
    return old_schema, replace(plan, refusals=tuple(refusals))


def _stops_table(check: DataCheck, tp: TablePlan | None) -> bool:
    """A conversion SQLite cannot compute for some row: the table's later checks read the
    converted values too and would fail on the same row, so they are not asked."""
    return check.kind == EVALUATE and tp is not None and any(
        c.how == "converted" and c.target == check.column for c in tp.columns)


def _refuse_intents_naming_nothing(old: Schema, target: Schema) -> None:
    problems = intent_problems(old, target)
    if not problems:
        return
    at, problem = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    message = (f"{problem}{more}; correct the name, or remove the declaration if it was meant "
               "for an earlier migration")
    if at is None:
        raise WrongState(message)
    raise SchemaInputError(*at, message)


def logged_checks(conn: sqlite3.Connection, plan: Plan, seeds: tuple[SeedRow, ...]) -> list[DataCheck]:
    """The plan's questions, to ask again of the rows written while the old database
    recorded (see logged_refusals): on `conn` with the new database as main and the
    old one attached as `old`. References are left out: drain checks every
    reference in the new database."""
    target = replace(introspect(conn), seeds=seeds)
    return [c for c in plan_checks(list(plan.tables), introspect(conn, "old"), target)
            if c.kind != "foreign-key"]


def logged_refusals(conn: sqlite3.Connection, plan: Plan, checks: list[DataCheck],
                    lo: int = 0, hi: int | None = None, live: bool = False) -> list[Refusal]:
    """The `checks` (logged_checks) asked of the rows whose keys were logged in (lo, hi].

    The plan asked them of the rows that existed when it ran; a row written
    later (text '007' into what becomes an INTEGER column, a NULL where a new
    key goes, a value in a column dropped because it was empty) would be
    changed or lost by replay without a word. `live`: the old service still
    writes, so the log and the tables are read in short ranges (a long read
    would hold its writers back in rollback-journal mode).
    """
    top = hi if hi is not None else log_max(conn, "old")
    out: list[Refusal] = []
    for tp in plan.captured:
        mine = [c for c in checks if c.chunk_table == tp.source and c.table == tp.target]
        if mine:
            cond = _logged_keys(conn, tp, lo, top, live)
            for c in mine:
                refusal = _run_check(conn, c if live else replace(c, chunk_table=None), cond)
                out += [refusal] if refusal is not None else []
                if refusal is not None and _stops_table(c, tp):
                    break
    for name in plan.dropped_tables:  # dropped because it was empty: is it still?
        rows = 0 if name in plan.declared_drops else \
            conn.execute(f"SELECT count(*) FROM old.{q(name)}").fetchone()[0]
        if rows:
            out.append(Refusal(name, None, "the new schema drops this table, which was empty at "
                               "migrate time and has rows now", f"declare it with `-- mig:drop-table "
                               f"{name}`, or keep the table", rows))
    return out


LOG_READ = 100_000  # log entries per read when gathering logged keys while the old service writes


def _logged_keys(conn: sqlite3.Connection, tp: TablePlan, lo: int, hi: int, live: bool) -> str:
    """Gather the table's keys logged in (lo, hi] once; the condition that picks their rows."""
    slots = ", ".join(f"k{i + 1}" for i in range(len(tp.old_key)))
    conn.execute("DROP TABLE IF EXISTS temp.mig_logged")
    conn.execute(f"CREATE TABLE temp.mig_logged ({slots}, PRIMARY KEY ({slots}))")
    step = LOG_READ if live else max(hi - lo, 1)
    for start in range(lo, hi, step):
        conn.execute(f"INSERT OR IGNORE INTO temp.mig_logged SELECT {slots} FROM old._migration_log "
                     "WHERE seq > ? AND seq <= ? AND tbl = ?", (start, min(start + step, hi), tp.source))
        if live:
            let_writers_in()
    cond = f"{_key(tp.old_key)} IN (SELECT {slots} FROM temp.mig_logged)"
    if not tp.nullable_key:
        return cond
    # A key holding a NULL matches nothing by IN: any such row, if one was logged.
    row_null = " OR ".join(f"{q(k)} IS NULL" for k in tp.old_key)
    slot_null = " OR ".join(f"k{i + 1} IS NULL" for i in range(len(tp.old_key)))
    return f"({cond} OR (({row_null}) AND EXISTS (SELECT 1 FROM temp.mig_logged WHERE {slot_null})))"


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


def _ranges(conn: sqlite3.Connection, table: str | None, key_cols: tuple[str, ...],
            only: str = "1", pace: Pace | None = None) -> Iterator[tuple[str, tuple[object, ...]]]:
    """RANGE replacements that cover `table` in short reads of its key (one, whole, if None),
    each `pace.rows` long at the moment it is made, and narrowed by `only`."""
    if table is None:
        yield only, ()
        return
    if only != "1":
        for cond, bounds in _ranges(conn, table, key_cols, "1", pace):
            yield f"({cond}) AND {only}", bounds
        return
    pace = pace or Pace()
    key, cols = _key(key_cols), ", ".join("rowid" if c == "rowid" else q(c) for c in key_cols)
    last: tuple[object, ...] | None = None
    while True:
        after = "" if last is None else f"WHERE {key} > {_marks(len(key_cols))} "
        params: tuple[object, ...] = () if last is None else last
        pace.start()  # finding the range's end is a read of the old database too
        end = conn.execute(f"SELECT {cols} FROM old.{q(table)} {after}ORDER BY {cols} LIMIT 1 OFFSET ?",
                           params + (pace.rows - 1,)).fetchone()
        lower = "" if last is None else f"{key} > {_marks(len(key_cols))} AND "
        if end is None:
            yield (lower + "1"), params
            return
        yield (lower + f"{key} <= {_marks(len(key_cols))}"), params + tuple(end)
        last = tuple(end)


def _run_check(conn: sqlite3.Connection, check: DataCheck, only: str = "1") -> Refusal | None:
    """Ask one question range by range (`only` narrows it further: to the logged rows)."""
    if check.gather_sql is not None:
        return _run_gathered(conn, check, only)
    count, sample = 0, None
    pace = Pace()
    for cond, params in _ranges(conn, check.chunk_table, check.chunk_key, only, pace):
        n_marks = check.count_sql.count(RANGE)
        try:
            found = conn.execute(check.count_sql.replace(RANGE, cond), params * n_marks).fetchone()[0]
        except sqlite3.OperationalError as exc:
            if check.kind != EVALUATE or not failed_computing(exc):
                raise
            return Refusal(check.table, check.column, f"{check.reason} ({exc})", check.hint, 0,
                           _failing_row(conn, check, cond, params))
        pace.done()
        let_writers_in()
        if found and sample is None:
            sample = _sample(conn, check.sample_sql.replace(RANGE, cond), params * n_marks)
        count += found
    return _refusal(check, count, sample)


def _failing_row(conn: sqlite3.Connection, check: DataCheck, cond: str,
                 params: tuple[object, ...]) -> str | None:
    """The key of the first row of a range whose computation fails. SQLite computes row by
    row; sqlite3 steps one row ahead of what it returns, so the failing row is the one
    stepped last or the one before, and the one whose computation alone fails is it
    (OFFSET skips rows without computing their columns)."""
    if check.each_sql is None or check.chunk_table is None:
        return None
    sql, marks = check.each_sql.replace(RANGE, cond), params * check.each_sql.count(RANGE)
    stepped = 0
    try:
        cur = conn.execute(sql, marks)
        stepped = 1
        while cur.fetchone() is not None:
            stepped += 1
    except sqlite3.OperationalError:
        pass
    for offset in (stepped, stepped - 1):
        try:
            conn.execute(f"{sql} LIMIT 1 OFFSET {max(offset, 0)}", marks).fetchall()
        except sqlite3.OperationalError:
            keys = ", ".join("rowid" if k == "rowid" else q(k) for k in check.chunk_key)
            return _sample(conn, f"SELECT {keys} FROM old.{q(check.chunk_table or '')} WHERE {cond} "
                           f"LIMIT 1 OFFSET {max(offset, 0)}", params)
    return None


def _run_gathered(conn: sqlite3.Connection, check: DataCheck, only: str = "1") -> Refusal | None:
    """Copy the check's rows range by range into GATHERED, then count there."""
    assert check.gather_sql is not None
    conn.execute(f"DROP TABLE IF EXISTS {GATHERED}")
    first = True
    pace = Pace()
    for cond, params in _ranges(conn, check.chunk_table, check.chunk_key, only, pace):
        sql = check.gather_sql.replace(RANGE, cond)
        n = params * check.gather_sql.count(RANGE)
        conn.execute(f"CREATE TABLE {GATHERED} AS {sql}" if first else f"INSERT INTO {GATHERED} {sql}", n)
        pace.done()
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
    return ", ".join(f"{n}={sql_literal(v)}" for n, v in zip(names, row)) if row else None


def _refusal(check: DataCheck, count: int, sample: str | None) -> Refusal | None:
    if not count:
        return None
    return Refusal(check.table, check.column, check.reason, check.hint, count, sample)
