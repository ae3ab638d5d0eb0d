"""Schema front ends: each turns one input syntax into the one schema model."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from mig.errors import NotFound, SchemaInputError
from mig.model import Schema

__all__ = ["load_schema"]


def load_schema(path: str | Path, warn: Callable[[str], None] | None = None,
                directives: Path | None = None) -> Schema:
    """Load the target schema: a .fsx, .py or .sql file by its suffix, an SQLite database
    file by its first bytes, or `package.module:attribute` naming SQLAlchemy metadata;
    with the renames and drops of a directives file. Errors name each file as given."""
    shown = str(path)
    schema = _not_reserved(_load_any(path, shown, warn), shown)
    if directives is not None:
        from mig.schema import directives as directives_file

        if not directives.is_file():
            raise NotFound(f"directives file {directives} does not exist")
        schema = _not_reserved(directives_file.apply(schema, directives, str(directives)), shown)
    if not str(path).lower().endswith(".sql"):  # schema.sql was built by SQLite already
        _builds(schema, shown)
    return schema


def _load_any(path: str | Path, shown: str, warn: Callable[[str], None] | None) -> Schema:
    p = Path(path)
    if not p.exists() and isinstance(path, str):
        from mig.schema import sqlalchemy

        if sqlalchemy.is_reference(path):
            return sqlalchemy.load(path)
    if p.is_dir():
        raise NotFound(f"schema file {shown} is a directory; pass the schema file itself")
    if not p.is_file():
        raise NotFound(f"schema file {shown} does not exist")
    return _load(p, shown, warn)


def _load(p: Path, shown: str, warn: Callable[[str], None] | None) -> Schema:
    suffix = p.suffix.lower()
    if suffix == ".sql":
        from mig.schema import sql

        return sql.load(p, shown)
    if suffix == ".py":
        from mig.schema import python

        return python.load(p, shown)
    if suffix == ".fsx":
        from mig.schema import fsx

        return fsx.load(p, shown, warn=warn)
    from mig.schema import database

    if database.is_database(p):
        return database.load(p, shown)
    raise SchemaInputError(shown, 1, 1, "unknown schema format: use a .fsx, .py or .sql file, an SQLite "
                           "database, or package.module:attribute naming SQLAlchemy metadata")


def _builds(schema: Schema, shown: str) -> None:
    """Build the model in memory, so SQL that SQLite rejects (a DefaultExpr, a ViewSql)
    is a schema error now, before `mig migrate` changes anything."""
    import sqlite3

    from mig.ddl import create_statements, seed_statements
    from mig.schema.sql import broken_view

    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for sql in create_statements(schema):
            try:
                conn.execute(sql)
            except sqlite3.Error as exc:
                raise SchemaInputError(shown, 1, 1, f"SQLite rejects the schema: {exc}, in: "
                                       f"{' '.join(sql.split())[:200]}") from exc
        broken = broken_view(conn)
        if broken is not None:
            raise SchemaInputError(shown, 1, 1, f"SQLite cannot read view {broken[0]}: {broken[1]}")
        for sql, params in seed_statements(schema):
            try:
                conn.execute(sql, params)
            except sqlite3.Error as exc:
                raise SchemaInputError(shown, 1, 1, f"SQLite rejects a seed row: {exc}") from exc
    finally:
        conn.close()


def _not_reserved(schema: Schema, shown: str) -> Schema:
    """mig's bookkeeping tables and SQLite's own names cannot be a user's tables."""
    from mig.bookkeeping import TABLES as MIG_TABLES

    for name in [t.name for t in schema.tables] + [v.name for v in schema.views]:
        if name.lower() in MIG_TABLES or name.lower().startswith("sqlite_"):
            raise SchemaInputError(shown, 1, 1, f"the name {name} is reserved for "
                                   f"{'SQLite' if name.lower().startswith('sqlite_') else 'mig'}; "
                                   "choose another name")
    return schema
