"""The checks cutover's truth rests on, split around the write-unavailability window.

Cutover may open the new database only when every log entry is replayed,
every foreign key holds and every table holds the old rows plus the new seed
rows (invariant 8). Asked of whole tables that is a scan of the database,
and inside the window it grew with the database (1.1-1.2 s of a 1.7 s
cutover at 1M rows). So drain asks it in two parts:

- Whole, before writes are blocked, while the old service still writes:
  `PRAGMA foreign_key_check` over the new database, and each table's row
  count against the old one at the same log position (drain does that part:
  it owns replay).
- From then on only what changed. Temporary triggers on drain's own
  connection (`track`) note every row that replay or the seed rows insert,
  delete or re-key in the new database, and every referenced value that
  goes away. Once the tail is replayed, `problems` asks about those rows
  alone: their foreign keys, the children of parents that went, and for
  every key the log named or whose row changed, as many rows in the new
  table as in the old (so a row a REPLACE pushed out over a new UNIQUE is
  found though the log never named it). With the counts equal before, and
  every other row unchanged on both sides, the counts are equal after. Its
  cost follows the log since the whole checks, not the size of the database.

Drain records the log position its checks reached (state.CHECKED_THROUGH), in
the transaction that ends it; cutover opens the new database only when that
is the log's last entry.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from mig.model import ForeignKey, Schema, SeedRow, Table
from mig.plan.ops import Plan, TablePlan
from mig.plan.statements import column_ref, key_expr
from mig.sql.text import quote_ident as q
from mig.sql.text import sql_literal

__all__ = ["Tracked", "track", "forget", "problems", "fk_problems_whole", "count_mismatch", "Mismatch", "watch_deletes",
           "displaced"]


@dataclass(frozen=True)
class _Ref:
    """One foreign key of the new schema: `child.columns` -> `parent.columns`."""

    number: int
    child: Table
    columns: tuple[str, ...]
    parent: Table
    parent_columns: tuple[str, ...]


@dataclass(frozen=True)
class Tracked:
    """What `track` installed: each table's row key, and the foreign keys watched."""

    keys: dict[str, tuple[str, ...]]  # target table -> the columns that name one of its rows
    refs: tuple[_Ref, ...]


def _slots(n: int) -> str:
    return ", ".join(f"k{i + 1}" for i in range(n))


def _changed(table: str) -> str:
    return f"temp.{q('mig_changed_' + table)}"


def _gone(ref: _Ref) -> str:
    return f"temp.mig_gone_{ref.number}"


def _row_key(tp: TablePlan | None, table: Table) -> tuple[str, ...]:
    """The columns naming a row: the plan's new key (it holds the logged old key's values),
    else the table's own key."""
    if tp is not None and tp.source is not None:
        return tp.new_key
    return table.primary_key or ("rowid",)


def _refs(schema: Schema) -> tuple[_Ref, ...]:
    out: list[_Ref] = []
    for child in schema.tables:
        for fk in child.foreign_keys:
            parent = schema.table(fk.ref_table)
            parent_cols = _parent_columns(fk, parent)
            if parent is not None and parent_cols:
                out.append(_Ref(len(out), child, fk.columns, parent, parent_cols))
    return tuple(out)


def _parent_columns(fk: ForeignKey, parent: Table | None) -> tuple[str, ...]:
    if parent is None:
        return ()
    cols = fk.ref_columns or parent.primary_key
    return cols if len(cols) == len(fk.columns) else ()


def track(conn: sqlite3.Connection, plan: Plan, schema: Schema) -> Tracked:
    """From now on, note on `conn` every row written in the new database (`schema`, main).

    TEMP triggers: only this connection has them, they vanish with it, and
    the new database's own schema never changes. With recursive_triggers, a
    row that an INSERT OR REPLACE deletes fires them too.
    """
    conn.execute("PRAGMA recursive_triggers = ON")
    keys = {t.name: _row_key(plan.table(t.name), t) for t in schema.tables}
    refs = _refs(schema)
    for name, key in keys.items():
        conn.execute(f"CREATE TEMP TABLE {_changed(name)} ({_slots(len(key))}, PRIMARY KEY ({_slots(len(key))}))")
        table = _changed(name).removeprefix("temp.")
        note = {row: _note_once(table, [column_ref(k, row) for k in key]) for row in ("NEW", "OLD")}
        for op, body in (("INSERT", note["NEW"]), ("DELETE", note["OLD"]),
                         ("UPDATE", f"{note['OLD']}; {note['NEW']}")):
            conn.execute(f"CREATE TEMP TRIGGER {q(f'mig_track_{name}_{op.lower()}')} AFTER {op} "
                         f"ON main.{q(name)} BEGIN {body}; END")
    for ref in refs:
        slots = _slots(len(ref.parent_columns))
        conn.execute(f"CREATE TEMP TABLE {_gone(ref)} ({slots}, PRIMARY KEY ({slots}))")
        values = ", ".join(column_ref(c, "OLD") for c in ref.parent_columns)  # noted once each
        watched = ", ".join(q(c) for c in ref.parent_columns)
        for op in ("DELETE", f"UPDATE OF {watched}"):
            conn.execute(f"CREATE TEMP TRIGGER {q(f'mig_track_ref{ref.number}_{op.split()[0].lower()}')} "
                         f"AFTER {op} ON main.{q(ref.parent.name)} "
                         f"BEGIN {_note_once(_gone(ref).removeprefix('temp.'), values.split(', '))}; END")
    return Tracked(keys, refs)


