"""Read a live SQLite database into the schema model.

The PRAGMAs are the authority for what SQLite enforces (columns, keys,
foreign keys, unique constraints); the stored CREATE statements supply what
no PRAGMA reports (CHECK, COLLATE, generated expressions, AUTOINCREMENT,
WITHOUT ROWID, STRICT, deferrable foreign keys). mig's own bookkeeping —
its six tables by their exact names, and its `_mig_capture_*`/`_mig_guard_*`
triggers — is never part of a user's schema. Exact names, not prefixes: a
user table called `_migrations` is data, and skipping it would drop it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from mig.model import Column, ForeignKey, Index, Schema, SeedRow, Table, Trigger, View
from mig.sqltext import Token, quote_ident, split_top_level, tokenize, unquote_ident

__all__ = ["introspect", "is_internal", "user_table_names", "table_rows", "MIG_TABLES", "impostors", "shadow_tables"]

# Each bookkeeping table with the columns every mig version gave it: a table of that
# name without them is a user's, and skipping it as mig's would drop its rows.
_MIG_TABLE_COLUMNS = {
    "_migration_marker": {"id", "status", "new_path", "schema_hash"},
    "_migration_log": {"seq", "tbl", "op"},
    "_migration_status": {"id", "status", "old_path"},
    "_migration_progress": {"key", "value"},
    "_id_mapping": {"tbl", "old_key", "new_key"},
    "_schema_identity": {"id", "schema_hash"},
}
MIG_TABLES = frozenset(_MIG_TABLE_COLUMNS)
_MIG_TRIGGER_PREFIXES = ("_mig_capture_", "_mig_guard_")


def is_internal(name: str) -> bool:
    """SQLite's own objects and mig's bookkeeping tables and triggers."""
    low = name.lower()
    return low.startswith(("sqlite_",) + _MIG_TRIGGER_PREFIXES) or low in MIG_TABLES


def impostors(conn: sqlite3.Connection, schema: str = "main") -> list[str]:
    """Tables and views of `schema` that carry a name of mig's bookkeeping but are not
    mig's (their columns are not the ones mig creates), as `name (col, ...)`."""
    out = []
    for kind, name in conn.execute(f"SELECT type, name FROM {schema}.sqlite_master "
                                   "WHERE type IN ('table', 'view') ORDER BY rowid"):
        expected = _MIG_TABLE_COLUMNS.get(name.lower())
        if expected is None:
            continue
        columns = [r[1] for r in conn.execute(f"SELECT * FROM {schema}.pragma_table_info(?)", (name,))]
        if kind == "view" or not expected <= {c.lower() for c in columns}:
            out.append(f"{kind} {name} ({', '.join(columns)})")
    return out


def shadow_tables(conn: sqlite3.Connection, schema: str = "main") -> set[str]:
    """The tables a virtual table keeps its data in (FTS5's `x_data`, `x_idx`, ...),
    lower-cased: part of the virtual table, never tables of their own."""
    rows = conn.execute(f"SELECT name FROM {schema}.pragma_table_list WHERE type = 'shadow' "
                        f"AND schema = ?", (schema,)).fetchall()
    return {r[0].lower() for r in rows}


def user_table_names(conn: sqlite3.Connection, schema: str = "main") -> list[str]:
    rows = conn.execute(
        f"SELECT name FROM {schema}.sqlite_master WHERE type='table' ORDER BY rowid"
    ).fetchall()
    return [r[0] for r in rows if not is_internal(r[0])]


