"""UNIQUE rules of the target that the old rows must already satisfy.

A rule the old table guarantees under the same collation is not asked again;
the others gather their terms range by range and count the rows that share
them. Pure code: DataChecks out.
"""

from __future__ import annotations

from mig.model import Index, Schema, Table
from mig.plan.mapping import chunking, collation, columns_named, mapped_select
from mig.plan.ops import GATHERED, DataCheck, TablePlan
from mig.sql.text import quote_ident as q
from mig.sql.text import tokenize, unquote_ident

__all__ = ["unique_checks"]


def unique_checks(tp: TablePlan, src: Table, tt: Table, old: Schema, target: Schema) -> list[DataCheck]:
    """One check per uniqueness rule of `tt` that `src` does not already guarantee."""
    return [_unique_check(tp, src, tt, u) for u in _new_unique_sets(tp, src, tt, old, target)]


class _Unique:
    """A uniqueness rule of the target: SQL terms over target columns, each with the
    collation it compares under, maybe partial."""

    def __init__(self, terms: tuple[tuple[str, str], ...], where: str | None = None,
                 label: str = "") -> None:
        self.terms, self.where, self.label = terms, where, label


def _term(text: str, tt: Table) -> tuple[str, str]:
    """(expression, collation) of an index term: `x COLLATE NOCASE`, `x DESC`, `lower(x)`, `x`."""
    toks = tokenize(text)
    if toks and toks[-1].is_word("ASC", "DESC"):  # the order of an index, not its uniqueness
        text = text[:toks[-1].start].strip()
        toks = toks[:-1]
    if len(toks) >= 3 and toks[-2].is_word("COLLATE"):
        return text[:toks[-2].start].strip(), unquote_ident(toks[-1].text).upper()
    col = tt.column(unquote_ident(text.strip()))
    return text, collation(tt, col.name) if col is not None else "BINARY"


def _target_uniques(tt: Table, target: Schema) -> list[tuple[_Unique, tuple[str, ...] | None]]:
    """Every uniqueness rule, with its plain column names when it is over plain columns."""
    out: list[tuple[_Unique, tuple[str, ...] | None]] = []
    for cols in tt.uniques + ((tt.primary_key,) if tt.primary_key else ()):
        terms = tuple((q(c), collation(tt, c)) for c in cols)
        out.append((_Unique(terms, label=f"UNIQUE ({', '.join(cols)})"), tuple(cols)))
    for index in target.indexes_of(tt.name):
        if index.unique:
            out.append(_index_unique(tt, index))
    return out


def _index_unique(tt: Table, index: Index) -> tuple[_Unique, tuple[str, ...] | None]:
    label = f"UNIQUE index {index.name} ({', '.join(index.columns)})"
    terms = tuple(_term(t, tt) for t in index.columns)
    # A plain column under its own collation is the column's uniqueness; anything else is not.
    plain = [c if (c := tt.column(unquote_ident(e.strip()))) is not None and coll == collation(tt, c.name)
             else None for e, coll in terms]
    if all(plain) and index.where is None:
        return _Unique(terms, label=label), tuple(c.name for c in plain if c is not None)
    return _Unique(terms, index.where, label), None


def _guaranteed(cols: tuple[str, ...] | None, tp: TablePlan, src: Table, tt: Table,
                old: Schema) -> bool:
    """Does an old uniqueness rule, under the same collations, already cover these columns?"""
    if cols is None:
        return False
    back = {c.target.lower(): (c.source or "").lower() if c.how != "converted" else "" for c in tp.columns}
    sources = {back.get(c.lower(), "") for c in cols}
    if sources == {"rowid"}:
        return True  # the old rowid: unique by construction
    if "" in sources or "rowid" in sources:
        return False
    if not all(collation(src, back[c.lower()]) == collation(tt, c) for c in cols):
        return False
    old_sets = list(src.uniques) + ([src.primary_key] if src.primary_key else [])
    old_sets += [tuple(unquote_ident(c) for c in i.columns) for i in old.indexes_of(src.name)
                 if i.unique and i.where is None and all(src.column(unquote_ident(c)) for c in i.columns)]
    return any(s and {c.lower() for c in s} <= sources for s in old_sets)


def _new_unique_sets(tp: TablePlan, src: Table, tt: Table, old: Schema,
                     target: Schema) -> list[_Unique]:
    return [u for u, cols in _target_uniques(tt, target) if not _guaranteed(cols, tp, src, tt, old)]


def _unique_check(tp: TablePlan, src: Table, tt: Table, rule: _Unique) -> DataCheck:
    """Gather the rule's terms range by range, then count the rows that share them.

    The gathered table keeps no collation, so the grouping names each one.
    """
    names = [q(unquote_ident(t.strip())) if tt.column(unquote_ident(t.strip())) else q(t)
             for t, _ in rule.terms]
    nonnull = " AND ".join(f"({t}) IS NOT NULL" for t, _ in rule.terms)
    where = f"{nonnull} AND ({rule.where})" if rule.where else nonnull
    terms = ", ".join(f"{t} AS {n}" for (t, _), n in zip(rule.terms, names))
    group = ", ".join(f"{n} COLLATE {c}" for n, (_, c) in zip(names, rule.terms))
    dupes = (f"SELECT {', '.join(names)}, count(*) AS \"rows\" FROM {GATHERED} GROUP BY {group} "
             "HAVING count(*) > 1")
    return DataCheck(
        tp.target, columns_named(" ".join(t for t, _ in rule.terms), tt), f"rows violate the new {rule.label}",
        "remove the duplicates in the old database first, or drop the constraint",
        count_sql=f"SELECT coalesce(sum(\"rows\"), 0) FROM ({dupes})",
        sample_sql=f"SELECT * FROM ({dupes}) LIMIT 1",
        gather_sql=f"SELECT {terms} FROM ({mapped_select(tp, tt)}) WHERE {where}",
        **chunking(src))  # type: ignore[arg-type]
