"""`mig verify`: compare the new database with the old one mapped through the stored plan.

Per table: the row counts, and every row against its counterpart by key --
value, type and bytes of each copied column -- which is an order-independent
comparison stronger than a checksum (docs/runbook.md, "Where mig looks for files"): two tables agree exactly
when no row of either side lacks an identical row on the other. The
comparison runs in SQL, range by range of the old key, each range its own
short read on both files, so verify is safe at any time (invariant 9) and
fast enough to run before every cutover. Columns that take their default
(new columns) and seed rows are not compared: the old database has nothing
to compare them with. Before drain finishes, differences are expected for
the pending log entries.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from mig.errors import WrongState
from mig.model import SeedRow
from mig.phases.common.safeguards import check_old_schema
from mig.phases.common.seeds import stored_seeds
from mig.phases.common.state import read_new, read_old, refuse
from mig.plan.mapping import source_sql
from mig.plan.ops import ColumnSource, Plan, TablePlan
from mig.sql.text import quote_ident as q
from mig.sqlite.connect import attach_old, open_ro, translate_errors
from mig.sqlite.pacing import let_writers_in

__all__ = ["VerifyReport", "TableVerdict", "verify", "VERIFY_CHUNK_ROWS"]

MAX_KEYS = 5
VERIFY_CHUNK_ROWS = 50_000
SEED_KEYS = "temp.mig_seed_keys"
SEED_ROWS = "temp.mig_seed_rows"


@dataclass
class TableVerdict:
    table: str
    old_rows: int
    new_rows: int
    differing_rows: int = 0  # rows of either side without an identical row on the other
    differing_keys: list[str] = field(default_factory=list)
    json_properties = ("ok",)

    @property
    def ok(self) -> bool:
        return not self.differing_rows and self.old_rows == self.new_rows


@dataclass
class VerifyReport:
    old: str
    new: str
    tables: list[TableVerdict]
    rows: int
    seconds: float
    json_properties = ("ok", "rate")

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def verify(new_path: Path, old_path: Path | None = None) -> VerifyReport:
    with translate_errors(f"verifying {new_path}"):
        conn = open_ro(new_path)
        try:
            state = read_new(conn)
            if state.plan is None or state.old_path is None:
                raise WrongState(f"{new_path} is not a mig target (no stored plan); nothing to verify")
            old_path = old_path or Path(state.old_path)
            _check_old(old_path, state.plan)
            attach_old(conn, old_path, reader=True)
            seeds = stored_seeds(conn)
            started = time.monotonic()
            verdicts = [_verify_table(conn, _Sides(tp, _seed_keys(seeds, tp), _seed_rows(seeds, tp)))
                        for tp in state.plan.captured]
            seconds = time.monotonic() - started
        finally:
            conn.close()
    rows = sum(v.old_rows + v.new_rows for v in verdicts)
    return VerifyReport(str(old_path), str(new_path), verdicts, rows, seconds)


def _check_old(old_path: Path, plan: Plan) -> None:
    """Before comparing: the old database is still what migrate planned from (its marker,
    its schema), so a difference is a difference in rows, not a column gone since."""
    if not old_path.is_file():
        raise refuse("old_missing", path=old_path)
    conn = open_ro(old_path)
    try:
        state = read_old(conn, counted=False)
        if state.fingerprint is not None:  # after cleanup-old nothing was recorded to hold it to
            check_old_schema(conn, state.fingerprint, plan)
    finally:
        conn.close()


def _seed_keys(seeds: list[SeedRow], tp: TablePlan) -> list[tuple[object, ...]]:
    """Keys of seed rows: they legitimately differ from the old data. A keyless table's
    seed rows have no key (their rowid is whatever SQLite gave them): see _seed_rows."""
    out: list[tuple[object, ...]] = []
    for s in seeds:
        if s.table == tp.target and tp.new_key != ("rowid",):
            values = {k.lower(): v for k, v in s.as_dict().items()}
            out.append(tuple(values.get(k.lower()) for k in tp.new_key))
    return out


def _seed_rows(seeds: list[SeedRow], tp: TablePlan) -> list[SeedRow]:
    """A keyless table's seed rows, recognised in the new database by their values."""
    return [s for s in seeds if s.table == tp.target and tp.new_key == ("rowid",)]


def _col(name: str, alias: str) -> str:
    return f"{alias}.{'rowid' if name == 'rowid' else q(name)}"


