"""Read a live SQLite database into the schema model.

The PRAGMAs are the authority for what SQLite enforces (columns, keys,
foreign keys, unique constraints); the stored CREATE statements supply what
no PRAGMA reports (CHECK, COLLATE, generated expressions, AUTOINCREMENT,
WITHOUT ROWID, STRICT, deferrable foreign keys). mig's own objects
(mig.bookkeeping) are never part of a user's schema.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from mig.bookkeeping import TABLE_COLUMNS, is_internal
from mig.model import Column, ForeignKey, Index, Schema, SeedRow, Table, Trigger, View
from mig.sql.create import matching_paren, parse_create_table
from mig.sql.text import quote_ident, split_top_level, tokenize

__all__ = ["introspect", "user_table_names", "table_rows", "impostors", "shadow_tables"]

def impostors(conn: sqlite3.Connection, schema: str = "main") -> list[str]:
    """Tables and views of `schema` that carry a name of mig's bookkeeping but are not
    mig's (their columns are not the ones mig creates), as `name (col, ...)`."""
    out = []
    for kind, name in conn.execute(f"SELECT type, name FROM {schema}.sqlite_master "
                                   "WHERE type IN ('table', 'view') ORDER BY rowid"):
        expected = TABLE_COLUMNS.get(name.lower())
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


# ---------------------------------------------------------------- indexes

def _index(name: str, table: str, sql: str) -> Index:
    toks = tokenize(sql)
    unique = any(t.is_word("UNIQUE") for t in toks[:3])
    open_at = next(i for i, t in enumerate(toks) if t.text == "(")
    close_at = matching_paren(toks, open_at)
    terms = []
    for group in split_top_level(toks[open_at + 1:close_at]):
        terms.append(sql[group[0].start:group[-1].start + len(group[-1].text)].strip())
    rest = toks[close_at + 1:]
    where = None
    if rest and rest[0].is_word("WHERE"):
        where = sql[rest[1].start:].strip().rstrip(";").strip()
    return Index(name=name, table=table, columns=tuple(terms), unique=unique, where=where)
