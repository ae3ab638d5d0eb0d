"""`schema.fsx`: the F# schema DSL, read by mig's own parser (docs/fsx.md).

The original tool ran the script under .NET and read its attributes by
reflection. mig never executes a schema: it lexes and parses the small F#
subset of the contract (``fsx.lexer`` → ``fsx.parser``) into declarations
(``mig.schema.decl``) and gives them meaning with the rules shared with the
Python DSL (``mig.schema.translate``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from mig.schema.decl import Pos, Script, depth_guard, schema_error
from mig.schema.fsx.parser import parse_script

if TYPE_CHECKING:  # pragma: no cover
    from mig.model import Schema

__all__ = ["parse", "load", "loads"]


def parse(text: str, file: str) -> Script:
    """Declarations of `text`; `file` is the name errors and warnings start with."""
    with depth_guard(file):
        return parse_script(text, file)


def load(path: str | Path, display_name: str | None = None,
         warn: Callable[[str], None] | None = None) -> Schema:
    """Read, parse and translate a schema.fsx file.

    Warnings (``#load``) go to ``warn`` (stderr when not given), and only
    once the whole file has been read without error, so that a failing load
    writes exactly one line: its error.
    """
    name = display_name or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise schema_error(Pos(name, 1, 1), f"cannot read schema file: {exc}") from exc
    return loads(text, name, warn)


def loads(text: str, file: str = "schema.fsx", warn: Callable[[str], None] | None = None) -> Schema:
    """Parse and translate the text of a schema.fsx; warnings as for `load`."""
    script = parse(text, file)
    from mig.schema.translate import translate

    schema = translate(script)
    emit = warn or _to_stderr
    for message in script.warnings:
        emit(message)
    return schema


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)
