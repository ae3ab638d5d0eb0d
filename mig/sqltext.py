"""SQLite SQL as tokens: quoting, canonical text, and splitting CREATE statements.

The schema hash must not move when someone reformats a view or a CHECK, so
every piece of SQL the model keeps (expressions, view and trigger bodies) is
stored in a canonical token form: comments dropped, whitespace collapsed,
keywords upper-cased, identifiers quoted only when they must be. Pure code:
no sqlite3 here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Token",
    "tokenize",
    "canonical",
    "quote_ident",
    "quote_str",
    "unquote_ident",
    "split_top_level",
    "KEYWORDS",
]

# SQLite's keyword list (https://sqlite.org/lang_keywords.html).
KEYWORDS = frozenset("""
ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT
BEFORE BEGIN BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT
CONSTRAINT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP
DATABASE DEFAULT DEFERRABLE DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH
ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE EXISTS EXPLAIN FAIL FILTER FIRST
FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP GROUPS HAVING IF IGNORE
IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTO IS
ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT NOTHING
NOTNULL NULL NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER PARTITION PLAN
PRAGMA PRECEDING PRIMARY QUERY RAISE RANGE RECURSIVE REFERENCES REGEXP REINDEX
RELEASE RENAME REPLACE RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS SAVEPOINT
SELECT SET TABLE TEMP TEMPORARY THEN TIES TO TRANSACTION TRIGGER UNBOUNDED
UNION UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH
WITHOUT
""".split())


@dataclass(frozen=True)
class Token:
    kind: str  # word | ident | string | blob | number | param | op | comment | space
    text: str
    start: int

    @property
    def upper(self) -> str:
        return self.text.upper()

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<blob>[xX]'[0-9a-fA-F]*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<ident>"(?:[^"]|"")*"|\[[^\]]*\]|`(?:[^`]|``)*`)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)
  | (?P<param>[?][0-9]*|[:@$][A-Za-z0-9_]+)
  | (?P<word>[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*)
  | (?P<op>\|\||<<|>>|<=|>=|==|!=|<>|->>|->|[-+*/%&|~<>=(),.;])
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(sql: str, keep_space: bool = False) -> list[Token]:
    """Split SQL into tokens; unknown characters become one-character ops."""
    out: list[Token] = []
    pos = 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        if m is None:
            out.append(Token("op", sql[pos], pos))
            pos += 1
            continue
        kind = m.lastgroup or "op"
        if keep_space or kind not in ("space", "comment"):
            out.append(Token(kind, m.group(), pos))
        pos = m.end()
    return out


_BARE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def unquote_ident(text: str) -> str:
    """The name an identifier token denotes (bare, "x", [x] or `x`)."""
    if text[:1] == '"' and text[-1:] == '"':
        return text[1:-1].replace('""', '"')
    if text[:1] == "`" and text[-1:] == "`":
        return text[1:-1].replace("``", "`")
    if text[:1] == "[" and text[-1:] == "]":
        return text[1:-1]
    return text


def quote_ident(name: str) -> str:
    """Always-quoted identifier, safe for any name (`order`, spaces, quotes)."""
    return '"' + name.replace('"', '""') + '"'


def quote_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _canonical_ident(name: str) -> str:
    """Bare when the name needs no quotes, else double-quoted."""
    if _BARE.match(name) and name.upper() not in KEYWORDS:
        return name
    return quote_ident(name)


_NO_SPACE_BEFORE = {")", ",", ".", ";"}
_NO_SPACE_AFTER = {"(", "."}


def canonical(sql: str) -> str:
    """Canonical text of SQL: same meaning and tokens give the same string."""
    parts: list[str] = []
    prev, prev_kind = "", ""
    for tok in tokenize(sql):
        if tok.kind == "word":
            text = tok.upper if tok.upper in KEYWORDS else tok.text
        elif tok.kind == "ident":
            text = _canonical_ident(unquote_ident(tok.text))
        elif tok.kind == "blob":
            text = "X'" + tok.text[2:-1].upper() + "'"
        else:
            text = tok.text
        call = text == "(" and prev_kind == "word" and prev.upper() not in KEYWORDS
        if parts and not call and text not in _NO_SPACE_BEFORE and prev not in _NO_SPACE_AFTER:
            parts.append(" ")
        parts.append(text)
        prev, prev_kind = text, tok.kind
    return "".join(parts).rstrip(";").rstrip()


def split_top_level(tokens: list[Token], sep: str = ",") -> list[list[Token]]:
    """Split a token list on `sep` at parenthesis depth zero."""
    groups: list[list[Token]] = [[]]
    depth = 0
    for tok in tokens:
        if tok.kind == "op" and tok.text == "(":
            depth += 1
        elif tok.kind == "op" and tok.text == ")":
            depth -= 1
        if depth == 0 and tok.kind == "op" and tok.text == sep:
            groups.append([])
            continue
        groups[-1].append(tok)
    return [g for g in groups if g]