class _Sides:
    """The SQL that looks at one table from both sides, by key."""

    def __init__(self, tp: TablePlan, seed_keys: list[tuple[object, ...]],
                 seed_rows: list[SeedRow]) -> None:
        self.tp, self.seed_keys, self.seed_rows = tp, seed_keys, seed_rows
        self.old_t, self.new_t = f"old.{q(tp.source or '')}", f"main.{q(tp.target)}"
        cols = tp.copied_columns
        self.same = " AND ".join(
            [f"{_col(n, 'n')} IS {_col(o, 'o')}" for o, n in zip(tp.old_key, tp.new_key)]
            + [_same_value(c) for c in cols])
        # IS, not =: rows whose key holds a NULL are compared too (nullable keys).
        self.key_match = " AND ".join(f"{_col(o, 'o')} IS {_col(n, 'n')}" for o, n in zip(tp.old_key, tp.new_key))
        self.seed_only = self._seed_only(cols)

    def _seed_only(self, cols: tuple[ColumnSource, ...]) -> str | None:
        """A new row that is a keyless table's seed row and no old row's copy: not compared."""
        if not self.seed_rows:
            return None
        seeded = " AND ".join(f"s.{q(c)} IS {_col(c, 'n')}" for c in self.seed_rows[0].columns)
        copied = " AND ".join(_same_value(c) for c in cols) or "1"
        return (f"(EXISTS (SELECT 1 FROM {SEED_ROWS} AS s WHERE {seeded}) AND NOT EXISTS "
                f"(SELECT 1 FROM {self.old_t} AS o WHERE {copied}))")

    def range_sql(self, alias: str, key: tuple[str, ...], lo: bool, hi: bool) -> str:
        """Rows of one side in (lo, hi] of the key's own order, never a seed row;
        keys holding a NULL are compared on their own (null_sql)."""
        k = _tuple(key, alias)
        parts = [f"{k} > {_marks(len(key))}" if lo else "1", f"{k} <= {_marks(len(key))}" if hi else "1"]
        parts.append(" AND ".join(f"{_col(c, alias)} IS NOT NULL" for c in key))
        if self.seed_keys:
            slots = ", ".join(f"k{i + 1}" for i in range(len(key)))
            parts.append(f"{k} NOT IN (SELECT {slots} FROM {SEED_KEYS})")
        if alias == "n" and self.seed_only:
            parts.append(f"NOT {self.seed_only}")
        return " AND ".join(parts)

    def null_sql(self, alias: str, key: tuple[str, ...]) -> str:
        return "(" + " OR ".join(f"{_col(c, alias)} IS NULL" for c in key) + ")"


def _same_value(c: ColumnSource) -> str:
    """New row `n` holds in column `c` what old row `o` holds in its source (or what its
    conversion computes from it): value, type, bytes."""
    n, o = _col(c.target, "n"), source_sql(c, "o")
    return f"{n} IS {o} COLLATE BINARY AND typeof({n}) = typeof({o})"


def _tuple(cols: tuple[str, ...], alias: str) -> str:
    """The key as one value; in its columns' own collation, so the key's index serves the ranges."""
    names = [_col(c, alias) for c in cols]
    return names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"


def _marks(n: int) -> str:
    return "?" if n == 1 else "(" + ", ".join("?" * n) + ")"


def _ranges(conn: sqlite3.Connection, sides: _Sides) -> Iterator[tuple[tuple[object, ...] | None,
                                                                       tuple[object, ...] | None]]:
    """(lo, hi] bounds over the old key, VERIFY_CHUNK_ROWS old rows each; None is open."""
    key = sides.tp.old_key
    cols = ", ".join(f"{_col(c, 'o')}" for c in key)
    order = cols
    nonnull = " AND ".join(f"{_col(c, 'o')} IS NOT NULL" for c in key)
    lo: tuple[object, ...] | None = None
    while True:
        after = f" AND {_tuple(key, 'o')} > {_marks(len(key))}" if lo is not None else ""
        hi = conn.execute(f"SELECT {cols} FROM {sides.old_t} AS o WHERE {nonnull}{after} "
                          f"ORDER BY {order} LIMIT 1 OFFSET ?", (*(lo or ()), VERIFY_CHUNK_ROWS - 1)).fetchone()
        yield lo, tuple(hi) if hi is not None else None
        if hi is None:
            return
        lo = tuple(hi)


def _store_seed_keys(conn: sqlite3.Connection, sides: _Sides) -> None:
    """The seed keys in a temporary table (there may be thousands; no statement takes that many values)."""
    width = len(sides.tp.new_key)
    slots = ", ".join(f"k{i + 1}" for i in range(width))
    conn.execute(f"DROP TABLE IF EXISTS {SEED_KEYS}")
    conn.execute(f"CREATE TABLE {SEED_KEYS} ({slots})")
    conn.executemany(f"INSERT INTO {SEED_KEYS} VALUES ({', '.join('?' * width)})", sides.seed_keys)


