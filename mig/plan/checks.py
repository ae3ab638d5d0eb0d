"""The data questions a plan must ask before it may run: would this change lose data?

Each question is SQL over the old database (attached as `old`), seen
through the plan's column mapping, so a CHECK or UNIQUE of the new schema is
tested against exactly the rows the copy would write. Pure code: SQL
strings out; the migrate phase runs them before anything is written
(invariant 1).
"""

from __future__ import annotations

from dataclasses import replace

from mig.model import Column, ForeignKey, Schema, Table
from mig.plan.mapping import (
    affinity,
    chunking,
    columns_named,
    directive_name,
    mapped_select,
    missing_parent,
    source_sql,
    stored_default,
)
from mig.plan.ops import EVALUATE, RANGE, DataCheck, TablePlan
from mig.plan.references import untouched_reference
from mig.plan.seed_checks import seed_checks
from mig.plan.uniques import unique_checks
from mig.sql.text import canonical, unquote_ident
from mig.sql.text import quote_ident as q

__all__ = ["plan_checks", "value_changes_sql", "affinity", "mapped_select", "directive_name"]


def value_changes_sql(expr: str, new: Column, strict: bool) -> str | None:
    """A predicate true for values the new column would store differently, or refuse.

    Affinity conversion is asked of SQLite itself: in `CAST(x AS NUMERIC) = x`
    the left side has NUMERIC affinity, so SQLite applies that affinity to a
    text `x` exactly as it would when storing it, and the two are equal just
    when the text would turn into a number.
    """
    if strict:
        allowed = {"INT": "integer", "INTEGER": "integer", "REAL": "real", "TEXT": "text",
                   "BLOB": "blob"}.get(new.type.upper())
        if allowed is None:  # ANY keeps every value as it is
            return None
        return f"({expr}) IS NOT NULL AND typeof({expr}) <> '{allowed}'"
    aff = affinity(new.type)
    numeric_text = f"(typeof({expr}) = 'text' AND CAST({expr} AS NUMERIC) = {expr})"
    if aff == "TEXT":
        return f"typeof({expr}) IN ('integer', 'real')"
    if aff == "REAL":
        return f"(typeof({expr}) = 'integer' OR {numeric_text})"
    if aff in ("INTEGER", "NUMERIC"):
        integral = (f"(typeof({expr}) = 'real' AND {expr} = CAST({expr} AS INTEGER) "
                    f"AND {expr} >= -9223372036854775808.0 AND {expr} < 9223372036854775808.0)")
        return f"({integral} OR {numeric_text})"
    return None


def plan_checks(plans: list[TablePlan], old: Schema, target: Schema) -> list[DataCheck]:
    """Every data question for the copied tables of a plan."""
    by_target = {tp.target: tp for tp in plans}
    checks: list[DataCheck] = []
    for tp in plans:
        if tp.source is None:
            continue
        src, tt = old.table(tp.source), target.table(tp.target)
        assert src is not None and tt is not None
        checks += _conversion_checks(tp, src, tt)  # first: the checks after read converted values
        checks += _dropped_column_checks(tp, src, target)
        checks += _column_checks(tp, src, tt)
        checks += _key_checks(tp, src, tt)
        checks += _check_constraint_checks(tp, src, tt)
        checks += _evaluation_checks(tp, src, tt, old, target)
        checks += unique_checks(tp, src, tt, old, target)
        # A reference the change leaves as it was is checked by drain instead (references.py).
        checks += [_fk_check(tp, src, tt, fk, target, by_target) for fk in tt.foreign_keys
                   if target.table(fk.ref_table) is not None
                   and not untouched_reference(fk, tp, src, tt, old, target, by_target)]
    return checks + seed_checks(by_target, old, target)


def _check(tp: TablePlan, src: Table, column: str | None, reason: str, hint: str, where: str,
           frm: str) -> DataCheck:
    """Rows of `frm` satisfying `where` (non-zero count: refused), read in ranges of `src`."""
    return DataCheck(tp.target, column, reason, hint,
                     count_sql=f"SELECT count(*) FROM {frm} WHERE {where}",
                     sample_sql=f"SELECT * FROM {frm} WHERE {where} LIMIT 1",
                     **chunking(src))  # type: ignore[arg-type]


def _conversion_checks(tp: TablePlan, src: Table, tt: Table) -> list[DataCheck]:
    """A declared conversion is computed for every old row, before anything changes: one
    SQLite cannot compute, one that gives NULL for a NOT NULL column, or one whose values
    the new column would store differently is a refusal naming the first such row."""
    out = []
    for cs in tp.columns:
        if cs.how != "converted":
            continue
        new = tt.column(cs.target)
        assert new is not None
        value = source_sql(cs)
        what = f"the conversion of {cs.target} ({cs.expr})"
        frm = f"(SELECT * FROM old.{q(src.name)} WHERE {RANGE})"
        out.append(replace(_evaluation(tp, src, tt, what, [value], frm), column=cs.target))
        values = f"(SELECT {_key_select(src, f'{value} AS {q(cs.target)}')} FROM old.{q(src.name)} WHERE {RANGE})"
        if new.notnull:
            out.append(_check(tp, src, cs.target, f"{what} gives NULL for some rows and the column is NOT NULL",
                              f"give the expression a fallback, e.g. coalesce(EXPR, {_fallback(new)})",
                              f"{q(cs.target)} IS NULL", values))
        pred = value_changes_sql(q(cs.target), new, tt.strict)
        if pred:
            out.append(_check(tp, src, cs.target, f"{what} gives values a {new.type or 'untyped'} column "
                              "would store differently", "make the expression give the column's own type, "
                              f"e.g. CAST(EXPR AS {new.type or 'BLOB'})", pred, values))
    return out


