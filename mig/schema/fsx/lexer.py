"""Tokens of `schema.fsx`: the lexical rules of docs/fsx.md §1, then bracket balance.

mig reads the F# schema DSL with its own parser and never runs .NET, so the
lexer has to agree with F# on everything a schema file can contain: nested
``(* *)`` comments that still see string literals, the three string forms,
suffixed numbers, directives. It reports the first lexical error (L1, L2 of
§6) with the position of the offending literal; ``check_brackets`` then
reports L3/L4 before any parsing, so an unclosed record is always reported at
its ``{`` whatever follows it.

Positions are 1-based lines and columns counted in code points (a tab is one
column). Line breaks (``\\r\\n``, ``\\r``, ``\\n``) are normalised to ``\\n``
up front, which also makes every line break inside a string read as ``\\n``.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from mig.errors import SchemaInputError
from mig.schema.decl import Pos, schema_error
from mig.schema.fsx.literals import LiteralError, scan_number, scan_regular, scan_triple, scan_verbatim

__all__ = ["Token", "KEYWORDS", "tokenize", "check_brackets", "lex"]

KEYWORDS = frozenset("""
abstract and as assert base begin class default delegate do done downcast downto elif else
end exception extern false finally fixed for fun function global if in inherit inline
interface internal lazy let match member module mutable namespace new not null of open or
override private public rec return select sig static struct then to true try type upcast
use val void when while with yield const
""".split())

SKIPPED_DIRECTIVES = frozenset({"r", "I", "nowarn", "light", "time"})
_TWO_CHAR = ("[<", ">]", "[|", "|]", "..")
_ONE_CHAR = frozenset("[]{}()<>:;,=|*.+-")
PAIRS = {"{": "}", "[": "]", "[|": "|]", "[<": ">]", "(": ")"}
_CLOSERS = frozenset(PAIRS.values())


@dataclass(frozen=True)
class Token:
    """One token. kind: name | kw | str | int64 | float | byte | int | sym | tyvar | eof.

    ``text`` is the token as written; ``value`` is the name (backticks
    removed), the decoded string, or the number; ``end_line`` is the line of
    its last character (strings may span lines).
    """

    kind: str
    text: str
    value: object
    line: int
    col: int
    end_line: int


def _is_name_start(c: str) -> bool:
    return c.isalpha() or c == "_"


def _is_name_char(c: str) -> bool:
    return c.isalpha() or c.isdecimal() or c == "_"


def _show(c: str) -> str:
    return f"`{c}`" if c.isprintable() and not c.isspace() else f"U+{ord(c):04X}"


class _Lexer:
    def __init__(self, text: str, file: str) -> None:
        if text.startswith("\ufeff"):
            text = text[1:]
        self.src = text.replace("\r\n", "\n").replace("\r", "\n")
        self.file = file
        self.starts = [0] + [i + 1 for i, c in enumerate(self.src) if c == "\n"]
        self.i = 0
        self.tokens: list[Token] = []
        self.warnings: list[str] = []

    # ------------------------------------------------------------ positions
    def where(self, i: int) -> tuple[int, int]:
        line = bisect_right(self.starts, i)
        return line, i - self.starts[line - 1] + 1

    def error(self, i: int, message: str) -> SchemaInputError:
        line, col = self.where(i)
        return schema_error(Pos(self.file, line, col), message)

    def emit(self, kind: str, start: int, end: int, value: object) -> None:
        line, col = self.where(start)
        end_line, _ = self.where(max(start, end - 1))
        self.tokens.append(Token(kind, self.src[start:end], value, line, col, end_line))

    # ------------------------------------------------------------ main loop
    def run(self) -> list[Token]:
        while True:
            self.skip_blanks()
            if self.i >= len(self.src):
                break
            try:
                self.token()
            except LiteralError as exc:
                raise self.error(exc.index, exc.message) from None
        line, col = self.where(len(self.src))
        self.tokens.append(Token("eof", "", None, line, col, line))
        return self.tokens

    def skip_blanks(self) -> None:
        src = self.src
        while self.i < len(src):
            c = src[self.i]
            if c in " \t\n":
                self.i += 1
            elif src.startswith("//", self.i):
                self.skip_to_eol()
            elif src.startswith("(*", self.i) and not src.startswith("(*)", self.i):
                self.block_comment()
            elif c == "#" and self.at_line_start(self.i):
                self.directive()
            else:
                return

    def skip_to_eol(self) -> None:
        end = self.src.find("\n", self.i)
        self.i = len(self.src) if end < 0 else end

    def at_line_start(self, i: int) -> bool:
        line, _ = self.where(i)
        return self.src[self.starts[line - 1]:i].strip(" \t") == ""

    # ------------------------------------------------------------ comments, directives
    def block_comment(self) -> None:
        """Nested ``(* *)``; string literals inside are skipped whole."""
        src, opened = self.src, [self.i]
        i = self.i + 2
        while opened:
            if i >= len(src):
                raise self.error(opened[-1], "unterminated comment: `(*` is never closed by `*)`")
            if src.startswith("(*)", i):
                i += 3
            elif src.startswith("(*", i):
                opened.append(i)
                i += 2
            elif src.startswith("*)", i):
                opened.pop()
                i += 2
            elif src[i] == '"' or src.startswith('@"', i):
                try:
                    i = self.scan_string(i)[0]
                except LiteralError as exc:
                    raise self.error(exc.index, exc.message + " (inside a comment)") from None
            else:
                i += 1
        self.i = i

    def directive(self) -> None:
        start = self.i
        j = start + 1
        while j < len(self.src) and _is_name_char(self.src[j]):
            j += 1
        name = self.src[start + 1:j]
        if name == "load":
            line, col = self.where(start)
            self.warnings.append(f"{self.file}:{line}:{col}: warning: #load is skipped; "
                                 "the types of the loaded file are not read")
        elif name not in SKIPPED_DIRECTIVES and not (start == 0 and self.src.startswith("#!")):
            shown = f"#{name}" if name else "#"
            raise self.error(start, f"directive `{shown}` is not supported "
                                    "(only #r, #I, #nowarn, #light, #time and #load)")
        self.skip_to_eol()

    # ------------------------------------------------------------ tokens
    def token(self) -> None:
        src, i = self.src, self.i
        c = src[i]
        if c == '"' or src.startswith('@"', i):
            self.string(i)
        elif c in "$@" and (src.startswith('$"', i) or src.startswith('$@"', i)
                            or src.startswith('@$"', i)):
            raise self.error(i, 'interpolated strings ($"…") are not supported')
        elif c.isdecimal() and c.isascii():
            self.number(i)
        elif _is_name_start(c):
            self.name(i)
        elif src.startswith("``", i):
            self.backticked(i)
        elif c == "'":
            self.quote(i)
        else:
            self.symbol(i, c)

    def scan_string(self, i: int) -> tuple[int, str]:
        if self.src.startswith('"""', i):
            return scan_triple(self.src, i)
        if self.src[i] == "@":
            return scan_verbatim(self.src, i)
        return scan_regular(self.src, i)

    def string(self, start: int) -> None:
        end, value = self.scan_string(start)
        if self.src.startswith("B", end):
            raise self.error(start, 'byte strings ("…"B) are not supported')
        self.emit("str", start, end, value)
        self.i = end

    def number(self, start: int) -> None:
        prev = self.tokens[-1] if self.tokens else None
        after_minus = prev is not None and prev.kind == "sym" and prev.text == "-"
        end, kind, value = scan_number(self.src, start, after_minus)
        self.emit(kind, start, end, value)
        self.i = end

    def name(self, start: int) -> None:
        j = start + 1
        while j < len(self.src) and _is_name_char(self.src[j]):
            j += 1
        if self.src.startswith("'", j):
            raise self.error(start, f"a `'` in a name ({self.src[start:j + 1]}) is not supported")
        word = self.src[start:j]
        self.emit("kw" if word in KEYWORDS else "name", start, j, word)
        self.i = j

    def backticked(self, start: int) -> None:
        end = self.src.find("``", start + 2)
        newline = self.src.find("\n", start)
        if end < 0 or (0 <= newline < end):
            raise self.error(start, "unterminated ``name``: no closing `` on the line")
        content = self.src[start + 2:end]
        if not content or not all(map(_is_name_char, content)) or content[0].isdecimal():
            raise self.error(start, f"the name ``{content}`` is not supported: "
                                    "use letters, digits and _, not starting with a digit")
        self.emit("name", start, end + 2, content)
        self.i = end + 2

    def quote(self, start: int) -> None:
        """``'a'`` is a character literal (refused); ``'a`` a type variable."""
        src = self.src
        nxt = src[start + 1:start + 2]
        if nxt == "\\" or (nxt not in ("", "\n", "'") and src.startswith("'", start + 2)):
            raise self.error(start, "character literals ('a') are not supported: use a string")
        if nxt and _is_name_start(nxt):
            j = start + 2
            while j < len(src) and _is_name_char(src[j]):
                j += 1
            self.emit("tyvar", start, j, src[start:j])
            self.i = j
            return
        raise self.error(start, "unexpected character `'`")

    def symbol(self, start: int, c: str) -> None:
        for two in _TWO_CHAR:
            if self.src.startswith(two, start):
                self.emit("sym", start, start + 2, two)
                self.i = start + 2
                return
        if c not in _ONE_CHAR:
            raise self.error(start, f"unexpected character {_show(c)}")
        self.emit("sym", start, start + 1, c)
        self.i = start + 1


