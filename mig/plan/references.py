"""Which foreign keys the change touches: only those need a data check before the copy.

A foreign key of the target that the old database already had, over the
same values, matched the same way, can only be violated by rows that
violate it in the old database already. Such rows are the data's problem,
not the change's: drain's full `PRAGMA foreign_key_check` over the new
database finds them before it blocks writes (outside the write-unavailability
window), and the operator fixes them in the old database and drains again.
So the plan scans only for the references the change touches (docs/design.md,
"Plan refusals"). Pure code.
"""

from __future__ import annotations

from mig.model import Column, ForeignKey, Schema, Table
from mig.plan.mapping import affinity
from mig.plan.ops import TablePlan

__all__ = ["untouched_reference"]


def untouched_reference(fk: ForeignKey, tp: TablePlan, src: Table, tt: Table, old: Schema,
                        target: Schema, plans: dict[str, TablePlan]) -> bool:
    """Is target table `tt`'s `fk` one the old table `src` already had, matched the same way?

    Untouched means all of:
    - every child column and every referenced parent column is copied from an
      old column (same name or a declared rename: the copy carries the values
      byte for byte), not a default, a generated column or the old rowid;
    - the parent is copied from an old table, and `src` has a foreign key from
      exactly those old columns to exactly that old table's old columns, pair
      for pair (an omitted column list meaning the parent's primary key, on
      either side);
    - no column of a pair changes how it matches: the same affinity (which
      converts the child's value before the comparison) and the same collation
      (the parent's compares), on the child side and on the parent side.
    ON DELETE/ON UPDATE actions and DEFERRABLE do not decide which stored rows
    violate the key, so they may change. Seed rows of the parent only add
    parent rows; seed rows of the child are checked on their own (seed_checks).
    """
    parent = target.table(fk.ref_table)
    parent_plan = plans.get(parent.name) if parent is not None else None
    if parent is None or parent_plan is None or parent_plan.source is None:
        return False
    old_parent = old.table(parent_plan.source)
    ref = fk.ref_columns or parent.primary_key
    if old_parent is None or len(ref) != len(fk.columns):
        return False
    child_from, parent_from = _sources(tp), _sources(parent_plan)
    pairs = []
    for child_col, ref_col in zip(fk.columns, ref):
        old_child, old_ref = child_from.get(child_col.lower()), parent_from.get(ref_col.lower())
        if old_child is None or old_ref is None:
            return False
        if not (_matches_alike(src, old_child, tt, child_col)
                and _matches_alike(old_parent, old_ref, parent, ref_col)):
            return False
        pairs.append((old_child.lower(), old_ref.lower()))
    return any(_same_pairs(old_fk, old_parent, pairs) for old_fk in src.foreign_keys
               if old_fk.ref_table.lower() == old_parent.name.lower())


def _sources(tp: TablePlan) -> dict[str, str]:
    """Target column (lower case) -> the old column its values are copied as they are from
    (a converted column has none: its reference is checked as a changed one)."""
    return {c.target.lower(): c.source for c in tp.columns
            if c.source is not None and c.source != "rowid" and c.how != "converted"}


def _same_pairs(old_fk: ForeignKey, old_parent: Table, pairs: list[tuple[str, str]]) -> bool:
    ref = old_fk.ref_columns or old_parent.primary_key
    if len(ref) != len(old_fk.columns):
        return False
    return sorted((c.lower(), r.lower()) for c, r in zip(old_fk.columns, ref)) == sorted(pairs)


def _matches_alike(old_table: Table, old_name: str, new_table: Table, new_name: str) -> bool:
    old_col, new_col = old_table.column(old_name), new_table.column(new_name)
    if old_col is None or new_col is None or new_col.generated is not None:
        return False
    return (_affinity(old_col, old_table.strict) == _affinity(new_col, new_table.strict)
            and (old_col.collation or "BINARY").upper() == (new_col.collation or "BINARY").upper())


def _affinity(col: Column, strict: bool) -> str:
    """A STRICT table's ANY column converts nothing; otherwise SQLite's affinity rules."""
    return "NONE" if strict and col.type.upper() == "ANY" else affinity(col.type)
