"""Table records to tables (docs/fsx.md §3, §4.1–§4.6): columns, keys,
references, UNIQUE, defaults, delete actions and indexes.

Columns are built for every record first, then keys, then reference types
(a reference takes its target's key type, and the target may sit later in an
`and` group), then constraints; each step only reads what earlier ones fixed.
"""

from __future__ import annotations

import re

from mig.model import Column, ForeignKey, Index, Table, snake
from mig.schema import decl
from mig.schema.translate.attrs import check_attrs
from mig.schema.translate.common import Ctx, FieldInfo, RecordInfo, fail, positional, resolve_column
from mig.schema.translate.types import SCALAR_SQL, Owner, field_type
from mig.sql.text import canonical, quote_ident, quote_str

__all__ = ["build_fields", "assign_key", "resolve_refs", "table_model", "indexes", "default_sql"]

_VIEW_FIELD = "a view field takes int64, string, float, byte[] or an option of one of these"


def build_fields(ctx: Ctx, rec: RecordInfo) -> None:
    """Classify each field and name its column; T1–T6 for fields."""
    place = "view field" if rec.is_view else "field"
    by_column: dict[str, str] = {}
    names: set[str] = set()
    for f in rec.decl.fields:
        where = f"{rec.type_name}.{f.name}"
        check_attrs(f.attrs, place, where)
        if f.name in names:
            fail(f.pos, f"duplicate field {f.name} in {rec.type_name}")
        names.add(f.name)
        owner = Owner(where, rec.index, rec.decl.group)
        ft = field_type(ctx, f.type, owner, refs=not rec.is_view, why=_VIEW_FIELD if rec.is_view else "")
        column = snake(f.name) + ("_id" if ft.ref else "")
        other = by_column.get(column.lower())
        if other is not None:
            fail(f.pos, f"duplicate column {column} in {rec.name}: "
                        f"fields {other} and {f.name} both give it")
        by_column[column.lower()] = f.name
        sql_type = SCALAR_SQL[ft.scalar] if ft.scalar else ""
        rec.fields.append(FieldInfo(f, column, ft.scalar, ft.ref, ft.nullable, sql_type))


def assign_key(rec: RecordInfo) -> None:
    """PK / AutoIncPK (§4.2): A4 and A5; A3 was checked with the attributes."""
    keys = rec.attrs_named("PK", "AutoIncPK")
    if not keys:
        return
    attr = keys[0]
    arg = positional(attr)[0]
    want = arg.value.lower()
    hits = [f for f in rec.fields if want in (f.name.lower(), snake(f.name))]
    if len(hits) != 1:
        known = ", ".join(f.name for f in rec.fields)
        fail(arg.pos, f"{attr.name} field `{decl.echo(arg.value)}` not found in {rec.type_name}; "
                      f"its fields are: {known}")
    f = hits[0]
    problem = ("a reference" if f.ref else "an option" if f.nullable
               else "a byte[]" if f.scalar == "bytes" else None)
    if problem:
        fail(arg.pos, f"{rec.type_name}.{f.name} cannot be the primary key: it is {problem}")
    if attr.name == "AutoIncPK" and f.scalar != "int64":
        fail(arg.pos, f"AutoIncPK needs an int64 field, but {rec.type_name}.{f.name} is a "
                      f"{f.scalar}; use PK for a primary key that is not AUTOINCREMENT")
    rec.key, rec.autoinc = f, attr.name == "AutoIncPK"


def resolve_refs(ctx: Ctx, rec: RecordInfo) -> None:
    """A reference column takes the referenced key's type (T4 without a key)."""
    for f in rec.fields:
        if f.ref is None:
            continue
        target = ctx.records[f.ref]
        if target.key is None:
            fail(f.decl.type.pos, f"{rec.type_name}.{f.name} references {target.type_name}, which "
                                  f"has no primary key; give {target.type_name} a PK or AutoIncPK")
        f.sql_type = target.key.sql_type


def table_model(ctx: Ctx, rec: RecordInfo) -> Table:
    defaults = _defaults(rec)
    actions = _delete_actions(rec)
    columns = tuple(Column(f.column, f.sql_type, notnull=not f.nullable, default=defaults.get(f.column))
                    for f in rec.fields)
    fks = []
    for f in rec.fields:
        if f.ref is not None:
            target = ctx.records[f.ref]
            assert target.key is not None
            fks.append(ForeignKey((f.column,), target.name, (target.key.column,),
                                  on_delete=actions.get(f.column, "NO ACTION")))
    return Table(
        name=rec.name,
        columns=columns,
        primary_key=(rec.key.column,) if rec.key else (),
        autoincrement=rec.autoinc,
        uniques=_uniques(rec),
        foreign_keys=tuple(fks),
    )


