"""Field types of docs/fsx.md §3: which written types give which column.

A type is peeled into its base name and its wrappers (`option`, `[]`/`array`)
whichever way it was spelled (`string option`, `option<string>`,
`Option<string>`, `byte array`), so every spelling meets the same rules and
the same errors (T1–T5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from mig.schema import decl
from mig.schema.translate.common import Ctx, fail

__all__ = ["FieldType", "Owner", "field_type", "SCALAR_SQL", "UNSUPPORTED_NAMES", "unwrap"]

SCALARS = {"int64": "int64", "string": "string", "float": "float", "double": "float"}
SCALAR_SQL = {"int64": "INTEGER", "string": "TEXT", "float": "REAL", "bytes": "BLOB"}

UNSUPPORTED_NAMES = frozenset("""
int int8 int16 int32 uint uint8 uint16 uint32 uint64 byte sbyte bool char decimal
single float32 bigint nativeint unativeint unit obj exn DateTime DateTimeOffset
DateOnly TimeOnly TimeSpan Guid Uri list seq array Map Set Option option Result
ResizeArray List Dictionary
""".split())


@dataclass(frozen=True)
class FieldType:
    scalar: str | None  # int64 | string | float | bytes
    ref: str | None  # a record's type name
    nullable: bool


@dataclass(frozen=True)
class Owner:
    """Who holds the type: for order checks and for messages."""

    where: str  # `T.f` or `Union.Case`
    index: int
    group: int


def unwrap(t: decl.TypeExpr) -> tuple[decl.TypeExpr, tuple[str, ...]] | None:
    """(base atom, wrappers innermost first), or None for a shape no rule accepts."""
    if t.kind != "named":
        return None
    if t.name in ("option", "Option") and len(t.args) == 1:
        inner = unwrap(t.args[0])
        if inner is None:
            return None
        base, wraps = inner[0], inner[1] + ("option",)
    elif t.args:
        return None
    else:
        base, wraps = t, ()
    for word in t.postfix:
        if word == "option":
            wraps += ("option",)
        elif word in ("[]", "array"):
            wraps += ("array",)
        else:
            return None
    return base, wraps


def field_type(ctx: Ctx, t: decl.TypeExpr, owner: Owner, refs: bool, why: str = "") -> FieldType:
    """Classify a field type; `refs` says whether a table record is allowed here."""
    shape = unwrap(t)
    if shape is None:
        _unsupported(t, owner, why)
    base, wraps = shape
    name = base.name
    nullable = wraps[-1:] == ("option",)
    core = wraps[:-1] if nullable else wraps
    if name in SCALARS and core == ():
        return FieldType(SCALARS[name], None, nullable)
    if name == "byte" and core == ("array",):
        return FieldType("bytes", None, nullable)
    if name in ctx.records or name in ctx.unions:
        _check_order(ctx, base, owner)
        rec = ctx.records.get(name)
        if rec is not None and rec.is_view:
            fail(base.pos, f"{owner.where} refers to {name}, which is a view; "
                           "only a table record can be referenced")
        if rec is not None and refs and core == ():
            return FieldType(None, name, nullable)
        _unsupported(t, owner, why)
    if "." in name or name in UNSUPPORTED_NAMES or name in SCALARS or name == "byte":
        _unsupported(t, owner, why)
    fail(base.pos, f"type {name} is not declared in this script ({owner.where})")


def _check_order(ctx: Ctx, base: decl.TypeExpr, owner: Owner) -> None:
    """T3: a type used above its declaration, outside its `and` group."""
    name = base.name
    if ctx.index[name] > owner.index and ctx.group[name] != owner.group:
        fail(base.pos, f"type {name} is used by {owner.where} before it is declared; "
                       f"declare {name} above, or join the two with `and`")


def _unsupported(t: decl.TypeExpr, owner: Owner, why: str) -> NoReturn:
    hint = why or ("use int64, string, float, byte[] (in Python: int, str, float, bytes), "
                   "a table record, or an option of one of these")
    fail(t.pos, f"unsupported type `{t.text}` for {owner.where}: {hint}")
