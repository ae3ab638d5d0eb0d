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

__all__ = ["ColumnSource", "TablePlan", "DataCheck", "Refusal", "ObjectChange", "Plan", "RANGE", "EVALUATE",
           "GATHERED"]

# Stands in a check's SQL where the runner puts a key range of `chunk_table`,
# so a check over a big table is many short reads, not one long one: in
# rollback-journal mode a long read would stall the old service's writers.
RANGE = "/*mig:range*/1"
# The table a check with `gather_sql` counts in: the gathered rows, held by
# the checker (on disk, not in memory), never in the old database.
GATHERED = "main._gathered"
# The kind of a check whose SQL computes the new schema's own expressions (a CHECK, an
# index term, a generated column): an SQLite error while asking it is the answer (the
# copy would fail the same way), a refusal, not a failure of the plan.
EVALUATE = "evaluate"


@dataclass(frozen=True)
class ColumnSource:
    """Target column `target` takes old column `source`, or its default when None.

    how: "same" (same name), "renamed" (declared), "rowid" (the old rowid
    becomes a new INTEGER PRIMARY KEY), "default" (new column), "converted"
    (declared: `expr`, SQL over the old row, which reads the old columns
    `reads`; `source` is the first of them, or "" for an expression that
    reads none), "kept" (a revert's: an old column the new table lacks keeps
    the value of the row it replaces, `expr` over the replayed row's key).
    """

    target: str
    source: str | None
    how: str
    expr: str | None = None
    reads: tuple[str, ...] = ()


@dataclass(frozen=True)
class TablePlan:
    target: str
    source: str | None  # old table; None for a table that starts empty
    how: str  # "copy" | "renamed" | "create"
    columns: tuple[ColumnSource, ...] = ()
    dropped_columns: tuple[str, ...] = ()  # old columns not carried over
    declared_drops: tuple[str, ...] = ()  # of those, the ones the schema declares dropped
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
    integer_key: bool = False  # the old key is the rowid (or its alias): always an integer
    nullable_key: bool = False  # the old key may be NULL (a non-INTEGER key of a rowid table)
    # The old table holds at most one row per old key (its primary key or rowid),
    # so a count of rows replay wrote counts keys. Not so for a keyless table whose
    # key comes from its columns: a duplicate may exist for a while during recording.
    unique_old_key: bool = False
    # Replay's fast path: a row whose `compared` columns (everything an index or
    # constraint reads) are unchanged is updated in place, `updated` columns
    # only, which touches no index. Empty when the table cannot take it.
    updated: tuple[str, ...] = ()
    compared: tuple[str, ...] = ()

    @property
    def copied_columns(self) -> tuple[ColumnSource, ...]:
        return tuple(c for c in self.columns if c.source is not None)


_TUPLES = ("dropped_columns", "declared_drops", "old_key", "new_key", "chunk_key", "updated", "compared")


@dataclass(frozen=True)
class DataCheck:
    """A question about the old data whose non-zero answer is a refusal.

    `count_sql` returns one integer; `sample_sql` returns one row to show.
    Both read the old database attached as `old` and contain RANGE: the
    runner sums `count_sql` over ranges of `chunk_key` (the rowid, or a
    WITHOUT ROWID table's primary key) of `chunk_table`, or runs it once with
    RANGE true when `chunk_table` is None. A question about the whole table
    at once (duplicates) has `gather_sql` instead: the runner copies its rows
    range by range into GATHERED, then asks `count_sql` and `sample_sql`
    there, so the old database is never read for long.
    """

    table: str
    column: str | None
    reason: str
    hint: str
    count_sql: str
    sample_sql: str
    chunk_table: str | None = None
    chunk_key: tuple[str, ...] = ("rowid",)
    gather_sql: str | None = None
    # "foreign-key" for reference checks: after replay, cutover's foreign_key_check
    # over the new database answers those for every row at once.
    kind: str = ""
    # For an EVALUATE check: every row of the range with its expressions computed, so the
    # runner can find the row whose computation fails (the row before it came back).
    each_sql: str | None = None


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


@dataclass(frozen=True, order=True)
class ObjectChange:
    """An index, view or trigger of the target that is new or changed, or an old one dropped."""

    kind: str  # index | view | trigger
    name: str
    change: str  # new | changed | dropped


@dataclass(frozen=True)
class Plan:
    schema_hash: str
    tables: tuple[TablePlan, ...]  # copy order: parents before children
    dropped_tables: tuple[str, ...] = ()  # old tables not carried over
    declared_drops: tuple[str, ...] = ()  # of those, the ones the schema declares
    checks: tuple[DataCheck, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    notes: tuple[str, ...] = field(default=())
    objects: tuple[ObjectChange, ...] = ()

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
            TablePlan(**{**t, "columns": tuple(ColumnSource(**{**c, "reads": tuple(c.get("reads", ()))})
                                               for c in t["columns"]),
                         **{k: tuple(t.get(k, ())) for k in _TUPLES}})
            for t in data["tables"]
        )
        return Plan(
            schema_hash=data["schema_hash"], tables=tables,
            dropped_tables=tuple(data["dropped_tables"]), declared_drops=tuple(data["declared_drops"]),
            refusals=tuple(Refusal(**r) for r in data["refusals"]), notes=tuple(data["notes"]),
            objects=tuple(ObjectChange(**o) for o in data.get("objects", ())),
        )
