"""A target schema read from an SQLite file: what `python manage.py migrate` or
`alembic upgrade head` made on an empty database, or any database whose schema
is the one wanted. Its rows are data, never seed rows; renames and drops come
from a directives file (mig.schema.directives), as no file can show them."""

from __future__ import annotations

from pathlib import Path

from mig.errors import MigError, SchemaInputError
from mig.model import Schema
from mig.sqlite.connect import reading
from mig.sqlite.introspect import introspect

__all__ = ["MAGIC", "is_database", "load"]

MAGIC = b"SQLite format 3\x00"


def is_database(path: Path) -> bool:
    """Whether the file begins as every SQLite database does."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def load(path: Path, shown: str) -> Schema:
    try:
        with reading(path, f"reading the schema of {shown}") as conn:
            return introspect(conn)
    except MigError as exc:
        raise SchemaInputError(shown, 1, 1, str(exc)) from exc
