"""The token cursor shared by the `.fsx` parser modules.

One place for looking ahead, consuming, building positions and the two
syntax error shapes of docs/fsx.md §6 (S1 "unexpected …", S2 "… not
supported"), and for the separator rule of §2: inside ``{ }``, ``[ ]`` and
``[| |]`` items are separated by ``;`` or a line break, and two items on one
line without ``;`` are an error at the second.

F# itself would read ``[ a b ]`` as the call ``a b``; the contract reads it
as two items and reports the second. So while items are parsed, the cursor
knows what starts an item there (``item_start``), and the value parser asks
before it calls a name followed by a value on its line a function call.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from mig.errors import SchemaInputError
from mig.schema.decl import Pos, schema_error
from mig.schema.fsx.lexer import Token

__all__ = ["Cursor", "describe", "MAX_NESTING"]

T = TypeVar("T")
ACCESS = frozenset({"private", "internal", "public"})
# Types and values are parsed recursively; a schema never nests anywhere near
# this deep, and refusing past it keeps a hostile or broken file from ending
# in Python's RecursionError instead of a one-line error.
MAX_NESTING = 64


def describe(tok: Token) -> str:
    """A token as an error message shows it."""
    if tok.kind == "eof":
        return "end of file"
    if tok.kind == "str":
        first = tok.text.split("\n")[0]
        more = "…" if len(first) > 40 or "\n" in tok.text else ""
        return f"string {first[:40]}{more}"
    return f"`{tok.text}`"


class Cursor:
    """A position in the token list (which always ends with an ``eof`` token)."""

    def __init__(self, tokens: list[Token], file: str) -> None:
        self.tokens, self.file, self.i = tokens, file, 0
        # Whether the next token would start a new item of the innermost
        # separated list being parsed (None outside one, or inside `( )`).
        self.item_start: Callable[[], bool] | None = None
        self.depth = 0

    # ------------------------------------------------------------ looking
    def peek(self, k: int = 0) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    @property
    def prev(self) -> Token:
        return self.tokens[self.i - 1]

    def at(self, text: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind in ("sym", "kw") and tok.text == text

    def at_name(self, k: int = 0) -> bool:
        return self.peek(k).kind == "name"

    def at_eof(self) -> bool:
        return self.peek().kind == "eof"

    def same_line(self, k: int = 0) -> bool:
        """Whether token k ahead starts on the line where the last consumed token ends."""
        return self.i > 0 and self.peek(k).line == self.prev.end_line

    # ------------------------------------------------------------ consuming
    def next(self) -> Token:
        tok = self.peek()
        if tok.kind != "eof":
            self.i += 1
        return tok

    def expect(self, text: str, hint: str = "") -> Token:
        if not self.at(text):
            raise self.unexpected(self.peek(), hint or f"expected `{text}`")
        return self.next()

    def expect_name(self, what: str) -> Token:
        tok = self.peek()
        if tok.kind == "name":
            return self.next()
        if tok.kind == "kw":
            raise self.unexpected(tok, f"expected {what}; `{tok.text}` is an F# keyword "
                                       f"(write ``{tok.text}`` to use it as a name)")
        raise self.unexpected(tok, f"expected {what}")

    def skip_access(self) -> None:
        if self.peek().kind == "kw" and self.peek().text in ACCESS:
            self.next()

    def dotted(self, first: Token) -> str:
        """``first`` { ``.`` Name }, with ``first`` already consumed."""
        parts = [str(first.value)]
        while self.at(".") and self.at_name(1):
            self.next()
            parts.append(str(self.next().value))
        return ".".join(parts)

    # ------------------------------------------------------------ errors, positions
    def pos(self, tok: Token) -> Pos:
        return Pos(self.file, tok.line, tok.col)

    def error(self, tok: Token, message: str) -> SchemaInputError:
        return schema_error(self.pos(tok), message)

    def error_at(self, pos: Pos, message: str) -> SchemaInputError:
        return schema_error(pos, message)

    def unexpected(self, tok: Token, hint: str = "") -> SchemaInputError:
        return self.error(tok, f"unexpected {describe(tok)}" + (f": {hint}" if hint else ""))

    def unsupported(self, tok: Token, what: str) -> SchemaInputError:
        return self.error(tok, f"{what} not supported in schema.fsx")

    @contextmanager
    def nested(self, what: str) -> Iterator[None]:
        """One level deeper into a type or value; S2 at the token past MAX_NESTING."""
        if self.depth >= MAX_NESTING:
            raise self.unsupported(self.peek(), f"{what} nested more than {MAX_NESTING} levels "
                                                "deep are")
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    # ------------------------------------------------------------ separated items
    def items(self, close: str, item: Callable[[], T], what: str,
              on_comma: Callable[[Token], SchemaInputError] | None = None,
              starts: Callable[[], bool] | None = None) -> list[T]:
        """Items up to ``close`` (consumed), separated by ``;`` or line breaks.

        ``starts`` tells whether the next token starts an item; it is what
        ``item_start`` says while the items are parsed.
        """
        out: list[T] = []
        separated = True
        outer, self.item_start = self.item_start, starts
        try:
            while not self.at(close):
                tok = self.peek()
                if tok.kind == "sym" and tok.text == "," and on_comma is not None:
                    raise on_comma(tok)
                if out and not separated and self.same_line():
                    raise self.unexpected(tok, f"separate {what} with `;` or a line break")
                out.append(item())
                separated = False
                if self.at(";"):
                    self.next()
                    separated = True
        finally:
            self.item_start = outer
        self.next()
        return out

    def starts_item(self) -> bool:
        """Whether the next token starts another item of the innermost list."""
        return self.item_start is not None and self.item_start()