def _note_once(table: str, values: list[str]) -> str:
    """A trigger statement that adds `values` to `table` unless they are there.

    Not INSERT OR IGNORE: an INSERT OR REPLACE that fires the trigger imposes its own
    conflict policy on the trigger's statements. `table` unqualified, as SQLite wants
    inside a trigger (a TEMP trigger finds temp's tables first).
    """
    match = " AND ".join(f"k{i + 1} IS {v}" for i, v in enumerate(values))
    return f"INSERT INTO {table} SELECT {', '.join(values)} WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {match})"


def forget(conn: sqlite3.Connection, tracked: Tracked) -> None:
    """Start noting afresh, once `problems` found nothing in what was noted so far."""
    for name in tracked.keys:
        conn.execute(f"DELETE FROM {_changed(name)}")
    for ref in tracked.refs:
        conn.execute(f"DELETE FROM {_gone(ref)}")


def _deleted(table: str) -> str:
    return q("mig_deleted_" + table)


def watch_deletes(conn: sqlite3.Connection, plan: Plan) -> None:
    """From now on note on `conn` the key of every row replay deletes from a new table,
    a row an INSERT OR REPLACE pushes out included (recursive_triggers), so that
    `displaced` can tell a batch that would lose a row before it commits."""
    conn.execute("PRAGMA recursive_triggers = ON")
    for tp in plan.captured:
        conn.execute(f"CREATE TEMP TABLE {_deleted(tp.target)} ({_slots(len(tp.new_key))})")
        old = ", ".join(column_ref(k, "OLD") for k in tp.new_key)
        conn.execute(f"CREATE TEMP TRIGGER {q('mig_watch_' + tp.target)} AFTER DELETE ON main.{q(tp.target)} "
                     f"BEGIN INSERT INTO {_deleted(tp.target)} VALUES ({old}); END")


def displaced(conn: sqlite3.Connection, tp: TablePlan, batch_keys: str) -> str | None:
    """A row the batch's replay of `tp` deleted though its key is not among the batch's
    logged keys (`batch_keys`): pushed out by a REPLACE over a UNIQUE of the new schema
    that a logged row breaks. Its message, naming both rows; None when there is none."""
    n = len(tp.new_key)
    logged = " AND ".join(f"k.k{i + 1} IS d.k{i + 1}" for i in range(n))
    # Compared as the tables compare their keys (a NOCASE key, 1 against 1.0): a row is
    # lost when the old database still holds it and the new one no longer does.
    in_old = " AND ".join(f"{column_ref(k, 'o')} = d.k{i + 1}" for i, k in enumerate(tp.old_key))
    in_new = " AND ".join(f"{column_ref(k, 'n')} = d.k{i + 1}" for i, k in enumerate(tp.new_key))
    row = conn.execute(f"SELECT {_slots(n)} FROM temp.{_deleted(tp.target)} AS d "
                       f"WHERE NOT EXISTS (SELECT 1 FROM {batch_keys} AS k WHERE {logged}) "
                       f"AND EXISTS (SELECT 1 FROM old.{q(tp.source or '')} AS o WHERE {in_old}) "
                       f"AND NOT EXISTS (SELECT 1 FROM main.{q(tp.target)} AS n WHERE {in_new}) LIMIT 1").fetchone()
    conn.execute(f"DELETE FROM temp.{_deleted(tp.target)}")
    if row is None:
        return None
    shown = ", ".join(f"{k}={sql_literal(v)}" for k, v in zip(tp.old_key, row))
    return f"{tp.target}: replay would push the row {shown} out of the new table" + _sharer(conn, tp, tuple(row))


