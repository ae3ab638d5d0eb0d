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
  alone: their foreign keys, the children of parents that went, each key
  the log named present in the new database exactly when it is in the old
  one, and no row changed that the log did not name (one a REPLACE pushed
  out over a new UNIQUE). Its cost follows the log since the whole checks,
  not the size of the database.

Drain records the log position its checks reached (state.CHECKED_THROUGH), in
the transaction that ends it; cutover opens the new database only when that
is the log's last entry.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from mig.model import ForeignKey, Schema, SeedRow, Table
from mig.plan.ops import Plan, TablePlan
from mig.sqltext import quote_ident as q
from mig.sqltext import sql_literal

__all__ = ["Tracked", "track", "problems", "fk_problems_whole", "count_mismatch"]


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


def _col(name: str, prefix: str = "") -> str:
    col = "rowid" if name == "rowid" else q(name)
    return f"{prefix}.{col}" if prefix else col


def _tuple(cols: tuple[str, ...], prefix: str = "") -> str:
    names = [_col(c, prefix) for c in cols]
    return names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"


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
        conn.execute(f"CREATE TEMP TABLE {_changed(name)} ({_slots(len(key))})")
        # Unqualified, as SQLite wants inside a trigger: a TEMP trigger finds temp's tables first.
        note = f"INSERT INTO {_changed(name).removeprefix('temp.')} VALUES"
        new, old = ", ".join(_col(k, "NEW") for k in key), ", ".join(_col(k, "OLD") for k in key)
        for op, body in (("INSERT", f"{note} ({new})"), ("DELETE", f"{note} ({old})"),
                         ("UPDATE", f"{note} ({old}), ({new})")):
            conn.execute(f"CREATE TEMP TRIGGER {q(f'mig_track_{name}_{op.lower()}')} AFTER {op} "
                         f"ON main.{q(name)} BEGIN {body}; END")
    for ref in refs:
        conn.execute(f"CREATE TEMP TABLE {_gone(ref)} ({_slots(len(ref.parent_columns))})")
        values = ", ".join(_col(c, "OLD") for c in ref.parent_columns)
        watched = ", ".join(q(c) for c in ref.parent_columns)
        for op in ("DELETE", f"UPDATE OF {watched}"):
            conn.execute(f"CREATE TEMP TRIGGER {q(f'mig_track_ref{ref.number}_{op.split()[0].lower()}')} "
                         f"AFTER {op} ON main.{q(ref.parent.name)} "
                         f"BEGIN INSERT INTO {_gone(ref).removeprefix('temp.')} VALUES ({values}); END")
    return Tracked(keys, refs)


# ---------------------------------------------------------------- foreign keys

def _no_parent(ref: _Ref, child: str = "c") -> str:
    """The child row `child` references a value no parent row holds (NULL references nothing).

    The parent's column comes first, so its collation decides, as SQLite's own check does.
    """
    present = " AND ".join(f"{_col(c, child)} IS NOT NULL" for c in ref.columns)
    match = " AND ".join(f"{_col(p, 'p')} = {_col(c, child)}" for p, c in zip(ref.parent_columns, ref.columns))
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
        written = f"{_tuple(key, 'c')} IN (SELECT {_slots(len(key))} FROM {_changed(ref.child.name)})"
        orphaned = (f"{_tuple(ref.columns, 'c')} IN "
                    f"(SELECT {_slots(len(ref.columns))} FROM {_gone(ref)})")
        cols = ", ".join(_col(c, "c") for c in ref.columns)
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


def _logged_keys(conn: sqlite3.Connection, tp: TablePlan, lo: int, hi: int) -> str:
    """Gather the table's keys logged in (lo, hi] into temp.mig_tail_keys; its name."""
    slots = _slots(len(tp.old_key))
    conn.execute("DROP TABLE IF EXISTS temp.mig_tail_keys")
    conn.execute(f"CREATE TEMP TABLE mig_tail_keys ({slots})")
    conn.execute(f"INSERT INTO temp.mig_tail_keys SELECT DISTINCT {slots} FROM old._migration_log "
                 "WHERE seq > ? AND seq <= ? AND tbl = ?", (lo, hi, tp.source))
    return "temp.mig_tail_keys"


