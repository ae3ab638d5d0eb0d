"""Compare the old database's model with the target model: which data goes where.

Sorted set arithmetic plus declared intent. A target table's source is the
old table of the same name or the one a rename declares; a column's source
is the old column of the same name, the one a rename declares, or nothing
(the column's default). Renames are never guessed. Questions only the data
can answer (is this table empty? do these values fit?) become DataChecks,
asked by the migrate phase before anything is written. Pure code.
"""

from __future__ import annotations

from typing import Sequence

from mig.model import Convert, ConvertBack, Declared, Index, Schema, Table, Trigger, View, schema_hash
from mig.plan.checks import directive_name, plan_checks
from mig.plan.mapping import expression_reads
from mig.plan.ops import RANGE, ColumnSource, DataCheck, ObjectChange, Plan, Refusal, TablePlan
from mig.sql.text import quote_ident as q
from mig.sql.text import unquote_ident

__all__ = ["compare", "copy_order", "intent_problems", "table_plan", "conversions_back"]


def compare(old: Schema, target: Schema) -> Plan:
    """The plan for moving `old`'s data into `target` (refusals come from its checks)."""
    sources = _table_sources(old, target)
    tables, checks, refusals = [], [], []
    for name in copy_order(target):
        tt = target.table(name)
        assert tt is not None
        source = sources.get(name)
        src = old.table(source) if source else None
        tp, table_refusals = table_plan(tt, src, target)
        tables.append(tp)
        refusals += table_refusals
    checks += plan_checks(tables, old, target)
    carried = {s.lower() for s in sources.values() if s}
    declared = {d.name.lower() for d in target.drop_tables}
    dropped = sorted(t.name for t in old.tables if t.name.lower() not in carried)
    for name in dropped:
        if name.lower() not in declared:
            checks.append(_drop_table_check(old.table(name)))  # type: ignore[arg-type]
    return Plan(
        schema_hash=schema_hash(target), tables=tuple(tables), dropped_tables=tuple(dropped),
        declared_drops=tuple(n for n in dropped if n.lower() in declared),
        checks=tuple(checks), refusals=tuple(refusals),
        objects=object_changes(old, target),
    )


def intent_problems(old: Schema, target: Schema) -> list[tuple[Declared, str]]:
    """Declared renames and drops that name a table or column the old database lacks,
    with where each was declared: a typo in a rename would silently lose the rename
    (the column would start from its default), so each one is an error, not a note."""
    sources = _table_sources(old, target)
    out: list[tuple[Declared, str]] = []
    for r in target.rename_tables:
        if old.table(r.old) is None:
            out.append((r.at, f"declared rename of table {r.old} to {r.new}: the old database "
                              f"has no table {r.old}"))
    for d in target.drop_tables:
        if old.table(d.name) is None:
            out.append((d.at, f"declared drop of table {d.name}: the old database has no table {d.name}"))
    for rc in target.rename_columns:
        out += _column_intent_problem(old, target, sources, rc.table, rc.old, rc.at,
                                      f"declared rename of column {rc.table}.{rc.old} to {rc.new}")
    for dc in target.drop_columns:
        out += _column_intent_problem(old, target, sources, dc.table, dc.column, dc.at,
                                      f"declared drop of column {dc.table}.{dc.column}")
    for cv in target.conversions:
        out += _conversion_problem(old, target, sources, cv)
    for cb in target.conversions_back:
        problem = _back_problem(old, target, sources, cb)
        out += [(cb.at, problem)] if problem else []
    return out


def conversions_back(old: Schema, target: Schema) -> dict[str, dict[str, str]]:
    """Per new table (lower-cased), each old column (lower-cased) a declared way back
    computes, with its SQL over the new row; one that names nothing is left out
    (intent_problems reports it)."""
    sources = _table_sources(old, target)
    out: dict[str, dict[str, str]] = {}
    for cb in target.conversions_back:
        if _back_problem(old, target, sources, cb) is None:
            column = _back_column(old, target, sources, cb)
            out.setdefault(cb.table.lower(), {})[column.lower()] = cb.expr
    return out


