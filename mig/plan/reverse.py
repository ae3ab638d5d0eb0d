"""Can a migration be reverted after cutover, with nothing lost? Planned, not discovered.

A revert replays the new database's writes into the old one through the
inverse of the plan: each old column takes its new column back (a renamed one
under its old name), an added column is left behind, a dropped column keeps
the old row's value (a row the new service inserted gets the old column's
default). That loses nothing only when every value the new schema accepts has
a place in the old one, as it is. Pure code: the plan and both schemas in,
the reasons it is not so out (none: reversible).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mig.ddl import default_value_sql
from mig.model import Column, Convert, Index, RenameColumn, Schema, Table
from mig.plan.compare import conversions_back, table_plan
from mig.plan.mapping import affinity, collation, renamed_columns, stored_default
from mig.plan.ops import ColumnSource, Plan, TablePlan
from mig.plan.statements import column_ref
from mig.sql.text import canonical, tokenize, unquote_ident
from mig.sql.text import quote_ident as q

__all__ = ["Reversibility", "reversibility", "reverse_plan", "KEPT"]

# The alias under which a kept column's value is read from the old row being replaced.
KEPT = "_mig_kept"


@dataclass(frozen=True)
class Reversibility:
    reasons: tuple[str, ...]  # why a revert could lose or change a write (none: reversible)
    notes: tuple[str, ...]  # what a revert leaves behind by design, and what it computes back

    @property
    def reversible(self) -> bool:
        return not self.reasons


def reversibility(plan: Plan, old: Schema, target: Schema) -> Reversibility:
    reasons: list[str] = []
    notes: list[str] = []
    backs = conversions_back(old, target)
    for tp in plan.tables:
        tt = target.table(tp.target)
        src = old.table(tp.source) if tp.source else None
        if tt is None:
            continue
        if src is None:
            notes.append(f"rows written to the new table {tp.target} stay in the new database")
            continue
        declared = backs.get(tp.target.lower(), {})
        reasons += _columns(tp, src, tt, declared)
        notes += [f"{src.name}.{c.name} is computed back from the new row: {declared[c.name.lower()]}"
                  for c in src.stored_columns if c.name.lower() in declared]
        reasons += _rules(tp, src, tt, old, target)
        added = [c.target for c in tp.columns if c.source is None]
        if added:
            notes.append(f"values written to the new column{'s' if len(added) > 1 else ''} "
                         f"{', '.join(f'{tp.target}.{a}' for a in added)} stay in the new database")
    reasons += [f"{r.table}: {r.reason}" for r in reverse_plan(plan, old, target).refusals]
    return Reversibility(tuple(reasons), tuple(notes))


def reverse_plan(plan: Plan, old: Schema, target: Schema) -> Plan:
    """The plan a revert replays the new database's log with: each target table with a
    source becomes the source of its old table, planned as a forward table is (the
    same keys, the same replay SQL), renames turned round. An old column the new
    table lacks is kept: replay reads it from the old row it replaces, and a row the
    new service inserted gets the old column's default."""
    tables: list[TablePlan] = []
    refusals = []
    backs = conversions_back(old, target)
    for tp in plan.captured:
        src, tt = target.table(tp.target), old.table(tp.source or "")
        if src is None or tt is None:
            continue
        inverse = dataclasses.replace(old, rename_columns=tuple(
            RenameColumn(tt.name, c.target, c.source or "") for c in tp.columns if c.how == "renamed"),
            conversions=tuple(Convert(tt.name, column, expr)
                              for column, expr in backs.get(tp.target.lower(), {}).items()),
            drop_columns=())
        back, found = table_plan(tt, src, inverse)
        refusals += found
        tables.append(_with_kept_columns(back, tt))
    return Plan(plan.schema_hash, tuple(tables), refusals=tuple(refusals))


def _with_kept_columns(tp: TablePlan, tt: Table) -> TablePlan:
    """Each old column without a new one reads its value from the old row of the same key."""
    if not any(c.how == "default" for c in tp.columns):
        return tp
    match = " AND ".join(f"{column_ref(n, KEPT)} IS {column_ref(o)}" for n, o in zip(tp.new_key, tp.old_key))
    cols = []
    for cs in tp.columns:
        col = tt.column(cs.target)
        if cs.how != "default" or col is None:
            cols.append(cs)
            continue
        default = stored_default(col)
        fallback = default_value_sql(default) if default is not None else "NULL"
        # The old row's value, NULL included; the default only where there is no old row.
        old_row = f"FROM main.{q(tt.name)} AS {KEPT} WHERE {match}"
        expr = (f"CASE WHEN EXISTS (SELECT 1 {old_row}) THEN (SELECT {column_ref(col.name, KEPT)} {old_row}) "
                f"ELSE {fallback} END")
        cols.append(ColumnSource(cs.target, tp.old_key[0], "kept", expr, tp.old_key))
    # Replay's in-place update writes the copied columns only: with a kept column every
    # row goes through the statement that reads it.
    return dataclasses.replace(tp, columns=tuple(cols), updated=(), compared=())


