"""`schema.sql`: plain SQLite DDL, built in memory and read back by introspection.

SQLite itself is the parser, so whatever SQLite accepts is understood exactly
as SQLite understands it. Intent the DDL cannot say (renames, drops) comes
from `-- mig:` directive comments. Statements run one at a time so that an
error can name the line it starts on. Seed rows are the rows the script's
INSERTs leave in the tables.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from mig.errors import SchemaInputError
from mig.introspect import introspect
from mig.model import DropColumn, DropTable, RenameColumn, RenameTable, Schema
from mig.sqltext import tokenize, unquote_ident

__all__ = ["load", "loads", "parse_directives"]

_DIRECTIVES = {"rename-table": 2, "rename-column": 3, "drop-table": 1, "drop-column": 2}


def load(path: str | Path, display_name: str | None = None) -> Schema:
    name = display_name or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaInputError(name, 1, 1, f"cannot read schema file: {exc}") from exc
    return loads(text, name)


def loads(text: str, file: str = "schema.sql") -> Schema:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        _execute_script(conn, text, file)
        bad = conn.execute("PRAGMA foreign_key_check").fetchall()
        if bad:
            raise SchemaInputError(file, 1, 1, f"seed row in {bad[0][0]} references a missing "
                                   f"row of {bad[0][2]}; add the parent row first")
        schema = introspect(conn, with_rows=True)
    finally:
        conn.close()
    return _with_intents(schema, parse_directives(text, file), file)


def _execute_script(conn: sqlite3.Connection, text: str, file: str) -> None:
    """Run each statement alone, so an error names the line its statement starts on."""
    start: int | None = None
    for tok in tokenize(text):
        if start is None:
            start = tok.start
        if tok.text == ";" and sqlite3.complete_statement(text[start:tok.start + 1]):
            _run(conn, text[start:tok.start + 1], file, _line(text, start))
            start = None
    if start is not None:
        raise SchemaInputError(file, _line(text, start), 1,
                               "incomplete SQL statement at end of file (missing `;`?)")


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _run(conn: sqlite3.Connection, stmt: str, file: str, line: int) -> None:
    words = [t.upper for t in tokenize(stmt) if t.kind == "word"][:3]
    if words and words[0] in ("ATTACH", "DETACH", "PRAGMA", "VACUUM", "BEGIN", "COMMIT", "END", "ROLLBACK"):
        raise SchemaInputError(file, line, 1, f"{words[0]} is not allowed in schema.sql; "
                               "it may hold only CREATE TABLE/INDEX/VIEW/TRIGGER and INSERT")
    try:
        conn.execute(stmt)
    except sqlite3.Error as exc:
        raise SchemaInputError(file, line, 1, f"SQLite rejected this statement: {exc}") from exc


def parse_directives(text: str, file: str) -> list[tuple[int, int, object]]:
    """The `-- mig:` directives as (line, column, intent) in file order."""
    found: list[tuple[int, int, object]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped.startswith("--") or not stripped[2:].strip().startswith("mig:"):
            continue
        col = line.index("mig:") + 1
        kind, _, rest = stripped[2:].strip()[4:].partition(" ")
        if kind not in _DIRECTIVES:
            raise SchemaInputError(file, lineno, col, f"unknown directive `mig:{kind}`; known: "
                                   + ", ".join(f"mig:{k}" for k in _DIRECTIVES))
        args = [unquote_ident(t.text) for t in tokenize(rest)]
        if len(args) != _DIRECTIVES[kind] or not all(args):
            raise SchemaInputError(file, lineno, col, f"`mig:{kind}` takes {_DIRECTIVES[kind]} "
                                   "names (write a name with spaces as \"name\")")
        found.append((lineno, col, _INTENT[kind](*args)))
    return found


_INTENT = {"rename-table": RenameTable, "rename-column": RenameColumn,
           "drop-table": DropTable, "drop-column": DropColumn}


def _intent_problem(schema: Schema, intent: object) -> str | None:
    """Why a directive cannot hold for this schema, or None."""
    if isinstance(intent, RenameTable) and schema.table(intent.new) is None:
        return f"the schema has no table {intent.new}"
    if isinstance(intent, RenameColumn):
        table = schema.table(intent.table)
        if table is None or table.column(intent.new) is None:
            return f"the schema has no column {intent.table}.{intent.new}"
    if isinstance(intent, DropTable) and schema.table(intent.name) is not None:
        return f"the schema still declares table {intent.name}"
    if isinstance(intent, DropColumn):
        table = schema.table(intent.table)
        if table is None:
            return f"the schema has no table {intent.table}"
        if table.column(intent.column) is not None:
            return f"the schema still declares column {intent.table}.{intent.column}"
    return None


def _with_intents(schema: Schema, directives: list[tuple[int, int, object]], file: str) -> Schema:
    for line, col, intent in directives:
        problem = _intent_problem(schema, intent)
        if problem:
            raise SchemaInputError(file, line, col, f"directive does not fit the schema: {problem}")
    intents = [i for _, _, i in directives]
    return replace(
        schema,
        rename_tables=tuple(i for i in intents if isinstance(i, RenameTable)),
        rename_columns=tuple(i for i in intents if isinstance(i, RenameColumn)),
        drop_tables=tuple(i for i in intents if isinstance(i, DropTable)),
        drop_columns=tuple(i for i in intents if isinstance(i, DropColumn)),
    )
