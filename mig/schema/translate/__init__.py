"""Declarations to the schema model: the meaning of the DSL (docs/fsx.md §3–§6).

Both DSL syntaxes end here — `fsx.py` parses F# text into `decl` nodes and
`python.py` reads Python classes into the same nodes — so a schema means the
same, and fails with the same message, whichever syntax it is written in.

The steps run in dependency order, each in its own module: attributes are
checked first (so every rule can trust their shape), then field types,
keys, references, tables, extension tables, indexes, views, renames and
drops, query annotations and seed rows. The first error stops translation.
"""

from __future__ import annotations

from mig.model import Convert, ConvertBack, Schema, snake
from mig.schema import decl
from mig.schema.translate.attrs import check_record_attrs
from mig.schema.translate.common import Ctx, RecordInfo, fail
from mig.schema.translate.intents import intents
from mig.schema.translate.queries import queries
from mig.schema.translate.seeds import seed_rows
from mig.schema.translate.tables import assign_key, build_fields, indexes, resolve_refs, table_model
from mig.schema.translate.unions import check_union_attrs, extension_tables
from mig.schema.translate.views import build_views

__all__ = ["translate"]


def translate(script: decl.Script) -> Schema:
    with decl.depth_guard(script.file):
        return _translate(script)


def _translate(script: decl.Script) -> Schema:
    ctx = _context(script)
    for rec in ctx.records.values():
        build_fields(ctx, rec)
    for rec in ctx.tables():
        assign_key(rec)
    for rec in ctx.tables():
        resolve_refs(ctx, rec)
    tables = [table_model(ctx, rec) for rec in ctx.tables()]
    names = {rec.name.lower() for rec in ctx.records.values()}
    for u in ctx.unions.values():
        for table, case in extension_tables(ctx, u):
            if table.name.lower() in names:
                fail(case.pos, f"duplicate table name {table.name} (extension table of {u.name}.{case.name})")
            names.add(table.name.lower())
            tables.append(table)
    index_list = indexes(ctx)
    views = build_views(ctx)
    renames, col_renames, drops, col_drops, conversions = intents(ctx, names)
    return Schema(
        tables=tuple(tables),
        indexes=tuple(index_list),
        views=tuple(views),
        seeds=tuple(seed_rows(ctx)),
        rename_tables=tuple(renames),
        rename_columns=tuple(col_renames),
        drop_tables=tuple(drops),
        drop_columns=tuple(col_drops),
        conversions=tuple(c for c in conversions if isinstance(c, Convert)),
        conversions_back=tuple(c for c in conversions if isinstance(c, ConvertBack)),
        queries=tuple(queries(ctx)),
    )


def _context(script: decl.Script) -> Ctx:
    """Who is declared where: T7, T6 for type and table names, attribute checks."""
    records: dict[str, RecordInfo] = {}
    unions: dict[str, decl.UnionDecl] = {}
    index: dict[str, int] = {}
    group: dict[str, int] = {}
    tables: dict[str, str] = {}
    for i, d in enumerate(script.decls):
        if isinstance(d, decl.LetDecl):
            continue
        if d.name in index:
            fail(d.pos, f"duplicate type name {d.name}")
        index[d.name], group[d.name] = i, d.group
        if isinstance(d, decl.UnionDecl):
            unions[d.name] = d
            check_union_attrs(d)
            continue
        is_view, attrs = check_record_attrs(d)
        rec = RecordInfo(d, i, is_view, snake(d.name), attrs)
        other = tables.get(rec.name.lower())
        if other is not None:
            fail(d.pos, f"duplicate {'view' if is_view else 'table'} name {rec.name} "
                        f"({other} and {d.name} both give it)")
        tables[rec.name.lower()] = d.name
        records[d.name] = rec
    if not records:
        fail(decl.Pos(script.file, 1, 1), "no record type in the script: declare at least one table record")
    return Ctx(script, records, unions, index, group)


