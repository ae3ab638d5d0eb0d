"""Type expressions of `schema.fsx` (docs/fsx.md §2 "Type definitions").

```
Type      := Atom { Postfix }
Atom      := Dotted [ "<" Type { "," Type } ">" ] | "(" Type ")"
Postfix   := "[" "]" | Name      -- on the same line, never a Name followed by ":"
```
Products (``A * B``) and functions (``A -> B``) are parsed too, only so that
the translator can report them as unsupported types with the type as
written (T1). Whether a type is supported is not decided here.
"""

from __future__ import annotations

from dataclasses import replace

from mig.schema.decl import TypeExpr
from mig.schema.fsx.cursor import Cursor

__all__ = ["parse_type", "parse_case_type"]


def parse_type(cur: Cursor) -> TypeExpr:
    """A full type: functions of products of postfixed atoms."""
    with cur.nested("types"):
        return _function(cur)


def _function(cur: Cursor) -> TypeExpr:
    left = _product(cur)
    if cur.at("-") and cur.at(">", 1) and _adjacent(cur):
        cur.next()
        cur.next()
        right = parse_type(cur)
        return TypeExpr("->", left.pos, f"{left.text} -> {right.text}", (left, right),
                        kind="function")
    return left


def parse_case_type(cur: Cursor) -> TypeExpr:
    """A union case field: ``*`` separates fields there, so no products."""
    return _postfixed(cur)


def _adjacent(cur: Cursor) -> bool:
    a, b = cur.peek(), cur.peek(1)
    return a.line == b.line and b.col == a.col + 1


def _product(cur: Cursor) -> TypeExpr:
    parts = [_postfixed(cur)]
    while cur.at("*"):
        cur.next()
        parts.append(_postfixed(cur))
    if len(parts) == 1:
        return parts[0]
    return TypeExpr("*", parts[0].pos, " * ".join(p.text for p in parts), tuple(parts),
                    kind="product")


def _postfixed(cur: Cursor) -> TypeExpr:
    t = _atom(cur)
    postfix = list(t.postfix)
    text = t.text
    while cur.same_line():
        if cur.at("[") and cur.at("]", 1):
            cur.next()
            cur.next()
            postfix.append("[]")
            text += "[]"
        elif cur.at_name() and not cur.at(":", 1):
            word = str(cur.next().value)
            postfix.append(word)
            text += " " + word
        else:
            break
    return replace(t, postfix=tuple(postfix), text=text)


def _atom(cur: Cursor) -> TypeExpr:
    tok = cur.peek()
    if cur.at("("):
        cur.next()
        inner = parse_type(cur)
        cur.expect(")", "expected `)` to close the type")
        return replace(inner, pos=cur.pos(tok), text=f"({inner.text})")
    if tok.kind == "tyvar":
        raise cur.unsupported(tok, f"type variables ({tok.text}) and generic types are")
    first = cur.expect_name("a type")
    name = cur.dotted(first)
    args: tuple[TypeExpr, ...] = ()
    text = name
    if cur.at("<"):
        cur.next()
        items = [parse_type(cur)]
        while cur.at(","):
            cur.next()
            items.append(parse_type(cur))
        cur.expect(">", "expected `,` or `>` in the type arguments")
        args = tuple(items)
        text = f"{name}<{', '.join(a.text for a in args)}>"
    return TypeExpr(name, cur.pos(first), text, args)