def _back_column(old: Schema, target: Schema, sources: dict[str, str | None], cb: ConvertBack) -> str:
    """The old column a way back gives its value to: as declared, or the one old column the
    conversion of `cb.of` reads ("" when it reads none or several)."""
    if cb.column:
        return cb.column
    new = target.table(cb.table)
    src = old.table(sources.get(new.name) or "") if new is not None else None
    cv = next((c for c in target.conversions if c.table.lower() == cb.table.lower()
               and c.column.lower() == cb.of.lower()), None)
    reads = expression_reads(cv.expr, src)[0] if cv is not None and src is not None else ()
    return reads[0] if len(reads) == 1 else ""


def _back_problem(old: Schema, target: Schema, sources: dict[str, str | None], cb: ConvertBack) -> str | None:
    new = target.table(cb.table)
    src = old.table(sources.get(new.name) or "") if new is not None else None
    what = f"declared way back of {cb.table}.{cb.column or cb.of}"
    if new is None or src is None:
        return f"{what}: table {cb.table} has no table in the old database to go back to"
    column = _back_column(old, target, sources, cb)
    if not column:
        return (f"{what}: its conversion reads no old column or several; declare each with "
                f"`-- mig:convert-back {cb.table} OLD_COLUMN EXPRESSION`")
    if src.column(column) is None:
        return f"{what}: the old table {src.name} has no column {column}"
    _, unknown = expression_reads(cb.expr, new)
    if unknown:
        return (f"{what}: {', '.join(unknown)} is no column of the new table {new.name} (its columns: "
                f"{', '.join(c.name for c in new.stored_columns)})")
    return None


def _conversion_problem(old: Schema, target: Schema, sources: dict[str, str | None],
                        cv: Convert) -> list[tuple[Declared, str]]:
    """A conversion reads the old table's columns: one it names that is not there is a typo."""
    new = target.table(cv.table)
    source = sources.get(new.name) if new is not None else None
    src = old.table(source) if source else None
    what = f"declared conversion of {cv.table}.{cv.column}"
    if src is None:
        return [(cv.at, f"{what}: table {cv.table} has no table in the old database to come from")]
    _, unknown = expression_reads(cv.expr, src)
    if unknown:
        return [(cv.at, f"{what}: {', '.join(unknown)} is no column of the old table {src.name} "
                        f"(its columns: {', '.join(c.name for c in src.stored_columns)})")]
    return []


def _column_intent_problem(old: Schema, target: Schema, sources: dict[str, str | None], table: str,
                           column: str, at: Declared, what: str) -> list[tuple[Declared, str]]:
    new = target.table(table)
    source = sources.get(new.name) if new is not None else None
    src = old.table(source) if source else None
    if src is None:
        return [(at, f"{what}: table {table} has no table in the old database to come from")]
    if src.column(column) is None:
        return [(at, f"{what}: the old database's table {src.name} has no column {column}")]
    return []


def _table_sources(old: Schema, target: Schema) -> dict[str, str | None]:
    """A declared rename takes the old table; otherwise the old table of the same name,
    unless a rename took it (`rename a b` plus a new `a`: the new `a` starts empty)."""
    renamed = {r.new.lower(): r.old for r in target.rename_tables}
    taken = {r.old.lower() for r in target.rename_tables if old.table(r.old) is not None}
    out: dict[str, str | None] = {}
    for t in target.tables:
        declared = renamed.get(t.name.lower())
        same = old.table(t.name)
        if declared is not None and old.table(declared) is not None:
            out[t.name] = old.table(declared).name  # type: ignore[union-attr]
        elif same is not None and same.name.lower() not in taken:
            out[t.name] = same.name
        else:
            out[t.name] = None
    return out


def object_changes(old: Schema, target: Schema) -> tuple[ObjectChange, ...]:
    """Indexes, views and triggers that are new, changed or dropped (same ones are not listed)."""
    a, b = old.canonical(), target.canonical()
    pairs: list[tuple[str, Sequence[Index | View | Trigger], Sequence[Index | View | Trigger]]] = [
        ("index", a.indexes, b.indexes), ("view", a.views, b.views), ("trigger", a.triggers, b.triggers)]
    out: list[ObjectChange] = []
    for kind, olds, news in pairs:
        before = {o.name.lower(): o for o in olds}
        after = {o.name.lower(): o for o in news}
        names = {o.name.lower(): o.name for o in (*olds, *news)}
        for low in sorted(set(before) | set(after)):
            if low not in before:
                out.append(ObjectChange(kind, names[low], "new"))
            elif low not in after:
                out.append(ObjectChange(kind, names[low], "dropped"))
            elif before[low] != after[low]:
                out.append(ObjectChange(kind, names[low], "changed"))
    return tuple(out)


