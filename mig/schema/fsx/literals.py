"""String and number literals of `schema.fsx` (docs/fsx.md §1), read without F#.

Split from the lexer because F# literals carry most of the lexical detail:
three string forms with different escape rules, and numbers whose suffix
decides their kind. Each scanner takes the source (line breaks already
normalised to ``\\n``) and a start index and returns the end index and the
value; problems are raised as ``LiteralError(index, message)`` so the lexer,
which knows lines and columns, can turn them into ``SchemaInputError``.
"""

from __future__ import annotations

import re

__all__ = ["LiteralError", "scan_regular", "scan_verbatim", "scan_triple", "scan_number"]

_SIMPLE_ESCAPES = {
    "n": "\n", "t": "\t", "b": "\b", "r": "\r", "a": "\a", "f": "\f", "v": "\v",
    "\\": "\\", '"': '"', "'": "'", "0": "\0",
}
_HEX = {"u": 4, "U": 8, "x": 2}
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")

_NUMBER = re.compile(
    r"""(?P<radix>0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+)
      | (?P<dec>[0-9][0-9_]*(?P<frac>\.(?!\.)[0-9_]*)?(?P<exp>[eE][+-]?[0-9][0-9_]*)?)""",
    re.X,
)
_SUFFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT64_MAX = 2**63 - 1


class LiteralError(Exception):
    """A literal is malformed; ``index`` is where the error is reported."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index, self.message = index, message


def _unterminated(start: int, form: str) -> LiteralError:
    return LiteralError(start, f"unterminated {form}: no closing quote before the end of the file")


def _surrogates(chars: list[str], start: int) -> str:
    """Join UTF-16 surrogate pairs from \\u escapes, as .NET strings would hold them."""
    text = "".join(chars)
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    try:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        raise LiteralError(start, "a lone UTF-16 surrogate in a string is not supported") from None


def _escape(src: str, i: int, out: list[str]) -> int:
    """Read the escape at src[i] == '\\'; append its text; return the next index."""
    nxt = src[i + 1] if i + 1 < len(src) else ""
    trigraph = src[i + 1:i + 4]
    if len(trigraph) == 3 and trigraph.isdigit() and trigraph.isascii() and int(trigraph) <= 255:
        out.append(chr(int(trigraph)))
        return i + 4
    if nxt in _SIMPLE_ESCAPES:
        out.append(_SIMPLE_ESCAPES[nxt])
        return i + 2
    if nxt == "\n":  # backslash-newline: drop the break and the next line's leading blanks
        j = i + 2
        while j < len(src) and src[j] in " \t":
            j += 1
        return j
    if nxt in _HEX:
        digits = src[i + 2:i + 2 + _HEX[nxt]]
        if len(digits) == _HEX[nxt] and set(digits) <= _HEXDIGITS and int(digits, 16) <= 0x10FFFF:
            out.append(chr(int(digits, 16)))
            return i + 2 + len(digits)
    out.append("\\")  # any other backslash stays as written
    return i + 1


def scan_regular(src: str, start: int) -> tuple[int, str]:
    """``"…"`` with escapes; ``start`` is the opening quote."""
    i, out = start + 1, list[str]()
    while i < len(src):
        c = src[i]
        if c == '"':
            return i + 1, _surrogates(out, start)
        if c == "\\":
            i = _escape(src, i, out)
        else:
            out.append(c)
            i += 1
    raise _unterminated(start, "string")


def scan_verbatim(src: str, start: int) -> tuple[int, str]:
    """``@"…"``: no escapes but ``""``; ``start`` is the ``@``."""
    i, out = start + 2, list[str]()
    while i < len(src):
        if src.startswith('""', i):
            out.append('"')
            i += 2
        elif src[i] == '"':
            return i + 1, "".join(out)
        else:
            out.append(src[i])
            i += 1
    raise _unterminated(start, "verbatim string")


def scan_triple(src: str, start: int) -> tuple[int, str]:
    """``\"\"\"…\"\"\"``: no escapes; ends at the first ``\"\"\"``."""
    end = src.find('"""', start + 3)
    if end < 0:
        raise _unterminated(start, "triple-quoted string")
    return end + 3, src[start + 3:end]


def scan_number(src: str, start: int, after_minus: bool) -> tuple[int, str, object]:
    """A number at ``start``: (end, kind, value), kind int64 | float | byte | int.

    ``after_minus`` allows the one int64 whose magnitude exceeds the maximum:
    ``-9223372036854775808L``.
    """
    m = _NUMBER.match(src, start)
    assert m is not None, "scan_number called on a non-digit"
    sm = _SUFFIX.match(src, m.end())
    suffix = sm.group() if sm else ""
    end = sm.end() if sm else m.end()
    written = src[start:end]
    digits = m.group().replace("_", "")
    is_float = bool(m.group("dec") and (m.group("frac") or m.group("exp")))
    if is_float:
        return end, "float", _float_value(digits, suffix, written, start)
    value = int(digits, 0) if m.group("radix") else int(digits)
    if suffix == "L":
        radix = bool(m.group("radix"))
        return end, "int64", _int64_value(value, radix, after_minus, written, start)
    if suffix == "uy":
        if value > 255:
            raise LiteralError(start, f"byte literal {written} is out of range (0..255): "
                                      "not supported")
        return end, "byte", value
    if suffix:
        raise _bad_suffix(start, suffix, written)
    return end, "int", value


def _bad_suffix(start: int, suffix: str, written: str) -> LiteralError:
    return LiteralError(start, f"number suffix `{suffix}` in {written} is not supported: "
                               "use `L` for int64, `uy` for byte, or a float such as 1.0")


def _float_value(digits: str, suffix: str, written: str, start: int) -> float:
    if suffix:
        raise _bad_suffix(start, suffix, written)
    value = float(digits)
    if value in (float("inf"), float("-inf")):
        raise LiteralError(start, f"float literal {written} is out of range: not supported")
    return value


def _int64_value(value: int, radix: bool, after_minus: bool, written: str, start: int) -> int:
    if radix and value <= 2**64 - 1:  # 0xFFFFFFFFFFFFFFFFL is -1L in F#
        return value - 2**64 if value > _INT64_MAX else value
    if value <= _INT64_MAX or (after_minus and value == _INT64_MAX + 1):
        return value
    raise LiteralError(start, f"int64 literal {written} is out of range (64 bits): not supported")
