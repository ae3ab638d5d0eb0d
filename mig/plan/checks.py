"""The data questions a plan must ask before it may run: would this change lose data?

Each question is SQL over the old database (attached as `old`), seen
through the plan's column mapping, so a CHECK or UNIQUE of the new schema is
tested against exactly the rows the copy would write. Pure code: SQL
strings out; the migrate phase runs them before anything is written
(invariant 1).
"""

from __future__ import annotations

from mig.model import Column, ForeignKey, Schema, Table
from mig.plan.ops import RANGE, DataCheck, TablePlan
from mig.render import _default_sql  # one spelling of a DEFAULT expression
from mig.sqltext import canonical, unquote_ident
from mig.sqltext import quote_ident as q

__all__ = ["plan_checks", "affinity", "mapped_select", "value_changes_sql"]


def affinity(declared: str) -> str:
    """SQLite's column affinity rules (https://sqlite.org/datatype3.html §3.1)."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if any(x in t for x in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if any(x in t for x in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def mapped_select(tp: TablePlan, tt: Table) -> str:
    """The old rows as the new table would hold them (target column names)."""
    cols = []
    for cs in tp.columns:
        col = tt.column(cs.target)
        assert col is not None
        if cs.source is None:
            expr = _default_sql(col.default) if col.default is not None else "NULL"
        else:
            expr = "rowid" if cs.source == "rowid" else q(cs.source)
        cols.append(f"{expr} AS {q(cs.target)}")
    return f"SELECT {', '.join(cols)} FROM old.{q(tp.source or '')} WHERE {RANGE}"


def value_changes_sql(expr: str, new: Column, strict: bool) -> str | None:
    """A predicate true for values that would not survive the new column type."""
    if strict:
        allowed = {"INT": "integer", "INTEGER": "integer", "REAL": "real", "TEXT": "text",
                   "BLOB": "blob"}.get(new.type.upper())
        if allowed is None:  # ANY keeps every value as it is
            return None
        return f"({expr}) IS NOT NULL AND typeof({expr}) <> '{allowed}'"
    aff = affinity(new.type)
    numeric_text = (f"(typeof({expr}) = 'text' AND trim({expr}) <> '' AND "
                    f"trim({expr}) GLOB '*[0-9]*' AND trim({expr}) NOT GLOB '*[^0-9eE.+ -]*')")
    if aff == "TEXT":
        return f"typeof({expr}) IN ('integer', 'real')"
    if aff == "REAL":
        return f"(typeof({expr}) = 'integer' OR {numeric_text})"
    if aff in ("INTEGER", "NUMERIC"):
        return (f"((typeof({expr}) = 'real' AND {expr} = CAST({expr} AS INTEGER) "
                f"AND abs({expr}) < 9.2e18) OR {numeric_text})")
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
        checks += _dropped_column_checks(tp, src, target)
        checks += _column_checks(tp, src, tt)
        checks += _constraint_checks(tp, src, tt, target)
        checks += [_fk_check(tp, src, tt, fk, target, by_target) for fk in tt.foreign_keys
                   if target.table(fk.ref_table) is not None]
    return checks


def _check(tp: TablePlan, src: Table, column: str | None, reason: str, hint: str, where: str,
           frm: str) -> DataCheck:
    """Rows of `frm` satisfying `where` (non-zero count: refused), read in ranges of `src`."""
    return DataCheck(tp.target, column, reason, hint,
                     count_sql=f"SELECT count(*) FROM {frm} WHERE {where}",
                     sample_sql=f"SELECT * FROM {frm} WHERE {where} LIMIT 1",
                     chunk_table=_chunkable(src))


def _chunkable(src: Table) -> str | None:
    return None if src.without_rowid else src.name


def _dropped_column_checks(tp: TablePlan, src: Table, target: Schema) -> list[DataCheck]:
    declared = {d.column.lower() for d in target.drop_columns if d.table.lower() == tp.target.lower()}
    out = []
    for name in tp.dropped_columns:
        if name.lower() in declared:
            continue
        out.append(DataCheck(
            tp.target, name, "the new schema drops this column, which holds non-NULL values",
            f"declare it with `-- mig:drop-column {tp.target} {name}` (or DropColumn \"{name}\"), "
            f"or declare a rename with `-- mig:rename-column {tp.target} {name} NEW`",
            count_sql=f"SELECT count(*) FROM old.{q(src.name)} WHERE {RANGE} AND {q(name)} IS NOT NULL",
            sample_sql=f"SELECT * FROM old.{q(src.name)} WHERE {RANGE} AND {q(name)} IS NOT NULL LIMIT 1",
            chunk_table=_chunkable(src),
        ))
    return out


def _column_checks(tp: TablePlan, src: Table, tt: Table) -> list[DataCheck]:
    mapped = f"({mapped_select(tp, tt)})"
    out = []
    for cs in tp.columns:
        new = tt.column(cs.target)
        assert new is not None
        old = src.column(cs.source) if cs.source and cs.source != "rowid" else None
        if new.notnull and cs.source is None and new.default is None:
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
                out.append(_check(tp, src, cs.target, f"the type change {old.type or 'untyped'} -> "
                                  f"{new.type or 'untyped'} would change stored values",
                                  "keep the old type, or convert the values in the old database first",
                                  pred, f"(SELECT {q(old.name)} AS {q(cs.target)} "
                                        f"FROM old.{q(src.name)} WHERE {RANGE})"))
    return out


def _type_changes(old: Column, old_strict: bool, new: Column, new_strict: bool) -> bool:
    if new_strict:
        return not (old_strict and old.type.upper() == new.type.upper())
    return affinity(old.type) != affinity(new.type)


def _constraint_checks(tp: TablePlan, src: Table, tt: Table, target: Schema) -> list[DataCheck]:
    mapped = f"({mapped_select(tp, tt)})"
    out = []
    old_checks = {canonical(c) for c in src.checks}
    for chk in tt.checks:
        if canonical(chk) in old_checks:
            continue
        out.append(_check(tp, src, None, f"rows violate the new CHECK ({chk})",
                          "fix those rows in the old database first, or relax the CHECK",
                          f"NOT coalesce(({chk}), 1)", mapped))
    for cols in _new_unique_sets(tp, src, tt, target):
        names = ", ".join(map(q, cols))
        nonnull = " AND ".join(f"{q(c)} IS NOT NULL" for c in cols)
        frm = f"(SELECT {names} FROM {mapped} WHERE {nonnull} GROUP BY {names} HAVING count(*) > 1)"
        out.append(DataCheck(tp.target, ", ".join(cols),
                             f"rows violate the new UNIQUE ({', '.join(cols)})",
                             "remove the duplicates in the old database first, or drop the constraint",
                             count_sql=f"SELECT count(*) FROM {frm}",
                             sample_sql=f"SELECT * FROM {frm} LIMIT 1"))
    return out


def _new_unique_sets(tp: TablePlan, src: Table, tt: Table, target: Schema) -> list[tuple[str, ...]]:
    """Target unique column sets the old table does not already guarantee."""
    back = {c.target.lower(): (c.source or "").lower() for c in tp.columns}
    old_sets = [set(c.lower() for c in u) for u in src.uniques]
    if src.primary_key:
        old_sets.append({c.lower() for c in src.primary_key})
    wanted = list(tt.uniques)
    if tt.primary_key and tt.rowid_alias is None:
        wanted.append(tt.primary_key)
    wanted += [tuple(i.columns) for i in target.indexes_of(tt.name)
               if i.unique and i.where is None and all(tt.column(_bare(c)) for c in i.columns)]
    out = []
    for cols in wanted:
        names = tuple(_bare(c) for c in cols)
        mapped = {back.get(n.lower(), "") for n in names}
        if "" in mapped or not any(s <= mapped for s in old_sets):
            out.append(names)
    return out


def _bare(term: str) -> str:
    return unquote_ident(term.strip())


def _fk_check(tp: TablePlan, src: Table, tt: Table, fk: ForeignKey, target: Schema,
              plans: dict[str, TablePlan]) -> DataCheck:
    """Child rows whose reference finds neither a copied parent row nor a seeded one."""
    parent = target.table(fk.ref_table)
    assert parent is not None
    ref_cols = fk.ref_columns or parent.primary_key
    found = [_parent_probe(fk.columns, ref_cols, plans.get(parent.name))]
    seeds = [s.as_dict() for s in target.seeds_of(parent.name)]
    if seeds:
        rows = ", ".join("(" + ", ".join(_lit(d.get(c)) for c in ref_cols) + ")" for d in seeds)
        found.append(f"({', '.join(f'c.{q(a)}' for a in fk.columns)}) IN (VALUES {rows})")
    nonnull = " AND ".join(f"c.{q(a)} IS NOT NULL" for a in fk.columns)
    where = f"{nonnull} AND NOT ({' OR '.join(f for f in found if f)})"
    frm = f"({mapped_select(tp, tt)}) c"
    return DataCheck(tp.target, ", ".join(fk.columns),
                     f"rows reference missing {fk.ref_table} rows (FOREIGN KEY)",
                     "fix or delete those rows in the old database first, or add the parent rows "
                     "as seed rows", count_sql=f"SELECT count(*) FROM {frm} WHERE {where}",
                     sample_sql=f"SELECT c.* FROM {frm} WHERE {where} LIMIT 1",
                     chunk_table=_chunkable(src))


def _parent_probe(child_cols: tuple[str, ...], ref_cols: tuple[str, ...],
                  parent: TablePlan | None) -> str:
    """EXISTS against the old parent table itself, so its index answers."""
    if parent is None or parent.source is None:
        return "0"
    by_target = {c.target.lower(): c.source for c in parent.columns}
    sources = [by_target.get(r.lower()) for r in ref_cols]
    if any(s is None for s in sources):
        return "0"
    match = " AND ".join(f"p.{'rowid' if s == 'rowid' else q(s)} = c.{q(a)}"  # type: ignore[arg-type]
                         for a, s in zip(child_cols, sources))
    return f"EXISTS (SELECT 1 FROM old.{q(parent.source)} p WHERE {match})"


def _lit(v: object) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, (bytes, bytearray)):
        return "X'" + bytes(v).hex() + "'"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, float):
        return repr(v) if v == v and abs(v) != float("inf") else ("1e999" if v > 0 else "-1e999")
    return str(v)
