"""`schema.sql`: plain SQLite DDL, built in memory and read back by introspection.

SQLite itself is the parser, so whatever SQLite accepts is understood exactly
as SQLite understands it. Intent the DDL cannot say (renames, drops) comes
from `-- mig:` directive comments. Statements run one at a time so that an
error can name the line it starts on. Seed rows are the rows the script's
INSERTs leave in the tables, minus the values that only a non-constant
default (`CURRENT_TIMESTAMP`, `(random())`) put there: those are evaluated
when the seed row is applied, so loading the same file twice gives the same
model and the same hash.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

from mig.bookkeeping import TABLES as MIG_TABLES
from mig.ddl import create_table_sql
from mig.errors import SchemaInputError
from mig.model import Column, Schema, SeedRow, Table
from mig.schema.directives import parse_directives, with_intents
from mig.sql.defaults import default_is_literal
from mig.sql.text import Token, line_col, quote_ident, tokenize, unquote_ident
from mig.sqlite.introspect import introspect, table_rows

__all__ = ["load", "loads"]

# A schema declares; it does not act. `REPLACE INTO` is SQLite's INSERT OR REPLACE.
_ALLOWED = ("CREATE", "INSERT", "REPLACE")
# Stands for "the default put this here" while seed rows are read (see _stable_seeds).
_SENTINEL = b"\x00mig: value of a non-constant default\x00"


@dataclass(frozen=True)
class _Statement:
    line: int
    col: int
    sql: str
    terminated: bool = True  # the file's last statement may omit its `;`

    @property
    def first_word(self) -> str:
        words = [t.upper for t in tokenize(self.sql) if t.kind == "word"]
        return words[0] if words else ""


def load(path: str | Path, display_name: str | None = None) -> Schema:
    name = display_name or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaInputError(name, 1, 1, f"cannot read schema file: {exc}") from exc
    return loads(text, name)


def loads(text: str, file: str = "schema.sql") -> Schema:
    if "\0" in text:  # sqlite3 takes no string holding one
        line, col = line_col(text, text.index("\0"))
        raise SchemaInputError(file, line, col, "a NUL character; a schema file is text: remove it")
    statements = _statements(text, file)
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        created = _execute_all(conn, statements, file)
        _check_references(conn, created, file)
        _check_views(conn, statements, file)
        schema = introspect(conn, with_rows=True)
    finally:
        conn.close()
    inserts = [s for s in statements if s.first_word in ("INSERT", "REPLACE")]
    schema = replace(schema, seeds=_stable_seeds(schema, inserts, created, file))
    return with_intents(schema, parse_directives(text, file), file)


# ---------------------------------------------------------------- statements

def _statements(text: str, file: str) -> list[_Statement]:
    """The script's statements with the line and column each starts at."""
    out: list[_Statement] = []
    start: Token | None = None
    for tok in tokenize(text):
        if start is None:
            start = tok
        if tok.text == ";" and sqlite3.complete_statement(text[start.start:tok.start + 1]):
            out.append(_statement(text, start, text[start.start:tok.start + 1]))
            start = None
    if start is not None:
        rest = text[start.start:].rstrip()
        if not sqlite3.complete_statement(rest + ";"):
            line, col = line_col(text, start.start)
            raise SchemaInputError(file, line, col, "incomplete SQL statement at end of file "
                                   "(an unclosed parenthesis, string or comment?)")
        out.append(replace(_statement(text, start, rest + ";"), terminated=False))
    return [s for s in out if s.sql.strip(" \t\r\n;")]


def _statement(text: str, start: Token, sql: str) -> _Statement:
    line, col = line_col(text, start.start)
    return _Statement(line, col, sql)


def _execute_all(conn: sqlite3.Connection, statements: list[_Statement], file: str) -> dict[str, int]:
    """Run each statement alone; returns the line each table was created on (lower-case name)."""
    created: dict[str, int] = {}
    for stmt in statements:
        before = _names(conn)
        _run(conn, stmt, file)
        for name in _names(conn) - before:
            created[name] = stmt.line
    return created


def _check_views(conn: sqlite3.Connection, statements: list[_Statement], file: str) -> None:
    """SQLite creates a view whatever its SELECT names and complains only when it is read:
    read each one now, once every table and view exists."""
    broken = broken_view(conn)
    if broken is None:
        return
    name, error = broken
    stmt = next((s for s in statements if _creates_view(s, name)), None)
    line, col = (stmt.line, stmt.col) if stmt else (1, 1)
    raise SchemaInputError(file, line, col, f"SQLite cannot read view {name}: {error}")


# What a view's SELECT can name wrongly in the schema itself. Other errors are left to
# the service: a function it registers on its connection (or REGEXP) is unknown here.
_VIEW_ERRORS = ("no such column", "no such table", "ambiguous column name")


def broken_view(conn: sqlite3.Connection) -> tuple[str, str] | None:
    """The first view of `conn` that names a column or table the schema lacks, with its error."""
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY rowid").fetchall():
        try:
            conn.execute(f"SELECT * FROM {quote_ident(name)} LIMIT 0").fetchall()
        except sqlite3.Error as exc:
            if str(exc).startswith(_VIEW_ERRORS):
                return name, str(exc)
    return None


