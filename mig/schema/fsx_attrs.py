"""Attribute lists of `schema.fsx` (fsx-dsl.md §2 "Attributes").

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
"""

from __future__ import annotations

from mig.errors import SchemaInputError
from mig.schema.decl import AttrArg, Attribute
from mig.schema.fsx_cursor import Cursor
from mig.schema.fsx_lexer import Token

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
        return Attribute(name, _paren_args(cur, literals, name), pos, parens=True)
    tok = cur.peek()
    if tok.kind in ("str", "name"):
        value, arg_tok = parse_str_arg(cur, literals, name)
        return Attribute(name, (AttrArg("str", value, cur.pos(arg_tok)),), pos)
    if tok.kind in ("int64", "float", "byte", "int") or cur.at("-"):
        raise _not_string(cur, tok, name)
    return Attribute(name, (), pos)


def _paren_args(cur: Cursor, literals: dict[str, str], attr: str) -> tuple[AttrArg, ...]:
    open_tok = cur.next()
    args: list[AttrArg] = []
    if cur.at(")"):
        cur.next()
        return ()
    while True:
        arg = _arg(cur, literals, attr)
        if arg.name is None and args and args[-1].name is not None:
            raise cur.error(open_tok, f"attribute `{attr}`: positional arguments must come "
                                      "before named ones")
        args.append(arg)
        if cur.at(")"):
            cur.next()
            return tuple(args)
        cur.expect(",", f"expected `,` or `)` in the arguments of `{attr}`")


def _arg(cur: Cursor, literals: dict[str, str], attr: str) -> AttrArg:
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
        value, value_tok = parse_str_arg(cur, literals, attr)
        return AttrArg("str", value, cur.pos(value_tok), name=str(tok.value))
    value, value_tok = parse_str_arg(cur, literals, attr)
    return AttrArg("str", value, cur.pos(value_tok))


def parse_str_arg(cur: Cursor, literals: dict[str, str], attr: str) -> tuple[str, Token]:
    """``Str { "+" Str }``: the joined text and the first token."""
    first = cur.peek()
    parts = [_str_piece(cur, literals, attr)]
    while cur.at("+"):
        cur.next()
        parts.append(_str_piece(cur, literals, attr))
    return "".join(parts), first


def _str_piece(cur: Cursor, literals: dict[str, str], attr: str) -> str:
    tok = cur.peek()
    if tok.kind == "str":
        cur.next()
        return str(tok.value)
    if tok.kind == "name":
        name = str(tok.value)
        if cur.at(".", 1):
            raise cur.error(tok, f"`{name}.…` in the arguments of `{attr}`: qualified names "
                                 "are not supported; use a [<Literal>] defined in this script")
        if name not in literals:
            raise cur.error(tok, f"`{name}` in the arguments of `{attr}` is not a [<Literal>] "
                                 "string constant defined above")
        cur.next()
        return literals[name]
    raise _not_string(cur, tok, attr)


def _not_string(cur: Cursor, tok: Token, attr: str) -> SchemaInputError:
    if tok.kind in ("int64", "float", "byte", "int") or (tok.kind == "sym" and tok.text == "-"):
        return cur.error(tok, f"the arguments of `{attr}` are strings; "
                              f"{tok.text} is not a string")
    return cur.unexpected(tok, f"expected a string argument of `{attr}`")
