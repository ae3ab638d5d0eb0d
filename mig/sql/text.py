"""SQLite SQL as tokens: quoting, canonical text, and splitting CREATE statements.

The schema hash must not move when someone reformats a view or a CHECK, so
every piece of SQL the model keeps (expressions, view and trigger bodies) has
a canonical token form for comparison and hashing: comments dropped,
whitespace collapsed, keywords upper-cased, identifiers quoted only when
they must be (and lower-cased where SQLite ignores their case), the optional
`AS` of an alias written out. The model keeps the text as written; only
comparisons and the hash see the canonical form. Pure code: no sqlite3 here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Token",
    "tokenize",
    "canonical",
    "canonical_type",
    "quote_ident",
    "quote_str",
    "sql_literal",
    "unquote_ident",
    "split_top_level",
    "line_col",
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


# A word starts with a letter, `_` or any character past ASCII, and goes on with those,
# digits and `$`. The classes name the ASCII characters a word cannot hold: as
# [A-Za-z_\u0080-\U0010ffff] they meant the same, but took `re` 7-10 ms to compile,
# paid by every start of the CLI.
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<blob>[xX]'[0-9a-fA-F]*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<ident>"(?:[^"]|"")*"|\[[^\]]*\]|`(?:[^`]|``)*`)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)
  | (?P<param>[?][0-9]*|[:@$][A-Za-z0-9_]+)
  | (?P<word>[^\x00-\x40\x5b-\x5e\x60\x7b-\x7f][^\x00-\x23\x25-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]*)
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


def sql_literal(value: object) -> str:
    """A stored value as SQL writes it (NULL, 12, 1.5, 'it''s', X'00ff'): how samples of
    rows are shown to an operator who will look them up with SQL."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    if isinstance(value, str):  # a NUL would end the SQL text: such text goes as its bytes
        return f"CAST(X'{value.encode().hex()}' AS TEXT)" if "\x00" in value else quote_str(value)
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "9e999" if value > 0 else "-9e999"  # SQLite's spelling of infinity
    return repr(value)


def _canonical_ident(name: str) -> str:
    """Bare when the name needs no quotes, else double-quoted."""
    if _BARE.match(name) and name.upper() not in KEYWORDS:
        return name
    return quote_ident(name)


_NO_SPACE_BEFORE = {")", ",", ".", ";"}
_NO_SPACE_AFTER = {"(", "."}


def _canonical_tokens(sql: str, fold_case: bool) -> list[tuple[str, str]]:
    """(kind, text) per token, each in its one spelling; `name` marks identifiers."""
    out: list[tuple[str, str]] = []
    for tok in tokenize(sql):
        if tok.kind == "word" and tok.upper in KEYWORDS:
            out.append(("keyword", tok.upper))
        elif tok.kind in ("word", "ident"):
            name = unquote_ident(tok.text)
            out.append(("name", _canonical_ident(name.lower() if fold_case else name)))
        elif tok.kind == "blob":
            out.append(("literal", "X'" + tok.text[2:-1].upper() + "'"))
        elif tok.kind in ("string", "number"):
            out.append(("literal", tok.text))
        else:
            out.append((tok.kind, tok.text))
    return out


def _with_alias_as(toks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`FROM book b` and `FROM book AS b` (or `SELECT x y`) are one spelling: AS written out."""
    out: list[tuple[str, str]] = []
    for kind, text in toks:
        if out and kind == "name":
            pkind, ptext = out[-1]
            if pkind in ("name", "literal") or ptext in (")", "END"):
                out.append(("keyword", "AS"))
        out.append((kind, text))
    return out


def canonical(sql: str, fold_case: bool = True) -> str:
    """Canonical text of SQL: same meaning and tokens give the same string.

    fold_case lower-cases identifiers, which SQLite compares ignoring case;
    a view keeps their case, because its column names are what it returns.
    """
    parts: list[str] = []
    prev, prev_kind = "", ""
    for kind, text in _with_alias_as(_canonical_tokens(sql, fold_case)):
        call = text == "(" and prev_kind == "name"
        if parts and not call and text not in _NO_SPACE_BEFORE and prev not in _NO_SPACE_AFTER:
            parts.append(" ")
        parts.append(text)
        prev, prev_kind = text, kind
    return "".join(parts).rstrip(";").rstrip()


def canonical_type(declared: str | None) -> str:
    """A declared type in one spelling: `varchar( 10 )` is `VARCHAR(10)`."""
    words: list[str] = []
    for tok in tokenize(declared or ""):
        text = tok.upper
        if words and text not in ("(", ")", ",") and words[-1] not in ("(", ","):
            words.append(" ")
        words.append(text)
    return "".join(words)


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


def line_col(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column of `offset` in `text`."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1
