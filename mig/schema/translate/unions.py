"""Union extension tables (docs/fsx.md §4.7): a case `Aspect of B * …` whose
first field is a table record gives a table 1:1 with B's rows.

Cases that do not have that shape (enums, `Cash of float * string`) yield
nothing, as in the original tool; a misspelt first type still fails (T2), so
a typo never silently drops a table. Errors U1, U2 (and T2, T3, T5, T6).
"""

from __future__ import annotations

from mig.model import Column, ForeignKey, Table, snake
from mig.schema import decl
from mig.schema.translate.attrs import check_attrs
from mig.schema.translate.common import Ctx, RecordInfo, fail
from mig.schema.translate.types import SCALAR_SQL, UNSUPPORTED_NAMES, Owner, field_type, unwrap

__all__ = ["check_union_attrs", "extension_tables"]

_EXT_FIELD = "an extension field takes int64, string, float, byte[] or an option of one of these"


def check_union_attrs(u: decl.UnionDecl) -> tuple[decl.Attribute, ...]:
    return check_attrs(u.attrs, "union", u.name)


def extension_tables(ctx: Ctx, u: decl.UnionDecl) -> list[tuple[Table, decl.CaseDecl]]:
    out = []
    for case in u.cases:
        if len(case.fields) < 2:
            continue
        base = _base_record(ctx, u, case)
        if base is not None:
            out.append((_extension(ctx, u, case, base), case))
    return out


def _base_record(ctx: Ctx, u: decl.UnionDecl, case: decl.CaseDecl) -> RecordInfo | None:
    """The table record the case extends, if its first field is a plain record name."""
    t = case.fields[0].type
    shape = unwrap(t)
    if shape is None or shape[1] or "." in t.name:
        return None
    known = t.name in ctx.records or t.name in ctx.unions
    if not known and (t.name in UNSUPPORTED_NAMES or t.name in ("int64", "string", "float", "double")):
        return None
    if t.name in ctx.unions:
        return None
    owner = Owner(f"{u.name}.{case.name}", ctx.index[u.name], u.group)
    ft = field_type(ctx, t, owner, refs=True)  # T2, T3, T5 for the first type
    return ctx.records[ft.ref] if ft.ref else None


def _extension(ctx: Ctx, u: decl.UnionDecl, case: decl.CaseDecl, base: RecordInfo) -> Table:
    where = f"{u.name}.{case.name}"
    if base.key is None:
        fail(case.fields[0].type.pos, f"{where} extends {base.type_name}, which has no primary "
                                      f"key; give {base.type_name} a PK or AutoIncPK")
    aspect = case.name[4:] if len(case.name) > 4 and case.name.startswith("With") else case.name
    key_col = f"{base.name}_id"
    columns = [Column(key_col, base.key.sql_type, notnull=True)]
    owner = Owner(where, ctx.index[u.name], u.group)
    for n, cf in enumerate(case.fields[1:], start=1):
        ft = field_type(ctx, cf.type, owner, refs=False, why=_EXT_FIELD)
        assert ft.scalar is not None
        name = f"value_{n}" if cf.name is None or cf.name.startswith("Item") else snake(cf.name)
        if any(c.name.lower() == name.lower() for c in columns):
            fail(cf.pos, f"duplicate column {name} in the extension table of {where}")
        columns.append(Column(name, SCALAR_SQL[ft.scalar], notnull=not ft.nullable))
    return Table(
        name=f"{base.name}_{snake(aspect)}",
        columns=tuple(columns),
        primary_key=(key_col,),
        foreign_keys=(ForeignKey((key_col,), base.name, (base.key.column,)),),
    )
