"""Declarations: the DSL as written, before any meaning is given to it.

Both DSL front ends produce these: ``fsx.py`` by parsing F# text, ``python.py``
by reading Python classes. ``translate.py`` turns them into the schema model
with the rules of ``docs/fsx.md`` §3–§5, so the two syntaxes share one set of
semantics and one set of errors, and the same schema yields the same model.

Every node carries the position the error rules of ``docs/fsx.md`` §6 point
at, and ``schema_error`` is the one way both front ends and the translator
build their ``file:line:col: message`` errors, so that the rule "a message is
one line" holds whatever text a message echoes. Pure data; no I/O.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Union

from mig.errors import SchemaInputError

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
    "one_line",
    "echo",
    "schema_error",
    "depth_guard",
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


# ---------------------------------------------------------------- errors

# Every line boundary str.splitlines() knows, so no terminal or log reader
# can see a second line in a message.
_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with each line break written as the two characters ``\\n``."""
    return _LINE_BREAK.sub("\\\\n", text)


def echo(value: str, limit: int = 60) -> str:
    """A value from the schema as a message quotes it: one line, at most ~`limit` characters."""
    text = one_line(value)
    return text if len(text) <= limit else text[:limit] + "…"


def schema_error(pos: Pos, message: str) -> SchemaInputError:
    """The error at `pos`; its message is forced onto one line (docs/fsx.md §6)."""
    return SchemaInputError(pos.file, pos.line, pos.col, one_line(message))


@contextmanager
def depth_guard(file: str) -> Iterator[None]:
    """Python's RecursionError as a one-line error, should nesting get past the parsers' limits.

    The .fsx parser refuses deep nesting itself, at the token; Python's own
    parser and compiler, and anything walking what they built, stop only at
    the interpreter's recursion limit, which is no place for a traceback.
    """
    try:
        yield
    except RecursionError:
        raise schema_error(Pos(file, 1, 1), "the schema is nested too deeply to be read "
                                            "(expressions, brackets or types); flatten it") from None
