"""Attribute checks of docs/fsx.md §4.13: known names, places, arguments, repeats.

Run before any rule reads an attribute, so the rules can trust arity and
argument kinds and only check meaning. Errors A1, A2, A3 and V2.
"""

from __future__ import annotations

from dataclasses import dataclass

from mig.schema import decl
from mig.schema.translate.common import fail

__all__ = ["Spec", "SPECS", "IGNORED", "QUERY_ATTRS", "check_attrs", "check_record_attrs"]

# Places: table, view (records), union, field (of a table), view field, let.
_TV = frozenset({"table", "view"})
_T = frozenset({"table"})
_V = frozenset({"view"})


@dataclass(frozen=True)
class Spec:
    least: int  # positional arguments
    most: int | None
    places: frozenset[str]
    once: bool = False
    kind: str = "str"  # kind of every positional argument
    named: tuple[str, ...] = ()
    says: str = ""  # how the arguments read, for messages


SPECS: dict[str, Spec] = {
    "PK": Spec(1, 1, _T, True, says="one field name"),
    "AutoIncPK": Spec(1, 1, _T, True, says="one field name"),
    "Unique": Spec(1, None, _T, says="one or more column names"),
    "Index": Spec(1, None, _T, says="one or more column names"),
    "Default": Spec(2, 2, _T, says="a column name and a value"),
    "DefaultExpr": Spec(2, 2, _T, says="a column name and an SQL expression"),
    "OnDeleteCascade": Spec(1, 1, _T, says="one column name"),
    "OnDeleteSetNull": Spec(1, 1, _T, says="one column name"),
    "View": Spec(0, 0, _V, True, says="no arguments"),
    "Join": Spec(2, 2, _V, kind="typeof", says="two types: Join(typeof<A>, typeof<B>)"),
    "ViewSql": Spec(1, 1, _V, True, says="one SQL query"),
    "SelectBy": Spec(1, None, _TV, named=("OrderBy",), says="one or more column names"),
    "SelectOneBy": Spec(1, None, _TV, named=("OrderBy",), says="one or more column names"),
    "SelectAll": Spec(0, 0, _TV, True, named=("OrderBy",), says="no positional arguments"),
    "SelectLike": Spec(1, 1, _TV, says="one column name"),
    "OrderBy": Spec(1, 1, _TV, says="one ORDER BY text"),
    "SelectByOrInsert": Spec(1, None, _T, says="one or more column names"),
    "InsertOrIgnore": Spec(0, 0, _T, True, says="no arguments"),
    "UpdateBy": Spec(1, 1, _T, says="one column name"),
    "DeleteBy": Spec(1, 1, _T, says="one column name"),
    "PreviousName": Spec(1, 1, frozenset({"table", "field"}), True, says="one old name"),
    "DropColumn": Spec(1, 1, _T, says="one old column name"),
    "Convert": Spec(1, 1, frozenset({"field"}), True, says="one SQL expression over the old row",
                    named=("back",)),
    "DropTable": Spec(1, 1, frozenset({"table", "view", "union"}), says="one old table name"),
    "Literal": Spec(0, 0, frozenset({"let"}), True, says="no arguments"),
}

IGNORED = frozenset({"CLIMutable", "RequireQualifiedAccess", "NoComparison", "NoEquality", "Struct"})

QUERY_ATTRS = ("SelectBy", "SelectOneBy", "SelectAll", "SelectLike", "OrderBy",
               "SelectByOrInsert", "InsertOrIgnore", "UpdateBy", "DeleteBy")

_PLACE_WORDS = {"table": "a table record", "view": "a view record", "union": "a union",
                "field": "a field of a table record", "view field": "a field of a view",
                "let": "a let binding"}


def check_attrs(attrs: tuple[decl.Attribute, ...], place: str, where: str) -> tuple[decl.Attribute, ...]:
    """Validate attributes written on one thing; return the meaningful ones in order."""
    kept: list[decl.Attribute] = []
    seen: set[str] = set()
    for attr in attrs:
        if attr.name in IGNORED:
            if attr.args:
                fail(attr.pos, f"attribute {attr.name} takes no arguments")
            continue
        spec = SPECS.get(attr.name)
        if spec is None:
            fail(attr.pos, f"unknown attribute {attr.name} on {where}")
        if place not in spec.places:
            allowed = " or ".join(_PLACE_WORDS[p] for p in sorted(spec.places))
            fail(attr.pos, f"attribute {attr.name} is not allowed on {_PLACE_WORDS[place]} "
                           f"({where}); it goes on {allowed}")
        _check_args(attr, spec)
        if spec.once and attr.name in seen:
            fail(attr.pos, f"attribute {attr.name} is given more than once on {where}")
        seen.add(attr.name)
        kept.append(attr)
    return tuple(kept)


def _check_args(attr: decl.Attribute, spec: Spec) -> None:
    pos_args = [a for a in attr.args if a.name is None]
    count_ok = len(pos_args) >= spec.least and (spec.most is None or len(pos_args) <= spec.most)
    if not count_ok:
        fail(attr.pos, f"attribute {attr.name} takes {spec.says}, got {len(pos_args)} argument(s)")
    for arg in pos_args:
        if arg.kind != spec.kind:
            fail(attr.pos, f"attribute {attr.name} takes {spec.says}; `{decl.echo(arg.value)}` is not "
                          + ("a type" if spec.kind == "typeof" else "a string"))
    names: set[str] = set()
    for arg in attr.args:
        if arg.name is None:
            continue
        if arg.name not in spec.named:
            fail(attr.pos, f"attribute {attr.name} has no named argument {arg.name}"
                          + (f" (it takes {', '.join(spec.named)})" if spec.named else ""))
        if arg.name in names:
            fail(attr.pos, f"attribute {attr.name}: named argument {arg.name} given twice")
        if arg.kind != "str":
            fail(attr.pos, f"attribute {attr.name}: {arg.name} takes a string")
        names.add(arg.name)


def check_record_attrs(rec: decl.RecordDecl) -> tuple[bool, tuple[decl.Attribute, ...]]:
    """(is a view, its meaningful attributes): A1, A2, A3, V2 for one record."""
    names = [a.name for a in rec.attrs]
    is_view = "View" in names or "ViewSql" in names
    attrs = check_attrs(rec.attrs, "view" if is_view else "table", rec.name)
    _later_of(attrs, "PK", "AutoIncPK", f"{rec.name} has both PK and AutoIncPK; keep one")
    _later_of(attrs, "View", "ViewSql", f"{rec.name} has both View and ViewSql; keep one")
    return is_view, attrs


def _later_of(attrs: tuple[decl.Attribute, ...], a: str, b: str, message: str) -> None:
    first = {n: next((x for x in attrs if x.name == n), None) for n in (a, b)}
    one, two = first[a], first[b]
    if one is not None and two is not None:
        later = one if attrs.index(one) > attrs.index(two) else two
        fail(later.pos, message)