def _sharer(conn: sqlite3.Connection, tp: TablePlan, key: tuple[object, ...]) -> str:
    """Which old row holds the same values as row `key` on a UNIQUE of the new table."""
    source = {c.target.lower(): c.source for c in tp.columns if c.source and c.expr is None}
    table = next((t for t in _new_tables(conn) if t.name == tp.target), None)
    for unique in table.uniques if table is not None else ():
        cols = [source.get(c.lower()) for c in unique]
        if not all(cols) or len(cols) != len(unique):
            continue
        same = " AND ".join(f"b.{q(c or '')} = a.{q(c or '')}" for c in cols)
        this = " AND ".join(f"{column_ref(k, 'a')} IS ?" for k in tp.old_key)
        other = " OR ".join(f"{column_ref(k, 'b')} IS NOT {column_ref(k, 'a')}" for k in tp.old_key)
        found = conn.execute(f"SELECT {', '.join(column_ref(k, 'b') for k in tp.old_key)}, "
                             f"{', '.join('b.' + q(c or '') for c in cols)} FROM old.{q(tp.source or '')} AS a "
                             f"JOIN old.{q(tp.source or '')} AS b ON {same} WHERE {this} AND ({other}) LIMIT 1",
                             key).fetchone()
        if found:
            n = len(tp.old_key)
            other_key = ", ".join(f"{k}={sql_literal(v)}" for k, v in zip(tp.old_key, found[:n]))
            values = ", ".join(f"{c}={sql_literal(v)}" for c, v in zip(unique, found[n:]))
            return (f": the row {other_key}, written during the migration, holds the same {values}, "
                    f"which the new schema's UNIQUE ({', '.join(unique)}) forbids")
    return " (a row written during the migration holds its value on a UNIQUE of the new schema)"


def _new_tables(conn: sqlite3.Connection) -> tuple[Table, ...]:
    from mig.sqlite.introspect import introspect  # only on the way to a refusal

    return introspect(conn).tables


# ---------------------------------------------------------------- foreign keys

def _no_parent(ref: _Ref, child: str = "c") -> str:
    """The child row `child` references a value no parent row holds (NULL references nothing).

    The parent's column comes first, so its collation decides, as SQLite's own check does.
    """
    present = " AND ".join(f"{column_ref(c, child)} IS NOT NULL" for c in ref.columns)
    match = " AND ".join(f"{column_ref(p, 'p')} = {column_ref(c, child)}" for p, c in zip(ref.parent_columns, ref.columns))
    return f"{present} AND NOT EXISTS (SELECT 1 FROM main.{q(ref.parent.name)} AS p WHERE {match})"


def _fk_message(ref: _Ref, count: int, sample: tuple[object, ...]) -> str:
    values = ", ".join(sql_literal(v) for v in sample)
    cols = ", ".join(ref.columns)
    return (f"{count} row(s) of {ref.child.name} reference a missing {ref.parent.name} row; "
            f"e.g. {ref.child.name}.{cols} = {values}")


def fk_problems_whole(conn: sqlite3.Connection) -> list[str]:
    """SQLite's own check of every reference in the new database (before the window)."""
    bad = conn.execute("PRAGMA main.foreign_key_check").fetchall()
    if not bad:
        return []
    table, rowid, parent, _ = bad[0]
    return [f"{len(bad)} row(s) reference a missing parent row; e.g. {table} rowid {rowid} "
            f"references a missing {parent} row"]


def _fk_problems(conn: sqlite3.Connection, tracked: Tracked) -> list[str]:
    """References of the rows written since `track`, and to the parent values that went."""
    out = []
    for ref in tracked.refs:
        key = tracked.keys[ref.child.name]
        written = f"{key_expr(key, 'c')} IN (SELECT {_slots(len(key))} FROM {_changed(ref.child.name)})"
        orphaned = (f"{key_expr(ref.columns, 'c')} IN "
                    f"(SELECT {_slots(len(ref.columns))} FROM {_gone(ref)})")
        cols = ", ".join(column_ref(c, "c") for c in ref.columns)
        for where in (written, orphaned):
            sql = f"FROM main.{q(ref.child.name)} AS c WHERE {where} AND {_no_parent(ref)}"
            count = conn.execute(f"SELECT count(*) {sql}").fetchone()[0]
            if count:
                out.append(_fk_message(ref, count, conn.execute(f"SELECT {cols} {sql} LIMIT 1").fetchone()))
                break
    return out


# ---------------------------------------------------------------- rows

def _seed_keys(seeds: tuple[SeedRow, ...], table: str, key: tuple[str, ...]) -> list[tuple[object, ...]]:
    """The keys of `table`'s seed rows, in `key`'s column order (None where a seed row
    leaves a key column to SQLite)."""
    out: list[tuple[object, ...]] = []
    for seed in seeds:
        if seed.table == table:
            values = {k.lower(): v for k, v in seed.as_dict().items()}
            out.append(tuple(values.get(k.lower()) for k in key))
    return out


