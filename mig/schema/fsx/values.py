"""Seed values of `schema.fsx` let bindings (docs/fsx.md §2 "let bindings").

```
Value   := Record | "[" [Items] "]" | "[|" [Items] "|]" | Name | Literal
         | "None" | "Some" Value | "(" Value ")"
Items   := Value { sep Value } [sep]
Record  := "{" [ Name "with" ] Assign { sep Assign } [sep] "}"
Assign  := [ TypeName "." ] Name "=" Value
Literal := string | ["-"] int64 | ["-"] float | byte
```
Values are data, never code: anything that F# would evaluate (calls,
comprehensions, ranges, tuples, ``if``, ``fun``, …) is refused here with S2
at its first token, so nothing in a schema file can compute. Whether a value
fits its field is the translator's business (D1–D7); an unsuffixed ``12`` is
kept as kind ``int`` so that it can say "add L" with the field's name.
"""

from __future__ import annotations

from mig.errors import SchemaInputError
from mig.schema.decl import Assign, ListLit, Lit, NameRef, NoneLit, RecordLit, SomeLit, ValueExpr
from mig.schema.fsx.cursor import Cursor
from mig.schema.fsx.lexer import Token

__all__ = ["parse_value"]

_NUMBERS = frozenset({"int64", "float", "byte", "int"})
_VALUE_START_KINDS = frozenset({"str", "name"}) | _NUMBERS
_VALUE_START_SYMS = frozenset({"(", "[", "[|", "{"})
_EXPRESSION_KEYWORDS = frozenset({"fun", "function", "if", "match", "let", "try", "lazy",
                                  "new", "begin", "use", "do", "while", "for", "yield",
                                  "upcast", "downcast", "assert", "not"})


def parse_value(cur: Cursor, literals: dict[str, str]) -> ValueExpr:
    with cur.nested("values"):
        return _value(cur, literals)


def _value(cur: Cursor, literals: dict[str, str]) -> ValueExpr:
    tok = cur.peek()
    if tok.kind == "sym":
        return _bracketed(cur, literals, tok)
    if tok.kind == "str":
        cur.next()
        return Lit("str", tok.value, cur.pos(tok))
    if tok.kind in _NUMBERS:
        return _number(cur, tok, negative=False)
    if tok.kind == "name":
        return _name(cur, literals, tok)
    raise _keyword(cur, tok)


def _bracketed(cur: Cursor, literals: dict[str, str], tok: Token) -> ValueExpr:
    if tok.text == "{":
        return _record(cur, literals)
    if tok.text in ("[", "[|"):
        return _list(cur, literals)
    if tok.text == "(":
        cur.next()
        if cur.at(")"):
            raise cur.unsupported(tok, "the unit value `()` is")
        outer, cur.item_start = cur.item_start, None  # `( f x )` is a call, never two items
        try:
            value = parse_value(cur, literals)
        finally:
            cur.item_start = outer
        if cur.at(","):
            raise cur.unsupported(cur.peek(), "tuples are")
        cur.expect(")", "expected `)`")
        return value
    if tok.text == "-":
        cur.next()
        num = cur.peek()
        if num.kind not in _NUMBERS:
            raise cur.unexpected(num, "expected a number after `-`")
        return _number(cur, tok, negative=True)
    raise cur.unexpected(tok, "expected a value")


def _number(cur: Cursor, start: Token, negative: bool) -> Lit:
    tok = cur.next()
    value = tok.value
    assert isinstance(value, (int, float))
    if tok.kind == "byte" and negative:
        raise cur.error(start, f"a negative byte (-{tok.text}) is not supported")
    if negative:
        value = -value
    elif tok.kind == "int64" and value == 2**63:
        raise cur.error(tok, f"int64 literal {tok.text} is out of range (64 bits): not supported")
    return Lit(tok.kind, value, cur.pos(start))


def _name(cur: Cursor, literals: dict[str, str], tok: Token) -> ValueExpr:
    name = str(tok.value)
    if cur.at(".", 1):
        raise cur.unsupported(tok, f"qualified names and calls (`{name}.…`) are")
    cur.next()
    if name == "None":
        return NoneLit(cur.pos(tok))
    if name == "Some":
        return SomeLit(parse_value(cur, literals), cur.pos(tok))
    if cur.same_line() and _starts_value(cur.peek()) and not cur.starts_item():
        raise cur.unsupported(tok, f"function calls (`{name} …`) are")
    if name in literals:
        return Lit("str", literals[name], cur.pos(tok))
    return NameRef(name, cur.pos(tok))


def _starts_value(tok: Token) -> bool:
    return tok.kind in _VALUE_START_KINDS or (tok.kind == "sym" and tok.text in _VALUE_START_SYMS)


def _keyword(cur: Cursor, tok: Token) -> SchemaInputError:
    if tok.kind == "kw" and tok.text in ("true", "false"):
        return cur.unsupported(tok, f"`{tok.text}`: booleans are")
    if tok.kind == "kw" and tok.text == "null":
        return cur.unsupported(tok, "`null` is")
    if tok.kind == "kw" and tok.text in _EXPRESSION_KEYWORDS:
        return cur.unsupported(tok, f"`{tok.text}` expressions are")
    return cur.unexpected(tok, "expected a value")


def _list(cur: Cursor, literals: dict[str, str]) -> ListLit:
    open_tok = cur.next()
    array = open_tok.text == "[|"
    close = "|]" if array else "]"
    if cur.peek().kind == "kw" and cur.peek().text in ("for", "yield"):
        raise cur.unsupported(cur.peek(), "list comprehensions are")

    def item() -> ValueExpr:
        first = cur.peek()
        value = parse_value(cur, literals)
        if cur.at(".."):
            raise cur.unsupported(first, "ranges (`a .. b`) are")
        return value

    def comma(tok: Token) -> SchemaInputError:
        return cur.unsupported(tok, "`,` between list items (F# reads a tuple) is")

    items = cur.items(close, item, "list items", on_comma=comma,
                      starts=lambda: _starts_value(cur.peek()))
    return ListLit(tuple(items), cur.pos(open_tok), array=array)


def _record(cur: Cursor, literals: dict[str, str]) -> RecordLit:
    open_tok = cur.next()
    base = None
    if cur.at_name() and cur.at("with", 1):
        base = str(cur.next().value)
        cur.next()
    assigns = cur.items("}", lambda: _assign(cur, literals), "record fields",
                        starts=lambda: _starts_assign(cur))
    if not assigns:
        raise cur.error(cur.prev, "unexpected `}`: a record literal needs at least one field")
    return RecordLit(tuple(assigns), cur.pos(open_tok), base=base)


def _starts_assign(cur: Cursor) -> bool:
    """``label =`` or ``Type.label =`` ahead: the next field of a record literal."""
    if not cur.at_name():
        return False
    return cur.at("=", 1) or (cur.at(".", 1) and cur.at_name(2) and cur.at("=", 3))


def _assign(cur: Cursor, literals: dict[str, str]) -> Assign:
    tok = cur.expect_name("a field label")
    type_name = None
    if cur.at("."):
        cur.next()
        type_name = str(tok.value)
        tok = cur.expect_name("a field label after the type name")
    cur.expect("=", "expected `=` after the field label")
    value = parse_value(cur, literals)
    return Assign(str(tok.value), value, cur.pos(tok), type_name=type_name)
