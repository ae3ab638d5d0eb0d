"""A database's schema written as a schema file: what `mig init` starts a project with.

The text is checked before it is written: read back by its own front end, it
must give the very schema the database has (the same schema hash), so that
`mig plan` right after `mig init` has nothing to do. A schema the format
cannot say exactly is refused, naming what differs, rather than written
approximately.
"""

from __future__ import annotations

import os
from pathlib import Path

from mig.ddl import create_statements
from mig.errors import SchemaInputError, WrongState
from mig.model import Schema, schema_hash

__all__ = ["FORMATS", "render", "write_new"]

FORMATS = ("sql", "py", "fsx")


def render(schema: Schema, fmt: str, source: str) -> str:
    """The schema file's text in `fmt`, checked to read back as `schema`."""
    if fmt not in FORMATS:
        raise WrongState(f"mig init writes {', '.join(FORMATS)} schema files, not {fmt}")
    if fmt == "sql":
        text = _sql(schema, source)
    else:
        from mig.schema import export_dsl

        text = (export_dsl.python_text if fmt == "py" else export_dsl.fsx_text)(schema, source)
    _check_reads_back(schema, text, fmt)
    return text


def _sql(schema: Schema, source: str) -> str:
    head = [f"-- The schema of {source}, written by `mig init`.",
            "-- This file is the target schema: change it, then `mig plan` shows the migration.",
            "-- A rename or a drop is declared with a directive, e.g.",
            "--   -- mig:rename-column TABLE OLD NEW",
            ""]
    return "\n".join(head) + "\n" + "\n\n".join(f"{sql};" for sql in create_statements(schema)) + "\n"


def _reads_as(text: str, fmt: str) -> Schema:
    if fmt == "py":
        from mig.schema import python

        return python.loads(text, "schema.py")
    if fmt == "fsx":
        from mig.schema import fsx

        return fsx.loads(text, "schema.fsx")
    from mig.schema.sql import loads

    return loads(text, "schema.sql")


def _check_reads_back(schema: Schema, text: str, fmt: str) -> None:
    try:
        back = _reads_as(text, fmt)
    except SchemaInputError as exc:
        raise WrongState(f"mig cannot write this database's schema as {fmt}: read back, {exc}") from exc
    if schema_hash(back) != schema_hash(schema):
        differ = sorted({t.name for t in back.tables} ^ {t.name for t in schema.tables}
                        | {t.name for t in back.tables if t != schema.table(t.name)})
        what = f"it reads back differently{': ' + ', '.join(differ) if differ else ''}"
        advice = "please report it" if fmt == "sql" else "use --format sql, which says every SQLite schema"
        raise WrongState(f"mig cannot write this database's schema exactly as {fmt} ({what}); {advice}")


def write_new(path: Path, text: str) -> None:
    """Create `path` with `text`; never over an existing file."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise WrongState(f"{path} exists; mig init never overwrites a file: move it away, "
                         "or pass --schema with another path") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