def _fallback(col: Column) -> str:
    """A value of the column's own type, for advice that works when followed."""
    return {"TEXT": "''", "BLOB": "X''", "REAL": "0.0"}.get(affinity(col.type), "0")


def _dropped_column_checks(tp: TablePlan, src: Table, target: Schema) -> list[DataCheck]:
    declared = {d.column.lower() for d in target.drop_columns if d.table.lower() == tp.target.lower()}
    declared |= {c.lower() for c in tp.declared_drops}
    table, out = directive_name(tp.target), []
    for name in tp.dropped_columns:
        if name.lower() in declared:
            continue
        col = directive_name(name)
        out.append(_check(
            tp, src, name, "the new schema drops this column, which holds non-NULL values",
            f"declare it with `-- mig:drop-column {table} {col}` (or DropColumn \"{name}\"), "
            f"or declare a rename with `-- mig:rename-column {table} {col} NEW`",
            f"{RANGE} AND {q(name)} IS NOT NULL", f"old.{q(src.name)}"))
    return out


def _key_select(src: Table, *extra: str) -> str:
    """The old key columns (for a sample that names its row) and `extra` select items."""
    key = [("rowid" if k == "rowid" else q(k)) for k in (src.primary_key or ("rowid",))]
    return ", ".join(key + list(extra))


def _column_checks(tp: TablePlan, src: Table, tt: Table) -> list[DataCheck]:
    mapped = f"({mapped_select(tp, tt)})"
    out = []
    for cs in tp.columns:
        new = tt.column(cs.target)
        assert new is not None
        plain = cs.source and cs.source != "rowid" and cs.how != "converted"  # converted: checked above
        old = src.column(cs.source) if plain else None  # type: ignore[arg-type]
        if new.notnull and cs.source is None and stored_default(new) is None:
            out.append(_check(tp, src, cs.target, "the new NOT NULL column has no default and the "
                              "table is not empty", "give the column a DEFAULT, make it nullable, or "
                              "declare a rename from an existing column", RANGE, f"old.{q(src.name)}"))
        elif new.notnull and old is not None and not old.notnull:
            out.append(_check(tp, src, cs.target, "the new schema makes this column NOT NULL and rows "
                              "hold NULL", "fill the NULLs in the old database first, or keep the "
                              "column nullable", f"{q(cs.target)} IS NULL", mapped))
        if old is not None and _type_changes(old, src.strict, new, tt.strict):
            pred = value_changes_sql(q(cs.target), new, tt.strict)
            if pred:
                values = f"(SELECT {_key_select(src, f'{q(old.name)} AS {q(cs.target)}')} " \
                         f"FROM old.{q(src.name)} WHERE {RANGE})"
                out.append(_check(tp, src, cs.target, f"the type change {old.type or 'untyped'} -> "
                                  f"{new.type or 'untyped'} would change stored values",
                                  _type_change_hint(src, old, new, tt.strict), pred, values))
    return out


def _type_change_hint(src: Table, old: Column, new: Column, new_strict: bool) -> str:
    """Advice that works when followed: only a column without affinity (untyped, BLOB or
    STRICT ANY) keeps a converted value as converted; any other would store it back as it
    was (a NUMERIC column turns 5.0 back into 5, a TEXT column 42 into '42')."""
    holds_any = old.type.upper() == "ANY" if src.strict else affinity(old.type) == "BLOB"
    if not holds_any:
        return (f"keep the old type: a {old.type} column stores a converted value back as it was, "
                "so these values cannot be converted in the old database")
    target = new.type.upper() if new_strict else affinity(new.type)
    table, column = directive_name(src.name), directive_name(old.name)
    return (f"keep the old type, or convert the values in the old database first "
            f"(`UPDATE {table} SET {column} = CAST({column} AS {target})`)")


def _type_changes(old: Column, old_strict: bool, new: Column, new_strict: bool) -> bool:
    if new_strict:
        return not (old_strict and old.type.upper() == new.type.upper())
    return affinity(old.type) != affinity(new.type)


