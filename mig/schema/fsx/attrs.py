"""Attribute lists of `schema.fsx` (docs/fsx.md §2 "Attributes").

```
Attributes := { "[<" Attr { ";" Attr } ">]" }
Attr       := Dotted [ StrArg | "(" [ Arg { "," Arg } ] ")" ]
Arg        := StrArg | "typeof" "<" Name ">" | Name "=" StrArg
StrArg     := Str { "+" Str }      Str := string literal | a [<Literal>] name defined above
```
Attributes carry all of the DSL's meaning, so their arguments are resolved
here to plain strings (``+`` joins done, ``[<Literal>]`` names substituted):
the translator then sees the same ``Attribute`` whether the schema came from
F# text or from Python classes. Which names and arguments are valid is the
translator's business (A1, A2); only the shape is checked here.

An argument that cannot be an argument at all (``5L``, ``-5L``, a name that
is no ``[<Literal>]``, ``X.y``, a positional argument after a named one) is
A2, "wrong arguments", and §6 puts A2 at the attribute's name, not at the
argument; only a token that breaks the grammar itself (``[<A "x" "y">]``)
is S1 at that token.
"""

from __future__ import annotations

from mig.errors import SchemaInputError
from mig.schema.decl import AttrArg, Attribute, Pos
from mig.schema.fsx.cursor import Cursor
from mig.schema.fsx.lexer import Token

__all__ = ["parse_attr_lists", "parse_str_arg"]

_SUFFIX = "Attribute"


def parse_attr_lists(cur: Cursor, literals: dict[str, str]) -> tuple[Attribute, ...]:
    """Zero or more ``[< … >]`` lists, flattened in order."""
    out: list[Attribute] = []
    while cur.at("[<"):
        cur.next()
        out.append(_attr(cur, literals))
        while cur.at(";"):
            cur.next()
            if cur.at(">]"):
                break
            out.append(_attr(cur, literals))
        cur.expect(">]", "expected `;` or `>]` after an attribute")
    return tuple(out)


def _attr(cur: Cursor, literals: dict[str, str]) -> Attribute:
    first = cur.expect_name("an attribute name")
    name = cur.dotted(first).rsplit(".", 1)[-1]
    if name.endswith(_SUFFIX) and len(name) > len(_SUFFIX):
        name = name[:-len(_SUFFIX)]
    pos = cur.pos(first)
    if cur.at("("):
        return Attribute(name, _paren_args(cur, literals, name, pos), pos, parens=True)
    tok = cur.peek()
    if tok.kind in ("str", "name"):
        value, arg_tok = parse_str_arg(cur, literals, name, pos)
        return Attribute(name, (AttrArg("str", value, cur.pos(arg_tok)),), pos)
    if tok.kind in ("int64", "float", "byte", "int") or cur.at("-"):
        raise _not_string(cur, tok, name, pos)
    return Attribute(name, (), pos)


def _paren_args(cur: Cursor, literals: dict[str, str], attr: str,
                at: Pos) -> tuple[AttrArg, ...]:
    cur.next()
    args: list[AttrArg] = []
    if cur.at(")"):
        cur.next()
        return ()
    while True:
        arg = _arg(cur, literals, attr, at)
        if arg.name is None and args and args[-1].name is not None:
            raise cur.error_at(at, f"attribute `{attr}`: positional arguments must come "
                                   "before named ones")
        args.append(arg)
        if cur.at(")"):
            cur.next()
            return tuple(args)
        cur.expect(",", f"expected `,` or `)` in the arguments of `{attr}`")


def _arg(cur: Cursor, literals: dict[str, str], attr: str, at: Pos) -> AttrArg:
    tok = cur.peek()
    if tok.kind == "name" and tok.value == "typeof" and cur.at("<", 1):
        cur.next()
        cur.next()
        type_tok = cur.expect_name("a type name inside typeof<…>")
        type_name = cur.dotted(type_tok)
        cur.expect(">", "expected `>` to close typeof<…>")
        # The position is the type inside typeof<…>: the one error at a typeof
        # argument (V3) points there.
        return AttrArg("typeof", type_name, cur.pos(type_tok))
    if tok.kind == "name" and cur.at("=", 1):
        cur.next()
        cur.next()
        value, value_tok = parse_str_arg(cur, literals, attr, at)
        return AttrArg("str", value, cur.pos(value_tok), name=str(tok.value))
    value, value_tok = parse_str_arg(cur, literals, attr, at)
    return AttrArg("str", value, cur.pos(value_tok))


def parse_str_arg(cur: Cursor, literals: dict[str, str], attr: str,
                  at: Pos | None = None) -> tuple[str, Token]:
    """``Str { "+" Str }``: the joined text and the first token.

    ``at`` is where a piece that is not a string is reported: the
    attribute for an attribute argument (A2); the piece itself when None
    (the value of a ``[<Literal>]`` let).
    """
    first = cur.peek()
    parts = [_str_piece(cur, literals, attr, at)]
    while cur.at("+"):
        cur.next()
        parts.append(_str_piece(cur, literals, attr, at))
    return "".join(parts), first


def _str_piece(cur: Cursor, literals: dict[str, str], attr: str, at: Pos | None) -> str:
    tok = cur.peek()
    if tok.kind == "str":
        cur.next()
        return str(tok.value)
    if tok.kind == "name":
        name = str(tok.value)
        if cur.at(".", 1):
            raise cur.error_at(at or cur.pos(tok), f"`{name}.…` in the arguments of `{attr}`: "
                                                   "qualified names are not supported; use a "
                                                   "[<Literal>] defined in this script")
        if name not in literals:
            raise cur.error_at(at or cur.pos(tok), f"`{name}` in the arguments of `{attr}` is not "
                                                   "a [<Literal>] string constant defined above")
        cur.next()
        return literals[name]
    raise _not_string(cur, tok, attr, at)


def _not_string(cur: Cursor, tok: Token, attr: str, at: Pos | None) -> SchemaInputError:
    if tok.kind in ("int64", "float", "byte", "int") or (tok.kind == "sym" and tok.text == "-"):
        return cur.error_at(at or cur.pos(tok), f"the arguments of `{attr}` are strings; "
                                                f"{_written_number(cur, tok)} is not a string")
    return cur.unexpected(tok, f"expected a string argument of `{attr}`")


def _written_number(cur: Cursor, tok: Token) -> str:
    """A number as written, with its unary minus (`-5L`, `- 0.5`)."""
    nxt = cur.peek(1)
    if tok.text == "-" and nxt.kind in ("int64", "float", "byte", "int"):
        return "-" + nxt.text
    return tok.text