def _uniques(rec: RecordInfo) -> tuple[tuple[str, ...], ...]:
    out: list[tuple[str, ...]] = []
    for attr in rec.attrs_named("Unique"):
        cols = tuple(resolve_column(rec, a.value, a.pos).column for a in positional(attr))
        if cols not in out:
            out.append(cols)
    return tuple(out)


def _delete_actions(rec: RecordInfo) -> dict[str, str]:
    """OnDeleteCascade / OnDeleteSetNull (§4.6): A6, A7, A8."""
    out: dict[str, str] = {}
    for attr in rec.attrs_named("OnDeleteCascade", "OnDeleteSetNull"):
        arg = positional(attr)[0]
        f = resolve_column(rec, arg.value, arg.pos)
        if f.ref is None:
            fail(arg.pos, f"{attr.name}: column {f.column} of {rec.name} is not a foreign key "
                          "(a field typed with a table record)")
        action = "CASCADE" if attr.name == "OnDeleteCascade" else "SET NULL"
        if action == "SET NULL" and not f.nullable:
            fail(arg.pos, f"OnDeleteSetNull on column {f.column} of {rec.name}, which is NOT NULL: "
                          f"deleting the parent could never succeed; make {f.name} an option")
        if out.get(f.column, action) != action:
            fail(arg.pos, f"conflicting delete actions on column {f.column} of {rec.name}: "
                          f"ON DELETE {out[f.column]} and ON DELETE {action}")
        out[f.column] = action
    return out


def _defaults(rec: RecordInfo) -> dict[str, str]:
    """Default / DefaultExpr (§4.4): A8 for a second default, A9 for a bad value."""
    out: dict[str, str] = {}
    for attr in rec.attrs_named("Default", "DefaultExpr"):
        col_arg, value_arg = positional(attr)
        f = resolve_column(rec, col_arg.value, col_arg.pos)
        if f.column in out:
            fail(col_arg.pos, f"more than one default for column {f.column} of {rec.name}")
        if attr.name == "Default":
            out[f.column] = default_sql(value_arg.value, value_arg.pos)
        else:
            out[f.column] = _default_expr(value_arg.value, value_arg.pos, f.column)
    return out


def _default_expr(value: str, pos: decl.Pos, column: str) -> str:
    """`DefaultExpr` text, trimmed and otherwise as written (§4.4).

    The model keeps SQL as its author wrote it (mig/model.py); rendering adds
    the parentheses of `DEFAULT (expr)`, and only `Schema.canonical()` puts
    it in canonical form, for comparisons and the hash.
    """
    text = value.strip()
    if not text:
        fail(pos, f"DefaultExpr for column {column} is empty")
    return text


_INT = re.compile(r"[+-]?[0-9]+")
_DEC = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?")
_SQL_STRING = re.compile(r"'(?:[^']|'')*'")
_BLOB = re.compile(r"[xX]'(?:[0-9a-fA-F]{2})*'")
_WORD = re.compile(r"[^\W\d]\w*")
_KEYWORDS = ("NULL", "CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "TRUE", "FALSE")


def default_sql(value: str, pos: decl.Pos) -> str:
    """The SQL a `Default` value emits (table of §4.4), or A9.

    An integer is written as that integer (`+7` is `7`); a decimal, an SQL
    string and a blob exactly as written; a keyword upper-cased (`TRUE`
    stays `TRUE`, never `1`: SQLite reports it as written); a bare word as a
    quoted string.
    """
    v = value.strip()
    if _INT.fullmatch(v):
        if -(2**63) <= int(v) < 2**63:
            return str(int(v))
    elif _DEC.fullmatch(v) or _SQL_STRING.fullmatch(v) or _BLOB.fullmatch(v):
        return v
    elif v.upper() in _KEYWORDS:
        return v.upper()
    elif _WORD.fullmatch(v):
        return quote_str(v)
    fail(pos, f"Default value `{decl.echo(value)}` is not a number, an SQL string, a blob, NULL, a "
              "keyword or a bare word; for an expression use DefaultExpr")


def indexes(ctx: Ctx) -> list[Index]:
    """Index attributes (§4.5), named from resolved columns; A12 across the schema."""
    out: list[Index] = []
    for rec in ctx.tables():
        for attr in rec.attrs_named("Index"):
            cols = [resolve_column(rec, a.value, a.pos).column for a in positional(attr)]
            index = Index(f"ix_{rec.name}_{'_'.join(cols)}", rec.name,
                          tuple(canonical(quote_ident(c)) for c in cols))
            same = next((i for i in out if i.name.lower() == index.name.lower()), None)
            if same is None:
                out.append(index)
            elif same != index:
                fail(attr.pos, f"index {index.name} would be declared twice: on {same.table}"
                               f"({', '.join(same.columns)}) and on {rec.name}({', '.join(cols)})")
    return out