def introspect(conn: sqlite3.Connection, schema: str = "main", with_rows: bool = False) -> Schema:
    """The model of database `schema` on `conn`; with_rows adds every row as a seed."""
    master = conn.execute(
        f"SELECT type, name, tbl_name, sql FROM {schema}.sqlite_master ORDER BY rowid"
    ).fetchall()
    tables, indexes, views, triggers = [], [], [], []
    shadows = shadow_tables(conn, schema)
    for kind, name, tbl, sql in master:
        if is_internal(name) or (kind in ("index", "trigger") and is_internal(tbl)):
            continue
        if name.lower() in shadows or tbl.lower() in shadows:
            continue
        if kind == "table":
            tables.append(_table(conn, schema, name, sql))
        elif kind == "index" and sql is not None:
            indexes.append(_index(name, tbl, sql))
        elif kind == "view":
            views.append(View(name, sql))
        elif kind == "trigger":
            triggers.append(Trigger(name, tbl, sql))
    seeds: list[SeedRow] = []
    if with_rows:
        for t in tables:
            seeds.extend(table_rows(conn, t, schema))
    return Schema(tables=tuple(tables), indexes=tuple(indexes), views=tuple(views),
                  triggers=tuple(triggers), seeds=tuple(seeds))


def table_rows(conn: sqlite3.Connection, table: Table, schema: str = "main") -> list[SeedRow]:
    cols = [c.name for c in table.stored_columns]
    order = "" if table.without_rowid else " ORDER BY rowid"
    sel = ", ".join(map(quote_ident, cols))
    rows = conn.execute(f"SELECT {sel} FROM {schema}.{quote_ident(table.name)}{order}").fetchall()
    return [SeedRow(table.name, tuple(cols), tuple(r)) for r in rows]


# ---------------------------------------------------------------- tables

@dataclass
class _Parsed:
    """What only the CREATE TABLE text tells."""

    collations: dict[str, str] = field(default_factory=dict)
    generated: dict[str, tuple[str, bool]] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    deferred_fks: set[tuple[tuple[str, ...], str]] = field(default_factory=set)  # (columns, parent)
    autoincrement: bool = False
    without_rowid: bool = False
    strict: bool = False


def _table(conn: sqlite3.Connection, schema: str, name: str, sql: str) -> Table:
    parsed = parse_create_table(sql)
    q = quote_ident(name)
    info = conn.execute(f"PRAGMA {schema}.table_xinfo({q})").fetchall()
    columns, pk = [], []
    for _cid, cname, ctype, notnull, dflt, pkpos, hidden in info:
        if hidden == 1:  # hidden columns of virtual tables
            continue
        gen = parsed.generated.get(cname.lower())
        columns.append(Column(
            name=cname, type=ctype or "", notnull=bool(notnull), default=dflt,
            collation=parsed.collations.get(cname.lower()),
            generated=gen[0] if gen else None, generated_stored=gen[1] if gen else False,
        ))
        if pkpos:
            pk.append((pkpos, cname))
    return Table(
        name=name, columns=tuple(columns), primary_key=tuple(c for _, c in sorted(pk)),
        autoincrement=parsed.autoincrement, without_rowid=parsed.without_rowid,
        strict=parsed.strict, uniques=_uniques(conn, schema, q), checks=tuple(parsed.checks),
        foreign_keys=_foreign_keys(conn, schema, q, parsed.deferred_fks),
    )


def _uniques(conn: sqlite3.Connection, schema: str, q: str) -> tuple[tuple[str, ...], ...]:
    out = []
    for _seq, iname, _unique, origin, _partial in conn.execute(f"PRAGMA {schema}.index_list({q})"):
        if origin == "u":
            cols = conn.execute(f"PRAGMA {schema}.index_info({quote_ident(iname)})").fetchall()
            out.append(tuple(r[2] for r in cols))
    return tuple(sorted(out))


def _foreign_keys(conn: sqlite3.Connection, schema: str, q: str,
                  deferred: set[tuple[tuple[str, ...], str]]) -> tuple[ForeignKey, ...]:
    groups: dict[int, list[tuple[Any, ...]]] = {}  # PRAGMA rows
    for row in conn.execute(f"PRAGMA {schema}.foreign_key_list({q})"):
        groups.setdefault(row[0], []).append(row)
    out = []
    for rows in groups.values():
        rows.sort(key=lambda r: r[1])
        cols = tuple(r[3] for r in rows)
        ref_table = rows[0][2]
        ref_cols = tuple(r[4] for r in rows)
        if any(c is None for c in ref_cols):  # REFERENCES parent: the parent's key
            ref_cols = _primary_key_of(conn, schema, ref_table) or ()
        out.append(ForeignKey(cols, ref_table, tuple(ref_cols), rows[0][5], rows[0][6],
                              (tuple(c.lower() for c in cols), ref_table.lower()) in deferred))
    return tuple(sorted(out))