def copy_order(schema: Schema) -> list[str]:
    """Tables with parents before children; ties and cycles by name."""
    names = sorted(t.name for t in schema.tables)
    parents = {
        n: {fk.ref_table.lower() for fk in schema.table(n).foreign_keys  # type: ignore[union-attr]
            if fk.ref_table.lower() != n.lower()}
        for n in names
    }
    done: list[str] = []
    while len(done) < len(names):
        placed = {d.lower() for d in done}
        ready = [n for n in names if n not in done and parents[n] & {x.lower() for x in names} <= placed]
        done.append(ready[0] if ready else next(n for n in names if n not in done))
    return done


def _column_sources(tt: Table, src: Table, target: Schema) -> list[ColumnSource]:
    renames = {r.new.lower(): r.old for r in target.rename_columns if r.table.lower() == tt.name.lower()}
    converts = {c.column.lower(): c.expr for c in target.conversions if c.table.lower() == tt.name.lower()}
    out = []
    for col in tt.columns:
        if col.generated is not None:
            continue
        declared = renames.get(col.name.lower())
        if col.name.lower() in converts:
            reads, _ = expression_reads(converts[col.name.lower()], src)
            out.append(ColumnSource(col.name, reads[0] if reads else "", "converted",
                                    converts[col.name.lower()], reads))
            continue
        if declared is not None and src.column(declared) is not None:
            out.append(ColumnSource(col.name, src.column(declared).name, "renamed"))  # type: ignore[union-attr]
        elif src.column(col.name) is not None and (declared is None):
            out.append(ColumnSource(col.name, src.column(col.name).name, "same"))  # type: ignore[union-attr]
        elif col.name == tt.rowid_alias and not src.primary_key and not src.without_rowid:
            out.append(ColumnSource(col.name, "rowid", "rowid"))
        else:
            out.append(ColumnSource(col.name, None, "default"))
    return out


def table_plan(tt: Table, src: Table | None, target: Schema) -> tuple[TablePlan, list[Refusal]]:
    if src is None:
        return TablePlan(tt.name, None, "create", tuple(ColumnSource(c.name, None, "default")
                                                         for c in tt.columns if c.generated is None)), []
    cols = _column_sources(tt, src, target)
    used = {r.lower() for c in cols for r in (c.reads if c.how == "converted" else (c.source,)) if r}
    dropped = tuple(c.name for c in src.stored_columns if c.name.lower() not in used)
    back = {c.source.lower(): c.target for c in cols if c.source and c.how != "converted"}
    old_key = src.primary_key or _key_from_columns(tt, cols) or ("rowid",)
    refusals = [Refusal(tt.name, c.target, "a primary key column cannot be converted: replay matches "
                        "rows by their key", "convert the key in the old database first, or keep it as it is")
                for c in cols if c.how == "converted" and c.target.lower() in _lower(tt.primary_key)]
    if old_key == ("rowid",):
        new_key: tuple[str, ...] = (back["rowid"],) if "rowid" in back else ("rowid",)
        if new_key == ("rowid",) and tt.without_rowid:
            refusals.append(Refusal(tt.name, None, "a keyless table cannot become WITHOUT ROWID "
                                    "(rows could not be matched during replay)",
                                    "give the old table a primary key first, or keep a rowid table"))
    else:
        missing = [k for k in old_key if k.lower() not in back]
        new_key = tuple(back.get(k.lower(), k) for k in old_key)
        if missing:
            refusals.append(Refusal(tt.name, missing[0], "the old primary key column is not carried "
                                    "over, so changed rows could not be matched during replay",
                                    "keep the key column (rename it if needed) in the new schema"))
    rowid_to_rowid = not src.without_rowid and not tt.without_rowid
    copy_rowid = rowid_to_rowid and tt.rowid_alias is None
    how = "copy" if src.name == tt.name else "renamed"
    replace_by_key = _lower(new_key) == _lower(tt.primary_key or ("rowid",)) \
        or (new_key == ("rowid",) and copy_rowid)
    # In place, a row keeps its hidden rowid: only where the rowid is not carried explicitly.
    fast = replace_by_key and not copy_rowid and not any(c.how == "converted" for c in cols)
    updated, compared = _fast_path(tt, cols, new_key, target) if fast else ((), ())
    tp = TablePlan(
        target=tt.name, source=src.name, how=how, columns=tuple(cols), dropped_columns=dropped,
        declared_drops=tuple(c for c in dropped if c.lower() in {
            d.column.lower() for d in target.drop_columns if d.table.lower() == tt.name.lower()}),
        old_key=tuple(old_key), new_key=new_key,
        chunk_key=("rowid",) if not src.without_rowid else tuple(src.primary_key),
        copy_rowid=copy_rowid,
        autoincrement=tt.autoincrement and src.autoincrement,
        replace_by_key=replace_by_key,
        integer_key=tuple(old_key) == ("rowid",) or tuple(old_key) == (src.rowid_alias,),
        nullable_key=_nullable(src, tuple(old_key)),
        unique_old_key=bool(src.primary_key) or tuple(old_key) == ("rowid",),
        updated=updated, compared=compared,
    )
    return tp, refusals


