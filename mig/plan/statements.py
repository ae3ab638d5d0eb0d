"""The SQL that copies and replays rows, produced from the plan; `mig plan` shows the
same text. Replay copies a logged row's current state from the old database, or
deletes it from the new one when it is gone: idempotent and order-insensitive,
so the copy runs in short chunks without a long snapshot, and values travel
SQLite to SQLite, never through JSON or Python (invariants 3, 5, 9). What is
logged, and how, is `mig.plan.capture`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mig.plan.mapping import source_sql
from mig.plan.ops import Plan, TablePlan
from mig.sql.text import quote_ident as q
from mig.sql.text import quote_str

__all__ = [
    "copy_chunk_sql",
    "chunk_end_sql",
    "replay_sql",
    "GONE_OPS",
    "KEYS",
    "column_ref",
    "key_expr",
    "Replay",
    "replay_keys_sql",
    "keys_table",
    "insert_mapped_sql",
    "plan_statements",
]

# ---------------------------------------------------------------- copy and replay

def _select_list(tp: TablePlan, alias: str | None = None) -> tuple[str, str]:
    """(target column list, old select list) for the copied columns; an expression's
    columns qualified by `alias` when given (a revert's kept column reads them inside
    a subquery of its own, where a bare name would be the subquery's)."""
    cols = list(tp.copied_columns)
    targets = [q(c.target) for c in cols]
    sources = [source_sql(c, alias or "") for c in cols]
    if tp.copy_rowid:
        targets.insert(0, "rowid")
        sources.insert(0, "rowid")
    return ", ".join(targets), ", ".join(sources)


def insert_mapped_sql(tp: TablePlan, where: str, alias: str | None = None, target_alias: str | None = None) -> str:
    """Write old rows matching `where` (the old table named `alias`) into the new table
    (named `target_alias`, for an upsert's clauses), replacing what is there."""
    targets, sources = _select_list(tp, alias)
    named = f" AS {alias}" if alias else ""
    target_named = f" AS {target_alias}" if target_alias else ""
    return (f"INSERT OR REPLACE INTO main.{q(tp.target)}{target_named} ({targets}) "
            f"SELECT {sources} FROM old.{q(tp.source or '')}{named} WHERE {where}")


def key_expr(cols: tuple[str, ...], prefix: str = "") -> str:
    """A key's columns as one SQL value: `c`, or the row value `(a, b)` (`prefix.` on each)."""
    names = [column_ref(c, prefix) for c in cols]
    return names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"


def _params(n: int) -> str:
    return "?" if n == 1 else "(" + ", ".join("?" for _ in range(n)) + ")"


def chunk_end_sql(tp: TablePlan, first: bool) -> str:
    """The chunk key `size` rows on from the last copied key (params: [last...], size-1)."""
    key = key_expr(tp.chunk_key)
    cols = ", ".join("rowid" if c == "rowid" else q(c) for c in tp.chunk_key)
    where = "" if first else f"WHERE {key} > {_params(len(tp.chunk_key))} "
    return f"SELECT {cols} FROM old.{q(tp.source or '')} {where}ORDER BY {cols} LIMIT 1 OFFSET ?"


def copy_chunk_sql(tp: TablePlan, first: bool, last: bool) -> str:
    """Copy the rows after the previous chunk up to and including the chunk end."""
    key = key_expr(tp.chunk_key)
    n = len(tp.chunk_key)
    conds = []
    if not first:
        conds.append(f"{key} > {_params(n)}")
    if not last:
        conds.append(f"{key} <= {_params(n)}")
    return insert_mapped_sql(tp, " AND ".join(conds) or "1")


GONE_OPS = ("D", "M", "R")  # the ops after which a logged row may be gone (see capture)
KEYS = "temp.mig_keys"  # prefix of the tables of a batch's distinct keys of one table (see keys_table)


def column_ref(name: str, prefix: str = "") -> str:
    """A column in SQL, quoted unless it is the rowid, as `prefix.col` when given a prefix."""
    return ("rowid" if name == "rowid" else q(name)) if not prefix else \
        f"{prefix}.{'rowid' if name == 'rowid' else q(name)}"


def _match(left: tuple[str, ...], lp: str, right: tuple[str, ...], rp: str) -> str:
    return " AND ".join(f"{column_ref(a, lp)} = {column_ref(b, rp)}" for a, b in zip(left, right))


def keys_table(tp: TablePlan) -> str:
    """The temporary table holding a batch's distinct logged keys of `tp`: one per key
    shape, kept for the connection's life and emptied per batch (see replay_keys_sql)."""
    return f"{KEYS}_i" if tp.integer_key else f"{KEYS}_{len(tp.old_key)}"


def replay_keys_sql(tp: TablePlan) -> list[str]:
    """Gather the table's distinct logged keys in (seq_from, seq_to] once per batch.

    Every replay statement then reads them through this table's own index,
    instead of each one sorting the batch's log entries again.
    The table is created once and emptied, never dropped: a schema change (a
    temporary table's too) makes SQLite prepare every cached statement of the
    connection again, replay's upserts with the new tables' triggers among
    them, which cost more than the replay of a short batch (the window's
    tail at 1M rows: ~1 ms per table). The INSERT comes last; its row count is
    how many keys.
    Named params: :lo and :hi, the batch's seq range.
    """
    n = len(tp.old_key)
    slots = [f"k{i + 1}" for i in range(n)]
    cols = "k1 INTEGER PRIMARY KEY" if tp.integer_key else \
        ", ".join(slots) + f", PRIMARY KEY ({', '.join(slots)})"
    table = keys_table(tp)
    return [
        f"CREATE TABLE IF NOT EXISTS {table} ({cols})",
        f"DELETE FROM {table}",
        f"INSERT OR IGNORE INTO {table} SELECT {', '.join(slots)} FROM old._migration_log "
        f"WHERE seq > :lo AND seq <= :hi AND tbl = {quote_str(tp.source or '')}",
    ]


@dataclass(frozen=True)
class Replay:
    """The statements that replay one table's logged rows, in the order they run.

    `keys` gathers the batch's distinct keys (its INSERT's row count is how
    many); `delete` removes rows gone from the old database (when
    `delete_gone_only`, it looks for them among the keys logged with a
    GONE_OPS op alone, so a batch without one for the table may skip it);
    `upsert` inserts rows the new database lacks and updates in place those
    whose indexed columns did not change; `replace` writes the rest. When delete and
    upsert together account for every key (their row counts count keys only if
    `counts_keys`: each key names at most one old row), nothing is left for
    `replace`, and the phase may skip it; `nulls` always runs.
    """

    keys: tuple[str, ...]
    keys_table: str
    delete: str
    upsert: str | None
    replace: str
    nulls: tuple[str, ...] = ()
    delete_gone_only: bool = False
    counts_keys: bool = False

    @property
    def statements(self) -> list[str]:
        return [*self.keys, self.delete, *([self.upsert] if self.upsert else []), self.replace, *self.nulls]


def replay_sql(tp: TablePlan) -> Replay:
    """Bring the rows logged in (:lo, :hi] to the old database's state.

    Rows gone from the old database are deleted; every other logged row is
    written with its current values. One upsert inserts the rows the new
    database lacks and updates in place those whose indexed columns did not
    change (no index is touched); the rest go through INSERT OR REPLACE,
    which overwrites the row with the same key and any stale row holding one
    of its UNIQUE values. When the target's key is not
    the key the log records, every logged row is deleted first so a row
    whose target key moved leaves no stale copy. Running it twice gives the
    same result (invariant 5).
    """
    slots = tuple(f"k{i + 1}" for i in range(len(tp.old_key)))
    keys = f"SELECT {', '.join(slots)} FROM {keys_table(tp)}"
    old_t, new_t = f"old.{q(tp.source or '')}", f"main.{q(tp.target)}"
    if tp.replace_by_key:
        doomed = (f"SELECT {', '.join(slots)} FROM old._migration_log AS l WHERE seq > :lo AND seq <= :hi "
                  f"AND tbl = {quote_str(tp.source or '')} AND op IN ({', '.join(map(quote_str, GONE_OPS))}) AND NOT EXISTS "
                  f"(SELECT 1 FROM {old_t} AS o WHERE {_match(tp.old_key, 'o', slots, 'l')})")
    else:
        doomed = keys
    logged = f"{key_expr(tp.old_key, 'o')} IN ({keys})"
    if tp.updated:
        unchanged = _unchanged(tp, "n", "o")
        logged += (f" AND NOT EXISTS (SELECT 1 FROM {new_t} AS n WHERE "
                   f"{_match(tp.new_key, 'n', tp.old_key, 'o')} AND {unchanged})")
    return Replay(
        keys=tuple(replay_keys_sql(tp)),
        keys_table=keys_table(tp),
        delete=f"DELETE FROM {new_t} WHERE {key_expr(tp.new_key)} IN ({doomed})",
        upsert=_upsert_sql(tp, keys) if tp.updated else None,
        replace=insert_mapped_sql(tp, logged, alias="o"),
        nulls=tuple(_null_key_sql(tp)) if tp.nullable_key else (),
        delete_gone_only=tp.replace_by_key,
        counts_keys=tp.unique_old_key and not tp.nullable_key,
    )


def _unchanged(tp: TablePlan, n: str, o: str) -> str:
    """The key and the compared columns hold the same value, type and bytes in the new
    row `n` and the old row `o`.

    The key too: rows matched by `=` under a NOCASE key, or 1 against 1.0 in an
    untyped one, are the same row with a different key value.
    """
    source = {c.target: c.source or "" for c in tp.columns}
    pairs = [(k, ok) for k, ok in zip(tp.new_key, tp.old_key) if k != "rowid"]
    return _same(pairs + [(c, source[c]) for c in tp.compared], n, o)


def _same(pairs: list[tuple[str, str]], left: str, right: str) -> str:
    parts = [f"{column_ref(a, left)} IS {column_ref(b, right)} COLLATE BINARY "
             f"AND typeof({column_ref(a, left)}) = typeof({column_ref(b, right)})" for a, b in pairs]
    return " AND ".join(f"({p})" for p in parts) or "1"


def _upsert_sql(tp: TablePlan, keys: str) -> str:
    """Insert the logged rows; where the key is there already, update the non-indexed
    columns in place if the key and the indexed columns hold the old row's values
    (as the insert carries them, before the column's affinity), else leave the
    row to `replace`.

    One pass instead of an update and an insert: each row is read from the old
    database once. A stale row holding one of an inserted row's UNIQUE values
    is replaced, as `replace` would. Only where the fast path holds, so the
    new key is the target's PRIMARY KEY and ON CONFLICT can name it.
    """
    targets = ", ".join(q(c) for c in tp.updated)
    values = ", ".join(f"excluded.{q(c)}" for c in tp.updated)
    pairs = [(c, c) for c in (*tp.new_key, *tp.compared) if c != "rowid"]
    insert = insert_mapped_sql(tp, f"{key_expr(tp.old_key, 'o')} IN ({keys})", alias="o", target_alias="n")
    return (f"{insert} ON CONFLICT ({', '.join(q(k) for k in tp.new_key)}) DO UPDATE SET "
            f"({targets}) = ({values}) WHERE {_same(pairs, 'n', 'excluded')}")


def _null_key_sql(tp: TablePlan) -> list[str]:
    """Rows whose key holds a NULL cannot be told apart by it: when the batch logged
    one, every such row of the table is copied again."""
    any_null = " OR ".join(f"k{i + 1} IS NULL" for i in range(len(tp.old_key)))
    logged_null = f"EXISTS (SELECT 1 FROM {keys_table(tp)} WHERE {any_null})"
    new_null = " OR ".join(f"{column_ref(k)} IS NULL" for k in tp.new_key)
    old_null = " OR ".join(f"{column_ref(k, 'o')} IS NULL" for k in tp.old_key)
    return [f"DELETE FROM main.{q(tp.target)} WHERE ({new_null}) AND {logged_null}",
            insert_mapped_sql(tp, f"({old_null}) AND {logged_null}", alias="o")]


def plan_statements(plan: Plan) -> dict[str, list[str]]:
    """Per target table, the copy and replay SQL (what `mig plan --json` shows)."""
    return {tp.target: [copy_chunk_sql(tp, True, True)] + replay_sql(tp).statements
            for tp in plan.captured}