def _primary_key_of(conn: sqlite3.Connection, schema: str, table: str) -> tuple[str, ...] | None:
    info = conn.execute(f"PRAGMA {schema}.table_info({quote_ident(table)})").fetchall()
    pk = sorted((r[5], r[1]) for r in info if r[5])
    return tuple(c for _, c in pk) or None


# ---------------------------------------------------------------- CREATE TABLE text

_COLUMN_CONSTRAINTS = {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT",
                       "COLLATE", "REFERENCES", "GENERATED", "AS"}
_TABLE_CONSTRAINTS = {"PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}


def parse_create_table(sql: str) -> _Parsed:
    """The facts of a CREATE TABLE statement that PRAGMAs do not report."""
    toks = tokenize(sql)
    out = _Parsed()
    open_at = next(i for i, t in enumerate(toks) if t.text == "(")
    close_at = _matching(toks, open_at)
    for item in split_top_level(toks[open_at + 1:close_at]):
        _parse_item(sql, item, out)
    options = {" ".join(t.upper for t in g) for g in split_top_level(toks[close_at + 1:])}
    out.without_rowid = "WITHOUT ROWID" in options
    out.strict = "STRICT" in options
    return out


def _matching(toks: list[Token], open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(toks)):
        if toks[i].text == "(":
            depth += 1
        elif toks[i].text == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced parentheses in CREATE TABLE")


def _parse_item(sql: str, item: list[Token], out: _Parsed) -> None:
    i = 2 if item[0].is_word("CONSTRAINT") else 0
    if item[i].kind == "word" and item[i].upper in _TABLE_CONSTRAINTS:
        _parse_table_constraint(sql, item[i:], out)
    else:
        _parse_column(sql, item, out)


def _parse_table_constraint(sql: str, item: list[Token], out: _Parsed) -> None:
    head = item[0].upper
    if head == "CHECK":
        out.checks.append(_paren_text(sql, item, 1))
    elif head == "FOREIGN":
        open_at = next(i for i, t in enumerate(item) if t.text == "(")
        close_at = _matching(item, open_at)
        cols = tuple(unquote_ident(t.text).lower() for t in item[open_at + 1:close_at]
                     if t.text != ",")
        rest = item[close_at + 1:]
        if len(rest) > 1 and _is_deferred(rest):
            out.deferred_fks.add((cols, unquote_ident(rest[1].text).lower()))
    if head == "PRIMARY" and any(t.is_word("AUTOINCREMENT") for t in item):
        out.autoincrement = True


def _parse_column(sql: str, item: list[Token], out: _Parsed) -> None:
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
            rest = item[_matching(item, i + 1) + 1:]
            stored = bool(rest) and rest[0].is_word("STORED")
            out.generated[name] = (_paren_text(sql, item, i + 1), stored)
        elif tok.is_word("REFERENCES") and i + 1 < len(item) and _is_deferred(item[i:]):
            out.deferred_fks.add(((name,), unquote_ident(item[i + 1].text).lower()))
        if tok.text == "(":
            i = _matching(item, i)
        i += 1


def _paren_text(sql: str, item: list[Token], open_at: int) -> str:
    close_at = _matching(item, open_at)
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


# ---------------------------------------------------------------- indexes

def _index(name: str, table: str, sql: str) -> Index:
    toks = tokenize(sql)
    unique = any(t.is_word("UNIQUE") for t in toks[:3])
    open_at = next(i for i, t in enumerate(toks) if t.text == "(")
    close_at = _matching(toks, open_at)
    terms = []
    for group in split_top_level(toks[open_at + 1:close_at]):
        terms.append(sql[group[0].start:group[-1].start + len(group[-1].text)].strip())
    rest = toks[close_at + 1:]
    where = None
    if rest and rest[0].is_word("WHERE"):
        where = sql[rest[1].start:].strip().rstrip(";").strip()
    return Index(name=name, table=table, columns=tuple(terms), unique=unique, where=where)
