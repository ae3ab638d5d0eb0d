"""Query attributes (docs/fsx.md §4.12): recorded for code generation, never
part of the schema. Their columns must still resolve, so a misspelt query
column fails now rather than in generated code later. Errors A4, A10.
"""

from __future__ import annotations

from mig.model import QueryAnnotation
from mig.schema import decl
from mig.schema.translate.attrs import QUERY_ATTRS
from mig.schema.translate.common import Ctx, RecordInfo, fail, named, positional, resolve_column

__all__ = ["queries"]


def queries(ctx: Ctx) -> list[QueryAnnotation]:
    out = []
    for rec in ctx.records.values():
        for attr in rec.attrs_named(*QUERY_ATTRS):
            out.append(_annotation(rec, attr))
    return out


def _annotation(rec: RecordInfo, attr: decl.Attribute) -> QueryAnnotation:
    args = positional(attr)
    if attr.name == "OrderBy":
        return QueryAnnotation(rec.name, attr.name, (), _order_by(rec, args[0]))
    cols = tuple(resolve_column(rec, a.value, a.pos).column for a in args)
    order = named(attr, "OrderBy")
    return QueryAnnotation(rec.name, attr.name, cols, _order_by(rec, order) if order else None)


def _order_by(rec: RecordInfo, arg: decl.AttrArg) -> str:
    """`column [ASC|DESC], …` with each column resolved (§5.3)."""
    items = []
    for part in arg.value.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            fail(arg.pos, f"OrderBy `{decl.echo(arg.value)}` on {rec.type_name}: write a comma-separated "
                          "list of `column`, `column ASC` or `column DESC`")
        column = resolve_column(rec, words[0], arg.pos).column
        items.append(" ".join([column, *(w.upper() for w in words[1:])]))
    return ", ".join(items)
