"""`mig verify`: compare the new database with the old one mapped through the stored plan.

Per table: row count and an order-independent checksum, computed in one
streaming pass over both sides in key order, which also names the first keys
that differ. Columns that take their default (new columns) and rows that are
seed rows are not compared: the old database has nothing to compare them
with. Read-only on both sides; safe at any time (before drain finishes,
differences are expected for the pending log entries).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from mig.db import attach_old, open_ro, translate_errors
from mig.errors import WrongState
from mig.model import encode_value
from mig.phases.seeds import stored_seeds
from mig.phases.state import read_new
from mig.plan.ops import TablePlan
from mig.sqltext import quote_ident as q

__all__ = ["VerifyReport", "TableVerdict", "verify"]

MAX_KEYS = 5


@dataclass
class TableVerdict:
    table: str
    old_rows: int
    new_rows: int
    old_checksum: str
    new_checksum: str
    differing_keys: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differing_keys and self.old_checksum == self.new_checksum \
            and self.old_rows == self.new_rows


@dataclass
class VerifyReport:
    old: str
    new: str
    tables: list[TableVerdict]
    rows: int
    seconds: float

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
            attach_old(conn, old_path, reader=True)
            started = time.monotonic()
            verdicts = [_verify_table(conn, tp, _seed_keys(conn, tp)) for tp in state.plan.captured]
            seconds = time.monotonic() - started
        finally:
            conn.close()
    rows = sum(v.old_rows + v.new_rows for v in verdicts)
    return VerifyReport(str(old_path), str(new_path), verdicts, rows, seconds)


def _seed_keys(conn: sqlite3.Connection, tp: TablePlan) -> set[tuple[object, ...]]:
    """Keys of seed rows: they legitimately differ from the old data."""
    return {tuple(s.as_dict().get(k) for k in tp.new_key)
            for s in stored_seeds(conn) if s.table == tp.target}


def _rows(conn: sqlite3.Connection, sql: str, width: int) -> Iterator[tuple[tuple[object, ...], int]]:
    """(key, row digest) in key order."""
    for row in conn.execute(sql):
        digest = hashlib.blake2b(repr([encode_value(v) for v in row[width:]]).encode(), digest_size=8)
        yield tuple(row[:width]), int.from_bytes(digest.digest(), "big")


def _side_sql(tp: TablePlan, old: bool) -> str:
    cols = tp.copied_columns
    if old:
        keys = ["rowid" if k == "rowid" else q(k) for k in tp.old_key]
        vals = ["rowid" if c.source == "rowid" else q(c.source or "") for c in cols]
        frm = f"old.{q(tp.source or '')}"
    else:
        keys = ["rowid" if k == "rowid" else q(k) for k in tp.new_key]
        vals = [q(c.target) for c in cols]
        frm = f"main.{q(tp.target)}"
    order = ", ".join(f"{i + 1} COLLATE BINARY" for i in range(len(keys)))
    return f"SELECT {', '.join(keys + vals)} FROM {frm} ORDER BY {order}"


def _verify_table(conn: sqlite3.Connection, tp: TablePlan, skip: set[tuple[object, ...]]) -> TableVerdict:
    """Merge both sides in key order: counts, checksums and the first differing keys."""
    width = len(tp.old_key)
    olds = (r for r in _rows(conn, _side_sql(tp, True), width) if r[0] not in skip)
    news = (r for r in _rows(conn, _side_sql(tp, False), width) if r[0] not in skip)
    verdict = TableVerdict(tp.target, 0, 0, "", "")
    o, n = next(olds, None), next(news, None)
    osum = nsum = 0
    while o is not None or n is not None:
        take_old = n is None or (o is not None and not _lt(n[0], o[0]))
        take_new = o is None or (n is not None and not _lt(o[0], n[0]))
        if not (take_old and take_new) or o[1] != n[1]:  # type: ignore[index]
            _differ(verdict, (o if take_old else n)[0])  # type: ignore[index]
        if take_old:
            verdict.old_rows += 1
            osum = (osum + o[1]) % 2**64  # type: ignore[index]
            o = next(olds, None)
        if take_new:
            verdict.new_rows += 1
            nsum = (nsum + n[1]) % 2**64  # type: ignore[index]
            n = next(news, None)
    verdict.old_checksum, verdict.new_checksum = f"{osum:016x}", f"{nsum:016x}"
    return verdict


def _lt(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    """SQLite's ordering of values: NULL < numbers < text < blob."""
    def rank(v: object) -> tuple[int, object]:
        if v is None:
            return (0, 0)
        if isinstance(v, (int, float)):
            return (1, v)
        if isinstance(v, str):
            return (2, v)
        return (3, v)
    return [rank(x) for x in a] < [rank(x) for x in b]


def _differ(verdict: TableVerdict, key: tuple[object, ...]) -> None:
    if len(verdict.differing_keys) < MAX_KEYS:
        verdict.differing_keys.append(repr(key[0] if len(key) == 1 else key))