def _creates_view(stmt: _Statement, name: str) -> bool:
    """Whether `stmt` is CREATE [TEMP] VIEW [IF NOT EXISTS] [schema.]`name`."""
    words = tokenize(stmt.sql)[:9]
    upper = [t.upper for t in words]
    at = 1 + (upper[1:2] in (["TEMP"], ["TEMPORARY"]))
    if upper[:1] != ["CREATE"] or upper[at:at + 1] != ["VIEW"]:
        return False
    at += 1 + 3 * (upper[at + 1:at + 4] == ["IF", "NOT", "EXISTS"])
    if upper[at + 1:at + 2] == ["."]:
        at += 2  # schema-qualified
    return at < len(words) and unquote_ident(words[at].text).lower() == name.lower()


def _names(conn: sqlite3.Connection) -> set[str]:
    return {r[0].lower() for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _run(conn: sqlite3.Connection, stmt: _Statement, file: str) -> None:
    words = [t.upper for t in tokenize(stmt.sql) if t.kind == "word"][:4]
    if words and words[0] not in _ALLOWED:
        raise SchemaInputError(file, stmt.line, stmt.col, f"{words[0]} is not allowed in schema.sql; "
                               "it may hold only CREATE TABLE/INDEX/VIEW/TRIGGER and INSERT")
    if words[:2] == ["CREATE", "VIRTUAL"]:
        raise SchemaInputError(file, stmt.line, stmt.col, "virtual tables are not supported: mig "
                               "captures writes with triggers, which SQLite does not allow on them")
    try:
        conn.execute(stmt.sql)
    except sqlite3.Error as exc:
        what = "this statement" if stmt.terminated else "the incomplete statement at the end of the file"
        raise SchemaInputError(file, stmt.line, stmt.col, f"SQLite rejected {what}: {exc}") from exc
    reserved = next((n for n in _names(conn) if n in MIG_TABLES), None)
    if reserved:
        raise SchemaInputError(file, stmt.line, stmt.col, f"table name {reserved} is reserved for "
                               "mig's own bookkeeping; choose another name")


def _check_references(conn: sqlite3.Connection, created: dict[str, int], file: str) -> None:
    """Every FOREIGN KEY names an existing table and a key of it; seed rows find their parents."""
    for name, line in created.items():
        for row in conn.execute("SELECT * FROM pragma_foreign_key_list(?)", (name,)):
            if row[2].lower() not in created:
                raise SchemaInputError(file, line, 1, f"table {name} references table {row[2]}, "
                                       "which the schema does not create")
    try:
        bad = conn.execute("PRAGMA foreign_key_check").fetchall()
    except sqlite3.Error as exc:  # "foreign key mismatch": the parent columns are not a key
        raise SchemaInputError(file, 1, 1, f"{exc}: a FOREIGN KEY must reference the parent's "
                               "PRIMARY KEY or UNIQUE columns") from exc
    if bad:
        raise SchemaInputError(file, created.get(bad[0][0].lower(), 1), 1,
                               f"seed row in {bad[0][0]} references a missing row of {bad[0][2]}; "
                               "add the parent row first")


# ---------------------------------------------------------------- seed rows

def _volatile(col: Column) -> bool:
    """A default whose value depends on when it is evaluated."""
    return col.default is not None and not default_is_literal(col.default)


def _stable_seeds(schema: Schema, inserts: list[_Statement], created: dict[str, int],
                  file: str) -> tuple[SeedRow, ...]:
    """Seed rows without the values non-constant defaults gave them.

    The INSERTs run again in a second database whose non-constant defaults
    are a sentinel; where a row holds the sentinel, the default made the
    value, so the seed row leaves that column out and the default is
    evaluated when the row is applied. Should the second run differ (a
    CHECK or trigger that reads such a column), the first run's rows stand.
    """
    volatile = {t.name for t in schema.tables if any(_volatile(c) for c in t.stored_columns)}
    if not volatile or not inserts:
        return schema.seeds
    probe = _sentinel_rows(schema, inserts)
    if probe is None:
        return schema.seeds
    out: list[SeedRow] = []
    for table in schema.tables:
        rows = schema.seeds_of(table.name)
        marked = probe.get(table.name, [])
        if table.name not in volatile or len(marked) != len(rows):
            out += rows
            continue
        for row, mark in zip(rows, marked):
            out.append(_without_defaulted(table, row, mark, created, file))
    return tuple(out)


def _sentinel_rows(schema: Schema, inserts: list[_Statement]) -> dict[str, list[tuple[object, ...]]] | None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for table in schema.tables:
            conn.execute(create_table_sql(_loose(table)))
        for stmt in inserts:
            conn.execute(stmt.sql)
        return {t.name: [r.values for r in table_rows(conn, t)] for t in schema.tables}
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _loose(table: Table) -> Table:
    """The table with its keys and types, no other constraint, and sentinel defaults."""
    cols = tuple(replace(c, default="X'" + _SENTINEL.hex() + "'") if _volatile(c) else c
                 for c in table.columns)
    return replace(table, columns=cols, checks=(), foreign_keys=(), strict=False)


def _without_defaulted(table: Table, row: SeedRow, mark: tuple[object, ...], created: dict[str, int],
                       file: str) -> SeedRow:
    keep = [i for i, v in enumerate(mark) if v != _SENTINEL]
    dropped = [row.columns[i] for i in range(len(row.columns)) if i not in keep]
    key = next((c for c in dropped if c in table.primary_key), None)
    if key is not None:
        raise SchemaInputError(file, created.get(table.name.lower(), 1), 1,
                               f"a seed row of {table.name} takes its primary key {key} from a "
                               "non-constant default, so it would be a new row at every apply; "
                               "give the key explicitly in the INSERT")
    return SeedRow(row.table, tuple(row.columns[i] for i in keep), tuple(row.values[i] for i in keep))
