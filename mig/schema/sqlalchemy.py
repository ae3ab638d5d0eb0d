"""A target schema from SQLAlchemy: `--schema package.module:attribute` names a
`MetaData`, a declarative base (its `metadata`) or a `Table`; the target is
what `create_all` builds on SQLite, read back from an in-memory database.

Importing the module runs the application's code, as a `schema.py` does: only
`plan` and `migrate` do it. The module is looked up from the current directory
first, as `python -m` would."""

from __future__ import annotations

import importlib
import re
import sqlite3
import sys
from typing import Any

from mig.errors import SchemaInputError
from mig.model import Schema
from mig.sqlite.introspect import introspect

__all__ = ["REFERENCE", "is_reference", "load"]

REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def is_reference(text: str) -> bool:
    return bool(REFERENCE.match(text))


def load(reference: str) -> Schema:
    module_name, _, attr = reference.partition(":")
    metadata = _metadata(_attribute(_module(module_name, reference), attr, reference), reference)
    try:
        import sqlalchemy
    except ImportError as exc:  # pragma: no cover - the module above imported it already
        raise SchemaInputError(reference, 1, 1, "SQLAlchemy is not installed: pip install 'mig[sqlalchemy]'") from exc
    conn = sqlite3.connect(":memory:", isolation_level=None)
    engine = sqlalchemy.create_engine("sqlite://", creator=lambda: conn, poolclass=sqlalchemy.pool.StaticPool)
    try:
        metadata.create_all(engine)
        return introspect(conn)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise SchemaInputError(reference, 1, 1, f"create_all on SQLite failed: {exc}") from exc
    finally:
        engine.dispose()
        conn.close()


def _module(name: str, reference: str) -> Any:
    sys.path.insert(0, "")  # the current directory, as `python -m` looks there first
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise SchemaInputError(reference, 1, 1, f"cannot import {name}: {exc}; run mig from the directory "
                               "the application is imported from, or set PYTHONPATH") from exc
    except Exception as exc:  # the application's own code failed while importing
        raise SchemaInputError(reference, 1, 1, f"importing {name} raised {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove("")


def _attribute(module: Any, attr: str, reference: str) -> Any:
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SchemaInputError(reference, 1, 1, f"{module.__name__} has no attribute {attr}")
        obj = getattr(obj, part)
    return obj


def _metadata(obj: Any, reference: str) -> Any:
    """The MetaData to create: the object itself, a declarative base's, or a Table's."""
    for candidate in (obj, getattr(obj, "metadata", None)):
        if candidate is not None and callable(getattr(candidate, "create_all", None)) \
                and hasattr(candidate, "sorted_tables"):
            return candidate
    raise SchemaInputError(reference, 1, 1, f"{reference} is not an SQLAlchemy MetaData, declarative "
                           "base or Table; name one of those")
