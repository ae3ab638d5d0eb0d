"""Compare two SQLite databases by what SQLite reports about them, never by SQL text.

The contract's way to compare a pair of databases, shared by the .fsx, .py and .sql
front-end tests.
"""

from __future__ import annotations

import re
import sqlite3
import struct
from typing import Any

LITERAL = re.compile(
    r"^\s*([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|'(?:[^']|'')*'|[xX]'(?:[0-9a-fA-F]{2})*'|NULL)\s*$",
    re.I,
)
DIRECTIVE = re.compile(
    r"^\s*--\s*mig:(rename-table|rename-column|drop-table|drop-column)\s+(.*)$", re.M
)


def norm_default(db: sqlite3.Connection, d: str | None) -> Any:
    if d is None:
        return None
    if LITERAL.match(d):
        v = db.execute(f"SELECT {d}").fetchone()[0]
        return ("value", type(v).__name__, v)
    text = d.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return ("expr", " ".join(text.split()))


def typed_rows(cur: sqlite3.Cursor) -> list[tuple[Any, ...]]:
    return sorted(tuple((type(v).__name__, v) for v in r) for r in cur)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def introspect(db: sqlite3.Connection) -> dict[str, Any]:
    out: dict[str, Any] = {"tables": {}, "views": {}}
    for name, sql in db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='table' "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    ).fetchall():
        q = _q(name)
        cols = [(r[1], (r[2] or "").upper(), r[3], norm_default(db, r[4]), r[5])
                for r in db.execute(f"PRAGMA table_info({q})")]
        uniques, indexes = [], {}
        for _, iname, unique, origin, partial in db.execute(f"PRAGMA index_list({q})").fetchall():
            icols = tuple(r[2] for r in db.execute(f"PRAGMA index_info({_q(iname)})"))
            if origin == "u":
                uniques.append(icols)
            elif origin == "c":
                indexes[iname] = (bool(unique), icols, bool(partial))
        fks: dict[int, list[Any]] = {}
        for r in db.execute(f"PRAGMA foreign_key_list({q})"):
            fks.setdefault(r[0], []).append(r)
        fkl = sorted((tuple(x[3] for x in g), g[0][2], tuple(x[4] for x in g), g[0][5], g[0][6])
                     for g in fks.values())
        out["tables"][name] = dict(
            columns=cols, uniques=sorted(uniques), indexes=indexes, foreign_keys=fkl,
            rows=typed_rows(db.execute(f"SELECT * FROM {q}")),
            autoincrement=bool(re.search(r"\bAUTOINCREMENT\b", sql or "", re.I)),
        )
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='view'").fetchall():
        cur = db.execute(f"SELECT * FROM {_q(name)}")
        out["views"][name] = dict(columns=[d[0] for d in cur.description], rows=typed_rows(cur))
    return out


def intents_from_sql(text: str) -> set[tuple[str, ...]]:
    """The directive comments of a .sql file as a set of (kind, *args)."""
    return {(m.group(1), *m.group(2).split()) for m in DIRECTIVE.finditer(text)}


def intents_from_schema(schema: Any) -> set[tuple[str, ...]]:
    """The model's declared renames and drops in the same shape as intents_from_sql."""
    out: set[tuple[str, ...]] = set()
    out |= {("rename-table", r.old, r.new) for r in schema.rename_tables}
    out |= {("rename-column", r.table, r.old, r.new) for r in schema.rename_columns}
    out |= {("drop-table", d.name) for d in schema.drop_tables}
    out |= {("drop-column", d.table, d.column) for d in schema.drop_columns}
    return out


def build_from_sql(text: str) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(text)
    return db


def build_from_schema(schema: Any) -> sqlite3.Connection:
    """A fresh database built through mig's own path: DDL, then seeds in one transaction."""
    from mig.ddl import create_statements, seed_statements

    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("PRAGMA foreign_keys=ON")
    for stmt in create_statements(schema):
        db.execute(stmt)
    db.execute("BEGIN")
    db.execute("PRAGMA defer_foreign_keys=ON")
    for sql, params in seed_statements(schema):
        db.execute(sql, params)
    db.execute("COMMIT")
    return db


def diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Human-readable differences, for assertion messages."""
    out = []
    for kind in ("tables", "views"):
        for name in sorted(set(a[kind]) | set(b[kind])):
            if name not in a[kind] or name not in b[kind]:
                out.append(f"{kind[:-1]} {name}: only in {'expected' if name in a[kind] else 'actual'}")
                continue
            for key in a[kind][name]:
                if a[kind][name][key] != b[kind][name].get(key):
                    out.append(f"{kind[:-1]} {name}.{key}: expected {a[kind][name][key]!r}, "
                               f"got {b[kind][name].get(key)!r}")
    return out


def typed(v: object) -> tuple[str, object]:
    """A value with its type; REAL by its bits, so 0.1+0.2 never passes for 0.3."""
    if isinstance(v, float):
        return ("real", struct.pack("<d", v))
    return (type(v).__name__, v)


def rows(conn: sqlite3.Connection, sql: str) -> list[tuple[tuple[str, object], ...]]:
    return sorted(tuple(typed(v) for v in r) for r in conn.execute(sql))