def _columns(tp: TablePlan, src: Table, tt: Table, declared: dict[str, str]) -> list[str]:
    """Each old column must take back every value its new column can hold, or have one
    for a row the new service inserts; one with a declared way back computes it."""
    back = {c.source.lower(): c for c in tp.columns if c.source and c.how in ("same", "renamed", "rowid")}
    read = {r.lower() for c in tp.columns if c.how == "converted" for r in c.reads}
    out = []
    for col in src.stored_columns:
        if col.name.lower() in declared:
            continue
        cs = back.get(col.name.lower())
        if cs is None:
            out += _left_behind(src, col, converted=col.name.lower() in read)
            continue
        new = tt.column(cs.target)
        if new is not None:
            out += _taken_back(src, col, tt, new, cs)
    return out


def _left_behind(src: Table, col: Column, converted: bool) -> list[str]:
    if converted:
        return [f"{src.name}.{col.name} feeds a conversion, which has no way back: the new "
                "service's values cannot be computed back into it (declare one: "
                f"`-- mig:convert-back TABLE {col.name} EXPRESSION`, or Convert(..., back=...))"]
    if col.notnull and stored_default(col) is None and col.name != src.rowid_alias:
        return [f"{src.name}.{col.name} is dropped, and a row the new service inserts would "
                "need a value for it (NOT NULL without a default)"]
    return []


def _taken_back(src: Table, col: Column, tt: Table, new: Column, cs: ColumnSource) -> list[str]:
    out = []
    where = f"{tt.name}.{new.name}" + (f" (was {src.name}.{col.name})" if cs.how == "renamed" else "")
    keeps_any = src.strict and col.type.upper() == "ANY" or not src.strict and affinity(col.type) == "BLOB"
    same_type = (src.strict == tt.strict and col.type.upper() == new.type.upper()) if src.strict or tt.strict \
        else affinity(col.type) == affinity(new.type)
    if not keeps_any and not same_type:
        out.append(f"{where}: a {new.type or 'untyped'} value the new service writes would be stored "
                   f"differently back in the {col.type or 'untyped'} column")
    if col.notnull and not new.notnull and col.name != src.rowid_alias:
        out.append(f"{where} takes NULL, which the old column refuses (NOT NULL)")
    return out


def _rules(tp: TablePlan, src: Table, tt: Table, old: Schema, target: Schema) -> list[str]:
    """The old table's UNIQUEs (constraints and unique indexes, under their collations) and
    CHECKs that the new one does not keep: a write the new service makes may break them,
    and could not go back."""
    to_new = {c.source.lower(): c.target.lower() for c in tp.columns
              if c.source and c.how in ("same", "renamed", "rowid")}
    plain_old, odd_old = _uniques(src, old)
    plain_new, odd_new = _uniques(tt, target)
    kept = {tuple(c for c in u) for u in plain_new} | {tuple(c.lower() for c in tt.primary_key)}
    out = []
    for u in plain_old:
        mapped = tuple(to_new.get(c, "") for c in u)
        same_collation = all(collation(src, o) == collation(tt, n) for o, n in zip(u, mapped) if n)
        if "" in mapped or not same_collation or not any(set(k) <= set(mapped) for k in kept if k):
            out.append(f"{src.name}: UNIQUE ({', '.join(u)}) is not kept by the new schema, whose "
                       "rows may then break it")
    renamed = any(c.how == "renamed" for c in tp.columns)
    for index in odd_old:
        if renamed or (index.columns, index.where) not in {(i.columns, i.where) for i in odd_new}:
            out.append(f"{src.name}: the unique index {index.name} is not kept as it is by the new "
                       "schema, whose rows may then break it")
    # Compared over the new names: a CHECK whose columns were renamed is kept, and one over
    # two columns that swapped names is not.
    new_checks = {canonical(c) for c in tt.checks}
    names = {c.source.lower(): c.target for c in tp.columns if c.source and c.how in ("same", "renamed", "rowid")}
    out += [f"{src.name}: CHECK ({c}) is not kept by the new schema, whose rows may then break it"
            for c in src.checks if canonical(renamed_columns(c, names)) not in new_checks]
    return out


def _uniques(table: Table, schema: Schema) -> tuple[list[tuple[str, ...]], list[Index]]:
    """A table's UNIQUEs over plain columns (lower-cased names), and its unique indexes over
    expressions, collations or part of the rows, compared as written."""
    plain = [tuple(c.lower() for c in u) for u in table.uniques]
    odd = []
    for index in schema.indexes_of(table.name):
        if not index.unique:
            continue
        cols = [_plain_column(term) for term in index.columns]
        if index.where or None in cols:
            odd.append(index)
        else:
            plain.append(tuple(c for c in cols if c))
    return plain, odd


def _plain_column(term: str) -> str | None:
    toks = tokenize(term)
    if toks and toks[-1].is_word("ASC", "DESC"):
        toks = toks[:-1]
    if len(toks) != 1 or toks[0].kind not in ("word", "ident"):
        return None
    return unquote_ident(toks[0].text).lower()
