"""Schema front ends: each turns one input syntax into the one schema model."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from mig.errors import NotFound, SchemaInputError
from mig.model import Schema

__all__ = ["load_schema"]


def load_schema(path: str | Path, warn: Callable[[str], None] | None = None) -> Schema:
    """Load `path` by its suffix: .fsx, .py or .sql."""
    p = Path(path)
    shown = str(path)
    if not p.is_file():
        raise NotFound(f"schema file {shown} does not exist")
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