def tokenize(text: str, file: str) -> tuple[list[Token], list[str]]:
    """All tokens (ending with an ``eof`` token) and the warnings (``#load``)."""
    lexer = _Lexer(text, file)
    tokens = lexer.run()
    return tokens, lexer.warnings


def check_brackets(tokens: list[Token], file: str) -> None:
    """L3/L4: every closer matches the innermost opener; nothing is left open."""
    stack: list[Token] = []
    for tok in tokens:
        if tok.kind != "sym":
            continue
        if tok.text in PAIRS:
            stack.append(tok)
        elif tok.text in _CLOSERS:
            if not stack or PAIRS[stack[-1].text] != tok.text:
                raise schema_error(Pos(file, tok.line, tok.col), _mismatch(tok, stack))
            stack.pop()
    if stack:
        o = stack[-1]
        raise schema_error(Pos(file, o.line, o.col), f"unclosed `{o.text}`: no matching "
                                                     f"`{PAIRS[o.text]}` before the end of the file")


def _mismatch(tok: Token, stack: list[Token]) -> str:
    if not stack:
        return f"unexpected `{tok.text}`: no bracket is open"
    o = stack[-1]
    return (f"unexpected `{tok.text}`: the innermost open bracket is `{o.text}` "
            f"at {o.line}:{o.col}, which needs `{PAIRS[o.text]}`")


def lex(text: str, file: str) -> tuple[list[Token], list[str]]:
    """Tokens and warnings, after the lexical and bracket-balance checks."""
    tokens, warnings = tokenize(text, file)
    check_brackets(tokens, file)
    return tokens, warnings
