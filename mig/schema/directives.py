"""Renames, drops and conversions for a target that cannot show them (a database file, SQLAlchemy
models): a directives file, given with `--directives`, whose lines are the same
`-- mig:` directives a schema.sql holds (comments and blank lines aside)."""

from __future__ import annotations

from pathlib import Path

from mig.errors import SchemaInputError
from mig.model import Schema
from mig.schema.sql import parse_directives, with_intents

__all__ = ["apply"]


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
            or schema.conversions:
        raise SchemaInputError(shown, 1, 1, "the schema declares renames, drops or conversions of its own; "
                               "declare them in one place: the schema or the directives file")
    return with_intents(schema, parse_directives(text, shown), shown)