def _compared_keys(conn: sqlite3.Connection, tp: TablePlan, lo: int, hi: int, seeds: tuple[SeedRow, ...]) -> str:
    """The keys to compare, gathered into temp.mig_compared_<width>: those the log named in (lo, hi]
    and those whose rows changed in the new database, less the seed rows' (checked apart)."""
    slots = _slots(len(tp.old_key))
    table = f"mig_compared_{len(tp.old_key)}"
    # Created once and emptied, never dropped: a schema change, a temporary table's too,
    # makes SQLite prepare every cached statement of the connection again.
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({slots})")
    conn.execute(f"DELETE FROM temp.{table}")
    conn.execute(f"INSERT INTO temp.{table} SELECT {slots} FROM old._migration_log "
                 f"WHERE seq > ? AND seq <= ? AND tbl = ? UNION SELECT {slots} FROM {_changed(tp.target)}",
                 (lo, hi, tp.source))
    match = " AND ".join(f"k{i + 1} IS ?" for i in range(len(tp.old_key)))
    for key in _seed_keys(seeds, tp.target, tp.new_key):
        conn.execute(f"DELETE FROM temp.{table} WHERE {match}", key)
    return f"temp.{table}"


def _rows_differ(conn: sqlite3.Connection, tp: TablePlan, keys: str) -> str | None:
    """A key naming a different number of rows in the new table than in the old one: a row
    lost, kept after the old one went, or pushed out by a REPLACE over a new UNIQUE.
    By key and with IS, so a key holding a NULL counts its rows too."""
    def rows(table: str, cols: tuple[str, ...]) -> str:
        match = " AND ".join(f"{column_ref(c)} IS k.k{i + 1}" for i, c in enumerate(cols))
        return f"(SELECT count(*) FROM {table} WHERE {match})"
    old, new = rows(f"old.{q(tp.source or '')}", tp.old_key), rows(f"main.{q(tp.target)}", tp.new_key)
    slots = _slots(len(tp.old_key))
    differ = f"FROM {keys} AS k WHERE {new} <> {old}"
    count = conn.execute(f"SELECT count(*) {differ}").fetchone()[0]
    if not count:
        return None
    sample = conn.execute(f"SELECT {slots}, {new}, {old} {differ} LIMIT 1").fetchone()
    n = len(tp.old_key)
    key = ", ".join(f"{k}={sql_literal(v)}" for k, v in zip(tp.old_key, sample[:n]))
    return (f"{tp.target}: {count} key(s) name other rows than in the old database, "
            f"e.g. {key}: {sample[n]} row(s) in the new table, {sample[n + 1]} in the old")


def problems(conn: sqlite3.Connection, plan: Plan, tracked: Tracked, lo: int, hi: int,
             seeds: tuple[SeedRow, ...]) -> tuple[list[str], list[str]]:
    """What the whole checks would find now, asked of what was noted since `track` or
    `forget` and of the keys logged in (lo, hi]: (references without a parent, keys
    that name other rows than in the old database). The old database must be at log
    position `hi`, where the new one's checkpoint is: frozen, or read in the caller's
    transaction.
    """
    references = _fk_problems(conn, tracked)
    out: list[str] = []
    for tp in plan.captured:
        if not _counts_rows(tp, seeds):
            continue
        if (problem := _rows_differ(conn, tp, _compared_keys(conn, tp, lo, hi, seeds))) is not None:
            out.append(problem)
    return references, out


def _counts_rows(tp: TablePlan, seeds: tuple[SeedRow, ...]) -> bool:
    """Seed rows in a table without a key are "insert unless identical": not countable."""
    return not any(s.table == tp.target for s in seeds) or (tp.replace_by_key and tp.new_key != ("rowid",))


@dataclass(frozen=True)
class Mismatch:
    text: str
    surplus: bool  # more rows in the new table than the old one explains


def count_mismatch(conn: sqlite3.Connection, tp: TablePlan, seeds: tuple[SeedRow, ...]) -> Mismatch | None:
    """The new table holds the old one's rows plus its new seed rows (whole tables; old attached)."""
    if not _counts_rows(tp, seeds):
        return None
    old = conn.execute(f"SELECT count(*) FROM old.{q(tp.source or '')}").fetchone()[0]
    new = conn.execute(f"SELECT count(*) FROM main.{q(tp.target)}").fetchone()[0]
    match = " AND ".join(f"{column_ref(k)} IS ?" for k in tp.old_key)
    expected = old + sum(1 for key in _seed_keys(seeds, tp.target, tp.new_key)
                         if conn.execute(f"SELECT 1 FROM old.{q(tp.source or '')} WHERE {match}",
                                         key).fetchone() is None)
    if new == expected:
        return None
    return Mismatch(f"{tp.target} has {new} rows, the old database {old}"
                    + (f" (+{expected - old} seed rows)" if expected != old else ""), new > expected)