def _presence(conn: sqlite3.Connection, tp: TablePlan, keys: str, seeds: tuple[SeedRow, ...]) -> str | None:
    """The logged keys name as many rows in the new table as in the old one (plus new seed rows)."""
    n = len(tp.old_key)
    pick = f"IN (SELECT {_slots(n)} FROM {keys})"
    old = conn.execute(f"SELECT count(*) FROM old.{q(tp.source or '')} WHERE {_tuple(tp.old_key)} {pick}").fetchone()[0]
    new = conn.execute(f"SELECT count(*) FROM main.{q(tp.target)} WHERE {_tuple(tp.new_key)} {pick}").fetchone()[0]
    if tp.nullable_key and conn.execute(f"SELECT 1 FROM {keys} WHERE "
                                        + " OR ".join(f"k{i + 1} IS NULL" for i in range(n))).fetchone():
        # A key holding a NULL matches nothing by IN: count every such row on both sides.
        old += conn.execute(f"SELECT count(*) FROM old.{q(tp.source or '')} WHERE "
                            + " OR ".join(f"{_col(k)} IS NULL" for k in tp.old_key)).fetchone()[0]
        new += conn.execute(f"SELECT count(*) FROM main.{q(tp.target)} WHERE "
                            + " OR ".join(f"{_col(k)} IS NULL" for k in tp.new_key)).fetchone()[0]
    match = " AND ".join(f"k{i + 1} IS ?" for i in range(n))
    expected = old + sum(
        1 for key in _seed_keys(seeds, tp.target, tp.new_key)
        if conn.execute(f"SELECT 1 FROM {keys} WHERE {match}", key).fetchone() is not None
        and conn.execute(f"SELECT 1 FROM old.{q(tp.source or '')} WHERE "
                         + " AND ".join(f"{_col(k)} IS ?" for k in tp.old_key), key).fetchone() is None)
    if new == expected:
        return None
    return (f"{tp.target} has {new} rows with the keys the log named since the whole check, "
            f"the old database {old}" + (f" (+{expected - old} seed rows)" if expected != old else ""))


def _strays(conn: sqlite3.Connection, table: str, key: tuple[str, ...], logged: str | None,
            seeds: tuple[SeedRow, ...]) -> str | None:
    """A row written in the new table whose key neither the log nor a seed row names."""
    n = len(key)
    match = " AND ".join(f"l.k{i + 1} = c.k{i + 1}" for i in range(n))
    where = f"NOT EXISTS (SELECT 1 FROM {logged} AS l WHERE {match})" if logged else "1"
    rows = conn.execute(f"SELECT DISTINCT {_slots(n)} FROM {_changed(table)} AS c WHERE {where}").fetchall()
    allowed = set(_seed_keys(seeds, table, key))
    if any(None in k for k in allowed):
        return None  # a seed row whose key SQLite assigns: its row cannot be told from a stray
    strays = [r for r in rows if tuple(r) not in allowed]
    if not strays:
        return None
    sample = ", ".join(f"{k}={sql_literal(v)}" for k, v in zip(key, strays[0]))
    return (f"{table}: replay changed {len(strays)} row(s) the log did not name, e.g. {sample} "
            "(a row written during the migration pushed it out over a UNIQUE of the new schema)")


def problems(conn: sqlite3.Connection, plan: Plan, tracked: Tracked, lo: int, hi: int,
             seeds: tuple[SeedRow, ...], frozen: bool) -> tuple[list[str], list[str]]:
    """What the whole checks would find now, asked of what changed since `track` (log (lo, hi]):
    (references without a parent, rows that do not add up).

    The counts need the old database frozen (`frozen`: writes are blocked):
    while it still takes writes, only the references are asked.
    """
    references = _fk_problems(conn, tracked)
    out: list[str] = []
    if not frozen:
        return references, out
    for table, key in tracked.keys.items():
        tp = plan.table(table)
        logged = _logged_keys(conn, tp, lo, hi) if tp is not None and tp.source is not None else None
        if logged is not None and tp is not None and _counts_rows(tp, seeds):
            if (problem := _presence(conn, tp, logged, seeds)) is not None:
                out.append(problem)
        if (problem := _strays(conn, table, key, logged, seeds)) is not None:
            out.append(problem)
    conn.execute("DROP TABLE IF EXISTS temp.mig_tail_keys")
    return references, out


def _counts_rows(tp: TablePlan, seeds: tuple[SeedRow, ...]) -> bool:
    """Seed rows in a table without a key are "insert unless identical": not countable."""
    return not any(s.table == tp.target for s in seeds) or (tp.replace_by_key and tp.new_key != ("rowid",))


def count_mismatch(conn: sqlite3.Connection, tp: TablePlan, seeds: tuple[SeedRow, ...]) -> str | None:
    """The new table holds the old one's rows plus its new seed rows (whole tables; old attached)."""
    if not _counts_rows(tp, seeds):
        return None
    old = conn.execute(f"SELECT count(*) FROM old.{q(tp.source or '')}").fetchone()[0]
    new = conn.execute(f"SELECT count(*) FROM main.{q(tp.target)}").fetchone()[0]
    match = " AND ".join(f"{_col(k)} IS ?" for k in tp.old_key)
    expected = old + sum(1 for key in _seed_keys(seeds, tp.target, tp.new_key)
                         if conn.execute(f"SELECT 1 FROM old.{q(tp.source or '')} WHERE {match}",
                                         key).fetchone() is None)
    if new == expected:
        return None
    return (f"{tp.target} has {new} rows, the old database {old}"
            + (f" (+{expected - old} seed rows)" if expected != old else ""))