def _key_checks(tp: TablePlan, src: Table, tt: Table) -> list[DataCheck]:
    """A key that is new to these values: a rowid must be an integer, and no key may be NULL.

    A NULL in a new INTEGER PRIMARY KEY would be replaced by a fresh rowid and
    in a new WITHOUT ROWID key it is rejected: either way the copy could not
    keep the row as it is.
    """
    back = {c.target.lower(): c.source for c in tp.columns}
    if not tt.primary_key or all(back.get(k.lower()) in src.primary_key for k in tt.primary_key):
        return []
    hint = "fill in the key values in the old database first"
    if tt.rowid_alias is not None:
        key = q(tt.rowid_alias)
        pred, what = f"({key} IS NULL OR typeof({key}) <> 'integer')", "an INTEGER PRIMARY KEY"
        source = src.column(back.get(tt.rowid_alias.lower()) or "")
        if source is not None and not _holds_integers(source, src.strict):
            hint = (f"keep {tt.rowid_alias} an ordinary column (a {source.type} column cannot hold the "
                    "integers an INTEGER PRIMARY KEY needs, so they cannot be filled in there)")
    elif tt.without_rowid:
        pred = "(" + " OR ".join(f"{q(k)} IS NULL" for k in tt.primary_key) + ")"
        what = "a WITHOUT ROWID primary key"
    else:
        return []
    return [_check(tp, src, ", ".join(tt.primary_key), f"rows hold NULL or non-integer values in "
                   f"what becomes {what}", hint, pred, f"({mapped_select(tp, tt)})")]


def _holds_integers(column: Column, strict: bool) -> bool:
    """Whether an integer stored in `column` stays an integer (TEXT and REAL convert it)."""
    if strict:
        return column.type.upper() in ("INT", "INTEGER", "ANY")
    return affinity(column.type) in ("INTEGER", "NUMERIC", "BLOB")


def _check_constraint_checks(tp: TablePlan, src: Table, tt: Table) -> list[DataCheck]:
    mapped = f"({mapped_select(tp, tt)})"
    old_checks = {canonical(c) for c in src.checks}
    out = []
    for chk in tt.checks:
        if canonical(chk) in old_checks:
            continue
        out.append(replace(_check(tp, src, columns_named(chk, tt), f"rows violate the new CHECK ({chk})",
                                  "fix those rows in the old database first, or relax the CHECK",
                                  f"NOT coalesce(({chk}), 1)", mapped), kind=EVALUATE,
                           each_sql=f"SELECT ({chk}) FROM {mapped}"))
    return out


def _evaluation_checks(tp: TablePlan, src: Table, tt: Table, old: Schema, target: Schema) -> list[DataCheck]:
    """Expressions the copy makes SQLite compute for every row: an index's terms and WHERE,
    a stored generated column. One that fails on some old value (`json(v)` over text that
    is not JSON) would fail migrate after capture is installed; asked here, it is a refusal.
    An index the old table already has, term for term, was computed over these values."""
    mapped = f"({mapped_select(tp, tt)})"
    out = []
    for ix in target.indexes_of(tt.name):
        if any(i.columns == ix.columns and i.where == ix.where for i in old.indexes_of(src.name)):
            continue
        terms = [_without_order(t) for t in ix.columns if tt.column(unquote_ident(_without_order(t))) is None]
        terms += [ix.where] if ix.where else []
        if terms:
            out.append(_evaluation(tp, src, tt, f"the index {ix.name}", terms, mapped))
    for col in tt.columns:
        if col.generated is not None and col.generated_stored:
            out.append(_evaluation(tp, src, tt, f"the generated column {col.name}", [col.generated], mapped))
    return out


def _evaluation(tp: TablePlan, src: Table, tt: Table, what: str, terms: list[str], frm: str) -> DataCheck:
    # typeof() is never NULL: the count is 0, and every term is computed for every row.
    where = " OR ".join(f"typeof(({t})) IS NULL" for t in terms)
    return replace(_check(tp, src, columns_named(" ".join(terms), tt), f"SQLite cannot compute {what} "
                          "for some rows", "fix those values in the old database first, or change "
                          f"{what}", where, frm), kind=EVALUATE,
                   each_sql=f"SELECT {', '.join(f'typeof(({t}))' for t in terms)} FROM {frm}")


def _without_order(term: str) -> str:
    """An index term without its ASC/DESC: the expression alone."""
    words = term.rsplit(None, 1)
    return words[0] if len(words) == 2 and words[1].upper() in ("ASC", "DESC") else term


def _fk_check(tp: TablePlan, src: Table, tt: Table, fk: ForeignKey, target: Schema,
              plans: dict[str, TablePlan]) -> DataCheck:
    """Child rows whose reference finds neither a copied parent row nor a seeded one."""
    parent = target.table(fk.ref_table)
    assert parent is not None
    where = missing_parent(fk, parent, target, plans)
    frm = f"({mapped_select(tp, tt)}) c"
    return DataCheck(tp.target, ", ".join(fk.columns),
                     f"rows reference missing {fk.ref_table} rows (FOREIGN KEY)",
                     "fix or delete those rows in the old database first, or add the parent rows "
                     "as seed rows", count_sql=f"SELECT count(*) FROM {frm} WHERE {where}",
                     sample_sql=f"SELECT c.* FROM {frm} WHERE {where} LIMIT 1", kind="foreign-key",
                     **chunking(src))  # type: ignore[arg-type]
