"""Compare the old database's model with the target model: which data goes where.

Sorted set arithmetic plus declared intent. A target table's source is the
old table of the same name or the one a rename declares; a column's source
is the old column of the same name, the one a rename declares, or nothing
(the column's default). Renames are never guessed. Questions only the data
can answer (is this table empty? do these values fit?) become DataChecks,
asked by the migrate phase before anything is written. Pure code.
"""

from __future__ import annotations

from mig.model import Schema, Table, schema_hash
from mig.plan.checks import plan_checks
from mig.plan.ops import RANGE, ColumnSource, DataCheck, Plan, Refusal, TablePlan
from mig.sqltext import quote_ident as q

__all__ = ["compare", "copy_order"]


def compare(old: Schema, target: Schema) -> Plan:
    """The plan for moving `old`'s data into `target` (refusals come from its checks)."""
    sources = _table_sources(old, target)
    tables, checks, refusals, notes = [], [], [], []
    for name in copy_order(target):
        tt = target.table(name)
        assert tt is not None
        source = sources.get(name)
        src = old.table(source) if source else None
        tp, table_refusals = _table_plan(tt, src, target)
        tables.append(tp)
        refusals += table_refusals
    checks += plan_checks(tables, old, target)
    carried = {s.lower() for s in sources.values() if s}
    declared = {d.name.lower() for d in target.drop_tables}
    dropped = sorted(t.name for t in old.tables if t.name.lower() not in carried)
    for name in dropped:
        if name.lower() not in declared:
            checks.append(_drop_table_check(old.table(name)))  # type: ignore[arg-type]
    for d in target.drop_tables:
        if old.table(d.name) is None:
            notes.append(f"declared drop of table {d.name}: no such table in the old database")
    return Plan(
        schema_hash=schema_hash(target), tables=tuple(tables), dropped_tables=tuple(dropped),
        declared_drops=tuple(n for n in dropped if n.lower() in declared),
        checks=tuple(checks), refusals=tuple(refusals), notes=tuple(notes),
    )


def _table_sources(old: Schema, target: Schema) -> dict[str, str | None]:
    renamed = {r.new.lower(): r.old for r in target.rename_tables}
    out: dict[str, str | None] = {}
    for t in target.tables:
        declared = renamed.get(t.name.lower())
        if declared is not None and old.table(declared) is not None:
            out[t.name] = old.table(declared).name  # type: ignore[union-attr]
        elif old.table(t.name) is not None:
            out[t.name] = old.table(t.name).name  # type: ignore[union-attr]
        else:
            out[t.name] = None
    return out


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
    out = []
    for col in tt.columns:
        if col.generated is not None:
            continue
        declared = renames.get(col.name.lower())
        if declared is not None and src.column(declared) is not None:
            out.append(ColumnSource(col.name, src.column(declared).name, "renamed"))  # type: ignore[union-attr]
        elif src.column(col.name) is not None and (declared is None):
            out.append(ColumnSource(col.name, src.column(col.name).name, "same"))  # type: ignore[union-attr]
        elif col.name == tt.rowid_alias and not src.primary_key and not src.without_rowid:
            out.append(ColumnSource(col.name, "rowid", "rowid"))
        else:
            out.append(ColumnSource(col.name, None, "default"))
    return out


def _table_plan(tt: Table, src: Table | None, target: Schema) -> tuple[TablePlan, list[Refusal]]:
    if src is None:
        return TablePlan(tt.name, None, "create", tuple(ColumnSource(c.name, None, "default")
                                                         for c in tt.columns if c.generated is None)), []
    cols = _column_sources(tt, src, target)
    used = {c.source.lower() for c in cols if c.source}
    dropped = tuple(c.name for c in src.stored_columns if c.name.lower() not in used)
    old_key = src.primary_key or ("rowid",)
    back = {c.source.lower(): c.target for c in cols if c.source}
    refusals = []
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
    tp = TablePlan(
        target=tt.name, source=src.name, how=how, columns=tuple(cols), dropped_columns=dropped,
        old_key=tuple(old_key), new_key=new_key,
        chunk_key=("rowid",) if not src.without_rowid else tuple(src.primary_key),
        copy_rowid=copy_rowid,
        autoincrement=tt.autoincrement and src.autoincrement,
        replace_by_key=_lower(new_key) == _lower(tt.primary_key or ("rowid",))
        or (new_key == ("rowid",) and copy_rowid),
    )
    return tp, refusals


def _lower(names: tuple[str, ...]) -> set[str]:
    return {n.lower() for n in names}


def _drop_table_check(table: Table) -> DataCheck:
    name = table.name
    return DataCheck(
        table=name, column=None,
        reason="the new schema drops this non-empty table",
        hint=f"declare it with `-- mig:drop-table {name}` (or DropTable \"{name}\"), "
             "or rename it with `-- mig:rename-table`",
        count_sql=f"SELECT count(*) FROM old.{q(name)} WHERE {RANGE}",
        sample_sql=f"SELECT * FROM old.{q(name)} WHERE {RANGE} LIMIT 1",
        chunk_table=None if table.without_rowid else name,
    )