def _nullable(src: Table, key: tuple[str, ...]) -> bool:
    """Can a row's key be NULL? Only in a rowid table, for a key that is not the rowid."""
    if src.without_rowid or key in (("rowid",), (src.rowid_alias,)):
        return False
    return any(not (col := src.column(k)) or not col.notnull for k in key)


def _fast_path(tt: Table, cols: list[ColumnSource], key: tuple[str, ...],
               target: Schema) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(columns replay may update in place, columns that must be unchanged for it).

    Only plain indexes and constraints: an expression or partial index, or a
    generated column, may read any column, so such a table always replaces.
    """
    indexes = target.indexes_of(tt.name)
    plain = [tuple(unquote_ident(c.strip()) for c in i.columns) for i in indexes]
    if any(i.where for i in indexes) or any(not tt.column(c) for cols_ in plain for c in cols_) \
            or any(c.generated is not None for c in tt.columns):
        return (), ()
    read = {c.lower() for group in plain + list(tt.uniques) + [tt.primary_key] for c in group}
    keys = _lower(key)
    copied = [c.target for c in cols if c.source is not None and c.target.lower() not in keys]
    updated = tuple(c for c in copied if c.lower() not in read)
    compared = tuple(c for c in copied if c.lower() in read)
    return (updated, compared) if updated else ((), ())


def _key_from_columns(tt: Table, cols: list[ColumnSource]) -> tuple[str, ...] | None:
    """The old columns that become the key of a keyless table, when they all come from old columns.

    Capture then logs those values rather than the rowid, so replay matches a
    row by the key it has in the new table (its rowid there is the new key).
    """
    by_target = {c.target.lower(): c.source for c in cols if c.how != "converted"}
    sources = [by_target.get(k.lower()) for k in tt.primary_key]
    if not tt.primary_key or any(s is None or s == "rowid" for s in sources):
        return None
    return tuple(s for s in sources if s is not None)


def _lower(names: tuple[str, ...]) -> set[str]:
    return {n.lower() for n in names}


def _drop_table_check(table: Table) -> DataCheck:
    name = table.name
    return DataCheck(
        table=name, column=None,
        reason="the new schema drops this non-empty table",
        hint=f"declare it with `-- mig:drop-table {directive_name(name)}` (or DropTable \"{name}\"), "
             "or rename it with `-- mig:rename-table`",
        count_sql=f"SELECT count(*) FROM old.{q(name)} WHERE {RANGE}",
        sample_sql=f"SELECT * FROM old.{q(name)} WHERE {RANGE} LIMIT 1",
        chunk_table=name,
        chunk_key=tuple(table.primary_key) if table.without_rowid else ("rowid",),
    )