def _store_seed_rows(conn: sqlite3.Connection, sides: _Sides) -> None:
    """A keyless table's seed rows (those with the first one's columns) in a temporary table."""
    cols = sides.seed_rows[0].columns
    conn.execute(f"DROP TABLE IF EXISTS {SEED_ROWS}")
    conn.execute(f"CREATE TABLE {SEED_ROWS} ({', '.join(q(c) for c in cols)})")
    conn.executemany(f"INSERT INTO {SEED_ROWS} VALUES ({', '.join('?' * len(cols))})",
                     [r.values for r in sides.seed_rows if r.columns == cols])


def _verify_table(conn: sqlite3.Connection, sides: _Sides) -> TableVerdict:
    verdict = TableVerdict(sides.tp.target, 0, 0)
    if sides.seed_keys:
        _store_seed_keys(conn, sides)
    if sides.seed_rows:
        _store_seed_rows(conn, sides)
    if not sides.tp.replace_by_key:
        _compare_whole(conn, sides, verdict)
        return verdict
    for lo, hi in _ranges(conn, sides):
        conn.execute("BEGIN")  # one short read of both files: the range is seen as of one moment
        try:
            _compare(conn, sides, verdict, sides.range_sql("o", sides.tp.old_key, lo is not None, hi is not None),
                     sides.range_sql("n", sides.tp.new_key, lo is not None, hi is not None),
                     _params(lo, hi))
        finally:
            conn.execute("COMMIT")
        let_writers_in()
    if sides.tp.nullable_key:
        _compare(conn, sides, verdict, sides.null_sql("o", sides.tp.old_key),
                 sides.null_sql("n", sides.tp.new_key), ())
    return verdict


def _params(lo: tuple[object, ...] | None, hi: tuple[object, ...] | None) -> tuple[object, ...]:
    return (*(lo or ()), *(hi or ()))


def _compare(conn: sqlite3.Connection, sides: _Sides, verdict: TableVerdict, old_where: str,
             new_where: str, params: tuple[object, ...]) -> None:
    """Counts of one key range, and the rows of either side with no identical counterpart."""
    verdict.old_rows += conn.execute(f"SELECT count(*) FROM {sides.old_t} AS o WHERE {old_where}",
                                     params).fetchone()[0]
    verdict.new_rows += conn.execute(f"SELECT count(*) FROM {sides.new_t} AS n WHERE {new_where}",
                                     params).fetchone()[0]
    old_keys = ", ".join(_col(c, "o") for c in sides.tp.old_key)
    new_keys = ", ".join(_col(c, "n") for c in sides.tp.new_key)
    lonely_old = (f"SELECT {old_keys} FROM {sides.old_t} AS o WHERE {old_where} AND NOT EXISTS "
                  f"(SELECT 1 FROM {sides.new_t} AS n WHERE {sides.same})")
    lonely_new = (f"SELECT {new_keys} FROM {sides.new_t} AS n WHERE {new_where} AND NOT EXISTS "
                  f"(SELECT 1 FROM {sides.old_t} AS o WHERE {sides.key_match})")

    for sql in (lonely_old, lonely_new):
        for row in conn.execute(sql, params):
            verdict.differing_rows += 1
            if len(verdict.differing_keys) < MAX_KEYS:
                key = repr(row[0] if len(row) == 1 else tuple(row))
                if key not in verdict.differing_keys:
                    verdict.differing_keys.append(key)


def _compare_whole(conn: sqlite3.Connection, sides: _Sides, verdict: TableVerdict) -> None:
    """A table whose key in the new schema is not its own primary key has no index to probe
    by: both sides are compared as sets of rows (value and type of each column) at once."""
    tp = sides.tp

    def rows(alias: str, table: str, key: tuple[str, ...], cols: list[str]) -> str:
        values = [f"typeof({c}), {c} COLLATE BINARY" for c in cols]
        slots = ", ".join(f"k{i + 1}" for i in range(len(key)))
        where = f"{_tuple(key, alias)} NOT IN (SELECT {slots} FROM {SEED_KEYS})" if sides.seed_keys else "1"
        return f"SELECT {', '.join(_col(k, alias) for k in key)}, {', '.join(values)} FROM {table} AS {alias} " \
               f"WHERE {where}"

    old = rows("o", sides.old_t, tp.old_key, [source_sql(c, "o") for c in tp.copied_columns])
    new = rows("n", sides.new_t, tp.new_key, [_col(c.target, "n") for c in tp.copied_columns])
    verdict.old_rows = conn.execute(f"SELECT count(*) FROM ({old})").fetchone()[0]
    verdict.new_rows = conn.execute(f"SELECT count(*) FROM ({new})").fetchone()[0]
    width = len(tp.old_key)
    for a, b in ((old, new), (new, old)):
        for row in conn.execute(f"SELECT * FROM ({a} EXCEPT {b})"):
            verdict.differing_rows += 1
            key = repr(row[0] if width == 1 else tuple(row[:width]))
            if len(verdict.differing_keys) < MAX_KEYS and key not in verdict.differing_keys:
                verdict.differing_keys.append(key)
