"""Schema front ends: each turns one input syntax into the one schema model."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from mig.errors import NotFound, SchemaInputError
from mig.model import Schema

__all__ = ["load_schema"]


def load_schema(path: str | Path, warn: Callable[[str], None] | None = None) -> Schema:
    """Load `path` by its suffix: .fsx, .py or .sql; errors name it as given."""
    p = Path(path)
    shown = str(path)
    if not p.is_file():
        raise NotFound(f"schema file {shown} does not exist")
    return _not_reserved(_load(p, shown, warn), shown)


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
    raise SchemaInputError(shown, 1, 1, "unknown schema format: use a .fsx, .py or .sql file")


def _not_reserved(schema: Schema, shown: str) -> Schema:
    """mig's bookkeeping tables and SQLite's own names cannot be a user's tables."""
    from mig.introspect import MIG_TABLES

    for name in [t.name for t in schema.tables] + [v.name for v in schema.views]:
        if name.lower() in MIG_TABLES or name.lower().startswith("sqlite_"):
            raise SchemaInputError(shown, 1, 1, f"the name {name} is reserved for "
                                   f"{'SQLite' if name.lower().startswith('sqlite_') else 'mig'}; "
                                   "choose another name")
    return schema
