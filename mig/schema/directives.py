"""The `-- mig:` directives: renames, drops and conversions (and their ways back), read
from a schema.sql's comments, checked against its schema and applied to it; and a
directives file, given with `--directives` for a target that cannot show them (a
database file, SQLAlchemy models), whose lines are the same directives."""

from __future__ import annotations

import sqlite3
from dataclasses import fields, replace
from pathlib import Path

from mig.errors import SchemaInputError
from mig.model import Convert, ConvertBack, DropColumn, DropTable, RenameColumn, RenameTable, Schema
from mig.sql.text import line_col, tokenize, unquote_ident

__all__ = ["apply", "parse_directives", "with_intents"]

_DIRECTIVES = {"rename-table": 2, "rename-column": 3, "drop-table": 1, "drop-column": 2, "convert": 3,
               "convert-back": 3}


def apply(schema: Schema, path: Path, shown: str) -> Schema:
    """`schema` with the directives of `path` as its renames, drops and conversions."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaInputError(shown, 1, 1, f"cannot read the directives file: {exc}") from exc
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            raise SchemaInputError(shown, number, 1, "a directives file holds only `-- mig:` directives "
                                   "and comments, e.g. `-- mig:rename-column TABLE OLD NEW`")
    if schema.rename_tables or schema.rename_columns or schema.drop_tables or schema.drop_columns \
            or schema.conversions or schema.conversions_back:
        raise SchemaInputError(shown, 1, 1, "the schema declares renames, drops or conversions of its own; "
                               "declare them in one place: the schema or the directives file")
    return with_intents(schema, parse_directives(text, shown), shown)


# ---------------------------------------------------------------- directives

def parse_directives(text: str, file: str) -> list[tuple[int, int, object]]:
    """The `-- mig:` directives as (line, column, intent) in file order.

    Only line comments count: `-- mig:` inside a string or a /* */ comment is text.
    """
    found: list[tuple[int, int, object]] = []
    for tok in tokenize(text, keep_space=True):
        body = tok.text[2:].strip() if tok.kind == "comment" and tok.text.startswith("--") else ""
        if not body.startswith("mig:"):
            continue
        line, start_col = line_col(text, tok.start)
        col = start_col + tok.text.index("mig:")
        kind, _, rest = body[4:].partition(" ")
        if kind not in _DIRECTIVES:
            raise SchemaInputError(file, line, col, f"unknown directive `mig:{kind}`; known: "
                                   + ", ".join(f"mig:{k}" for k in _DIRECTIVES))
        if kind in ("convert", "convert-back"):
            found.append((line, col, _convert(rest, (file, line, col), kind)))
            continue
        args = [unquote_ident(t.text) for t in tokenize(rest)]
        if len(args) != _DIRECTIVES[kind] or not all(args):
            raise SchemaInputError(file, line, col, f"`mig:{kind}` takes {_DIRECTIVES[kind]} "
                                   "names (write a name with spaces as \"name\")")
        found.append((line, col, _INTENT[kind](*args, at=(file, line, col))))
    return found


def _convert(rest: str, at: tuple[str, int, int], kind: str) -> Convert | ConvertBack:
    """`TABLE COLUMN EXPRESSION`: two names, then the SQL to the end of the line."""
    toks = tokenize(rest)
    names = [unquote_ident(t.text) for t in toks[:2]]
    expr = rest[toks[2].start:].strip() if len(toks) > 2 else ""
    if len(names) != 2 or not all(names) or not expr:
        example = ("over the old row, e.g. `-- mig:convert item cents CAST(round(price * 100) AS INTEGER)`"
                   if kind == "convert" else "over the new row giving the old column back, e.g. "
                   "`-- mig:convert-back item price cents / 100.0`")
        raise SchemaInputError(*at, f"`mig:{kind}` takes a table, a column and an SQL expression {example}")
    if not sqlite3.complete_statement(f"SELECT {expr};") or ";" in expr:
        raise SchemaInputError(*at, f"`mig:{kind}`: {expr} is not one SQL expression")
    return (Convert if kind == "convert" else ConvertBack)(names[0], names[1], expr, at=at)


_INTENT = {"rename-table": RenameTable, "rename-column": RenameColumn,
           "drop-table": DropTable, "drop-column": DropColumn}


def _intent_problem(schema: Schema, intent: object, earlier: list[object]) -> str | None:
    """Why a directive cannot hold for this schema (or with the directives before it), or None."""
    if isinstance(intent, RenameTable):
        if schema.table(intent.new) is None:
            return f"the schema has no table {intent.new}"
        if intent.old.lower() == intent.new.lower():
            return f"{intent.old} is renamed to itself"
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
    if isinstance(intent, ConvertBack) and schema.table(intent.table) is None:
        return f"the schema has no table {intent.table}"
    if isinstance(intent, Convert):
        table = schema.table(intent.table)
        column = table.column(intent.column) if table is not None else None
        if column is None:
            return f"the schema has no column {intent.table}.{intent.column}"
        if column.generated is not None:
            return f"{intent.table}.{intent.column} is a generated column: SQLite computes it"
    clash = next((e for e in earlier if _conflict(e, intent)), None)
    return f"it contradicts an earlier directive ({_describe(clash)})" if clash else None


def _old_names(intent: object) -> tuple[str, ...]:
    """The old names an intent consumes, as (kind, table, name) keys."""
    if isinstance(intent, RenameTable):
        return (f"t:{intent.old.lower()}",)
    if isinstance(intent, DropTable):
        return (f"t:{intent.name.lower()}",)
    if isinstance(intent, RenameColumn):
        return (f"c:{intent.table.lower()}.{intent.old.lower()}",)
    if isinstance(intent, DropColumn):
        return (f"c:{intent.table.lower()}.{intent.column.lower()}",)
    if isinstance(intent, ConvertBack):  # its own key: one way back per old column
        return (f"b:{intent.table.lower()}.{intent.column.lower()}",)
    return ()


def _new_name(intent: object) -> str | None:
    if isinstance(intent, RenameTable):
        return f"t:{intent.new.lower()}"
    if isinstance(intent, Convert):
        return f"c:{intent.table.lower()}.{intent.column.lower()}"
    if isinstance(intent, RenameColumn):
        return f"c:{intent.table.lower()}.{intent.new.lower()}"
    return None


def _conflict(a: object, b: object) -> bool:
    """One old name declared twice, or two renames (or conversions) onto one new name."""
    if set(_old_names(a)) & set(_old_names(b)):
        return True
    return _new_name(a) is not None and _new_name(a) == _new_name(b)


def _describe(intent: object) -> str:
    kind = {RenameTable: "rename-table", RenameColumn: "rename-column", DropTable: "drop-table",
            DropColumn: "drop-column", Convert: "convert", ConvertBack: "convert-back"}[type(intent)]
    return f"mig:{kind} " + " ".join(str(getattr(intent, f.name)) for f in fields(intent)  # type: ignore[arg-type]
                                     if f.compare)


def with_intents(schema: Schema, directives: list[tuple[int, int, object]], file: str) -> Schema:
    seen: list[object] = []
    for line, col, intent in directives:
        problem = _intent_problem(schema, intent, seen)
        if problem:
            raise SchemaInputError(file, line, col, f"directive does not fit the schema: {problem}")
        seen.append(intent)
    return replace(
        schema,
        rename_tables=tuple(i for i in seen if isinstance(i, RenameTable)),
        rename_columns=tuple(i for i in seen if isinstance(i, RenameColumn)),
        drop_tables=tuple(i for i in seen if isinstance(i, DropTable)),
        drop_columns=tuple(i for i in seen if isinstance(i, DropColumn)),
        conversions=tuple(i for i in seen if isinstance(i, Convert)),
        conversions_back=tuple(i for i in seen if isinstance(i, ConvertBack)),
    )
