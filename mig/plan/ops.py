"""The plan as data: frozen dataclasses, rendered and executed elsewhere.

A plan says, for every target table, where each column's data comes from,
how a row is recognised on both sides (the key the capture log records), and
what is created, renamed or dropped. A change that would lose or corrupt
data is a ``Refusal`` in the plan, not an exception, so ``mig plan`` can list
every one at once. The plan is stored in the new database as JSON so that
drain replays with exactly the plan that copied.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ColumnSource", "TablePlan", "DataCheck", "Refusal", "Plan", "RANGE"]

# Stands in a check's SQL where the runner puts a rowid range of `chunk_table`,
# so a check over a big table is many short reads, not one long one: in
# rollback-journal mode a long read would stall the old service's writers.
RANGE = "/*mig:range*/1"


@dataclass(frozen=True)
class ColumnSource:
    """Target column `target` takes old column `source`, or its default when None.

    how: "same" (same name), "renamed" (declared), "rowid" (the old rowid
    becomes a new INTEGER PRIMARY KEY), "default" (new column).
    """

    target: str
    source: str | None
    how: str


@dataclass(frozen=True)
class TablePlan:
    target: str
    source: str | None  # old table; None for a table that starts empty
    how: str  # "copy" | "renamed" | "create"
    columns: tuple[ColumnSource, ...] = ()
    dropped_columns: tuple[str, ...] = ()  # old columns not carried over
    # How a row is recognised: the old key (primary key, or the rowid of a
    # keyless table) and the target columns holding the same values.
    old_key: tuple[str, ...] = ()
    new_key: tuple[str, ...] = ()
    chunk_key: tuple[str, ...] = ()  # old columns the bulk copy walks in order
    copy_rowid: bool = False  # carry the old rowid into the new one explicitly
    autoincrement: bool = False  # carry the AUTOINCREMENT counter
    # new_key is the target's own key, so INSERT OR REPLACE overwrites the row
    # in place and replay only has to delete rows gone from the old database.
    replace_by_key: bool = False

    @property
    def copied_columns(self) -> tuple[ColumnSource, ...]:
        return tuple(c for c in self.columns if c.source is not None)


@dataclass(frozen=True)
class DataCheck:
    """A question about the old data whose non-zero answer is a refusal.

    `count_sql` returns one integer; `sample_sql` returns one row to show.
    Both read the old database attached as `old`, and both contain RANGE:
    the runner sums `count_sql` over rowid ranges of `chunk_table`, or runs
    it once with RANGE true when `chunk_table` is None.
    """

    table: str
    column: str | None
    reason: str
    hint: str
    count_sql: str
    sample_sql: str
    chunk_table: str | None = None


@dataclass(frozen=True)
class Refusal:
    table: str
    column: str | None
    reason: str
    hint: str
    rows: int = 0
    sample: str | None = None

    @property
    def message(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        rows = f"{self.rows} row{'s' if self.rows != 1 else ''} affected" if self.rows else ""
        sample = f"e.g. {self.sample}" if self.sample else ""
        detail = "; ".join(x for x in (rows, sample) if x)
        return f"{where}: {self.reason}" + (f" ({detail})" if detail else "") + f"; {self.hint}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message}


@dataclass(frozen=True)
class Plan:
    schema_hash: str
    tables: tuple[TablePlan, ...]  # copy order: parents before children
    dropped_tables: tuple[str, ...] = ()  # old tables not carried over
    declared_drops: tuple[str, ...] = ()  # of those, the ones the schema declares
    checks: tuple[DataCheck, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def table(self, target: str) -> TablePlan | None:
        return next((t for t in self.tables if t.target == target), None)

    def by_source(self, source: str) -> TablePlan | None:
        return next((t for t in self.tables if t.source == source), None)

    @property
    def captured(self) -> tuple[TablePlan, ...]:
        """Tables whose old rows flow into the new database (copy and replay)."""
        return tuple(t for t in self.tables if t.source is not None)

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("checks")
        return json.dumps(data, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> "Plan":
        data = json.loads(text)
        tables = tuple(
            TablePlan(**{**t, "columns": tuple(ColumnSource(**c) for c in t["columns"]),
                         **{k: tuple(t[k]) for k in ("dropped_columns", "old_key", "new_key", "chunk_key")}})
            for t in data["tables"]
        )
        return Plan(
            schema_hash=data["schema_hash"], tables=tables,
            dropped_tables=tuple(data["dropped_tables"]), declared_drops=tuple(data["declared_drops"]),
            refusals=tuple(Refusal(**r) for r in data["refusals"]), notes=tuple(data["notes"]),
        )
