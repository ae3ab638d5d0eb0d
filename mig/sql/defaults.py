"""DEFAULT clauses: one canonical spelling for each, and whether one is a constant.

The model compares and hashes defaults in this spelling (`1e3` and `1000.0`
agree); the renderer and the SQL front end ask whether a default is a
constant. Pure code: no I/O, no sqlite3.
"""

from __future__ import annotations

import math
import re

from mig.sql.text import canonical, quote_str, tokenize, unquote_ident

__all__ = ["KEYWORD_DEFAULTS", "canonical_default", "default_is_literal"]

_INT = re.compile(r"^[+-]?\d+$")
_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
KEYWORD_DEFAULTS = {"NULL", "CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME"}


def _real_literal(x: float) -> str:
    if math.isinf(x):
        return "1e999" if x > 0 else "-1e999"
    text = repr(x)
    return text if any(ch in text for ch in ".en") else text + ".0"


def canonical_default(sql: str | None) -> str | None:
    """One spelling per default: `1e3` and `1000.0` agree, `'a'` stays a string."""
    if sql is None:
        return None
    text = sql.strip()
    # PRAGMA table_info drops the parentheses of DEFAULT (expr); accept either.
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    up = text.upper()
    if up in KEYWORD_DEFAULTS:
        return up
    if up in ("TRUE", "FALSE"):
        return "1" if up == "TRUE" else "0"
    if _INT.match(text):
        value = int(text)
        if -(2**63) <= value < 2**63:
            return str(value)
        return _real_literal(float(value))
    if _NUM.match(text):
        return _real_literal(float(text))
    toks = tokenize(text)
    if len(toks) == 1 and toks[0].kind == "string":
        return toks[0].text
    if len(toks) == 1 and toks[0].kind == "ident" and toks[0].text.startswith('"'):
        return quote_str(unquote_ident(toks[0].text))  # SQLite reads DEFAULT "x" as the string 'x'
    if len(toks) == 1 and toks[0].kind == "blob":
        return "X'" + toks[0].text[2:-1].upper() + "'"
    if len(toks) == 2 and toks[0].text == "-" and toks[1].kind == "number":
        return canonical_default("-" + toks[1].text)
    return canonical(text)


def _balanced(text: str) -> bool:
    depth = 0
    for tok in tokenize(text):
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def default_is_literal(sql: str | None) -> bool:
    """True for a constant default (number, string, blob, NULL)."""
    if sql is None:
        return False
    toks = tokenize(sql)
    if len(toks) == 2 and toks[0].text in "+-" and toks[1].kind == "number":
        return True
    return len(toks) == 1 and (toks[0].kind in ("number", "string", "blob") or toks[0].is_word("NULL"))
