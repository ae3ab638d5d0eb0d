"""Reading the CREATE TABLE text SQLite stored: the facts no PRAGMA reports
(CHECK, COLLATE, generated expressions, AUTOINCREMENT, WITHOUT ROWID, STRICT,
deferrable foreign keys). Pure text: `mig.sqlite.introspect` joins these with
what the PRAGMAs say."""

from __future__ import annotations

from dataclasses import dataclass, field

from mig.sql.text import Token, split_top_level, tokenize, unquote_ident

__all__ = ["ParsedTable", "parse_create_table", "matching_paren"]


@dataclass
class ParsedTable:
    """What only the CREATE TABLE text tells."""

    collations: dict[str, str] = field(default_factory=dict)
    generated: dict[str, tuple[str, bool]] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    deferred_fks: set[tuple[tuple[str, ...], str]] = field(default_factory=set)  # (columns, parent)
    autoincrement: bool = False
    without_rowid: bool = False
    strict: bool = False


_COLUMN_CONSTRAINTS = {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT",
                       "COLLATE", "REFERENCES", "GENERATED", "AS"}
_TABLE_CONSTRAINTS = {"PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}


def parse_create_table(sql: str) -> ParsedTable:
    """The facts of a CREATE TABLE statement that PRAGMAs do not report."""
    toks = tokenize(sql)
    out = ParsedTable()
    open_at = next(i for i, t in enumerate(toks) if t.text == "(")
    close_at = matching_paren(toks, open_at)
    for item in split_top_level(toks[open_at + 1:close_at]):
        _parse_item(sql, item, out)
    options = {" ".join(t.upper for t in g) for g in split_top_level(toks[close_at + 1:])}
    out.without_rowid = "WITHOUT ROWID" in options
    out.strict = "STRICT" in options
    return out


def matching_paren(toks: list[Token], open_at: int) -> int:
    """The index of the `)` that closes the `(` at `open_at`."""
    depth = 0
    for i in range(open_at, len(toks)):
        if toks[i].text == "(":
            depth += 1
        elif toks[i].text == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced parentheses in CREATE TABLE")


def _parse_item(sql: str, item: list[Token], out: ParsedTable) -> None:
    i = 2 if item[0].is_word("CONSTRAINT") else 0
    if item[i].kind == "word" and item[i].upper in _TABLE_CONSTRAINTS:
        _parse_table_constraint(sql, item[i:], out)
    else:
        _parse_column(sql, item, out)


def _parse_table_constraint(sql: str, item: list[Token], out: ParsedTable) -> None:
    head = item[0].upper
    if head == "CHECK":
        out.checks.append(_paren_text(sql, item, 1))
    elif head == "FOREIGN":
        open_at = next(i for i, t in enumerate(item) if t.text == "(")
        close_at = matching_paren(item, open_at)
        cols = tuple(unquote_ident(t.text).lower() for t in item[open_at + 1:close_at]
                     if t.text != ",")
        rest = item[close_at + 1:]
        if len(rest) > 1 and _is_deferred(rest):
            out.deferred_fks.add((cols, unquote_ident(rest[1].text).lower()))
    if head == "PRIMARY" and any(t.is_word("AUTOINCREMENT") for t in item):
        out.autoincrement = True


def _parse_column(sql: str, item: list[Token], out: ParsedTable) -> None:
    name = unquote_ident(item[0].text).lower()
    i = 1
    while i < len(item):
        tok = item[i]
        if tok.is_word("CHECK"):
            out.checks.append(_paren_text(sql, item, i + 1))
        elif tok.is_word("COLLATE") and i + 1 < len(item):
            out.collations[name] = unquote_ident(item[i + 1].text)
        elif tok.is_word("AUTOINCREMENT"):
            out.autoincrement = True
        elif tok.is_word("AS") and i + 1 < len(item) and item[i + 1].text == "(":
            rest = item[matching_paren(item, i + 1) + 1:]
            stored = bool(rest) and rest[0].is_word("STORED")
            out.generated[name] = (_paren_text(sql, item, i + 1), stored)
        elif tok.is_word("REFERENCES") and i + 1 < len(item) and _is_deferred(item[i:]):
            out.deferred_fks.add(((name,), unquote_ident(item[i + 1].text).lower()))
        if tok.text == "(":
            i = matching_paren(item, i)
        i += 1


def _paren_text(sql: str, item: list[Token], open_at: int) -> str:
    close_at = matching_paren(item, open_at)
    return sql[item[open_at].start + 1:item[close_at].start].strip()


def _is_deferred(toks: list[Token]) -> bool:
    """Is the first foreign key clause in `toks` DEFERRABLE INITIALLY DEFERRED?"""
    words = [t.upper for t in toks if t.kind == "word"]
    if "REFERENCES" in words[1:]:
        words = words[:words.index("REFERENCES", 1)]
    for i, w in enumerate(words):
        if w == "DEFERRABLE" and (i == 0 or words[i - 1] != "NOT"):
            return words[i + 1:i + 3] == ["INITIALLY", "DEFERRED"]
    return False
