"""Declarations: the DSL as written, before any meaning is given to it.

Both DSL front ends produce these: ``fsx.py`` by parsing F# text, ``python.py``
by reading Python classes. ``translate.py`` turns them into the schema model
with the rules of ``fsx-dsl.md`` §3–§5, so the two syntaxes share one set of
semantics and one set of errors, and the same schema yields the same model.

Every node carries the position the error rules of ``fsx-dsl.md`` §6 point
at. Pure data; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

__all__ = [
    "Pos",
    "AttrArg",
    "Attribute",
    "TypeExpr",
    "FieldDecl",
    "RecordDecl",
    "CaseField",
    "CaseDecl",
    "UnionDecl",
    "RecordLit",
    "Assign",
    "ListLit",
    "NameRef",
    "Lit",
    "NoneLit",
    "SomeLit",
    "ValueExpr",
    "LetDecl",
    "Script",
]


@dataclass(frozen=True)
class Pos:
    file: str
    line: int  # 1-based
    col: int  # 1-based, in code points


@dataclass(frozen=True)
class AttrArg:
    """One attribute argument.

    kind "str": ``value`` is the resolved string (literals joined with ``+``,
    ``[<Literal>]`` names substituted). kind "typeof": ``value`` is the type
    name inside ``typeof<…>``. ``name`` is set for a named argument
    (``OrderBy = "…"``). ``pos`` is the argument's first character.
    """

    kind: str
    value: str
    pos: Pos
    name: str | None = None


@dataclass(frozen=True)
class Attribute:
    """``[<Name args>]``; ``name`` already stripped of dotted prefix and ``Attribute``."""

    name: str
    args: tuple[AttrArg, ...]
    pos: Pos  # the attribute's name (first part if dotted)
    parens: bool = False  # written with parentheses: ``[<View()>]``


@dataclass(frozen=True)
class TypeExpr:
    """A field type as written.

    ``name`` is the dotted atom (``int64``, ``System.Int64``, ``Customer``,
    ``option``); ``args`` the generic arguments (``option<int64>``);
    ``postfix`` the postfix words and ``[]`` in order (``("option",)``,
    ``("[]",)``, ``("list",)``). ``text`` is the type as written, with single
    spaces (``string option``). kind "product" (``A * B``) and "function"
    (``A -> B``) are parsed only to be reported unsupported.
    """

    name: str
    pos: Pos
    text: str
    args: tuple["TypeExpr", ...] = ()
    postfix: tuple[str, ...] = ()
    kind: str = "named"  # named | product | function


@dataclass(frozen=True)
class FieldDecl:
    name: str
    type: TypeExpr
    pos: Pos
    attrs: tuple[Attribute, ...] = ()


@dataclass(frozen=True)
class RecordDecl:
    name: str
    fields: tuple[FieldDecl, ...]
    pos: Pos  # the type name
    attrs: tuple[Attribute, ...] = ()
    group: int = 0  # declarations joined by `and` share a group number


@dataclass(frozen=True)
class CaseField:
    name: str | None
    type: TypeExpr
    pos: Pos


@dataclass(frozen=True)
class CaseDecl:
    name: str
    fields: tuple[CaseField, ...]
    pos: Pos


@dataclass(frozen=True)
class UnionDecl:
    name: str
    cases: tuple[CaseDecl, ...]
    pos: Pos
    attrs: tuple[Attribute, ...] = ()
    group: int = 0


# ---------------------------------------------------------------- seed values

@dataclass(frozen=True)
class Assign:
    label: str
    value: "ValueExpr"
    pos: Pos  # the label
    type_name: str | None = None  # qualified label: ``{ Role.id = 1L }``


@dataclass(frozen=True)
class RecordLit:
    assigns: tuple[Assign, ...]
    pos: Pos  # the `{`
    base: str | None = None  # ``{ base with … }``
    type_name: str | None = None  # set by front ends that know the type (Python)


@dataclass(frozen=True)
class ListLit:
    items: tuple["ValueExpr", ...]
    pos: Pos
    array: bool = False  # ``[| … |]``


@dataclass(frozen=True)
class NameRef:
    name: str
    pos: Pos


@dataclass(frozen=True)
class Lit:
    """A literal: kind is str | int64 | float | byte | int (unsuffixed, always an error)."""

    kind: str
    value: object
    pos: Pos


@dataclass(frozen=True)
class NoneLit:
    pos: Pos


@dataclass(frozen=True)
class SomeLit:
    value: "ValueExpr"
    pos: Pos


ValueExpr = Union[RecordLit, ListLit, NameRef, Lit, NoneLit, SomeLit]


@dataclass(frozen=True)
class LetDecl:
    """A seed binding: ``let name [: annotation] = value``."""

    name: str
    value: ValueExpr
    pos: Pos
    annotation: TypeExpr | None = None


@dataclass(frozen=True)
class Script:
    """A parsed schema script: declarations in source order."""

    file: str
    decls: tuple[Union[RecordDecl, UnionDecl, LetDecl], ...]
    warnings: tuple[str, ...] = field(default=())
