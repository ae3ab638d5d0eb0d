"""`schema.py`: the schema DSL in Python (mig.dsl), read by running the file.

The file is compiled from its text and run in a fresh namespace — never
imported — so nothing is written next to it (no `__pycache__`) and it cannot
shadow or be shadowed by an installed module. What it declares is turned
into the declaration IR by `pydecl` and given meaning by the same translator
as `schema.fsx`. Any error inside the user's file (SyntaxError, NameError, …)
is reported as `file:line:col: message`, one line, no traceback.
"""

from __future__ import annotations

import ast
import builtins
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from mig import dsl
from mig.errors import SchemaInputError
from mig.model import Schema
from mig.schema import decl
from mig.schema.pydecl import MODULE, Source, script_of
from mig.schema.translate import translate

__all__ = ["load", "loads", "read_script"]


def load(path: str | Path, display_name: str | None = None) -> Schema:
    name = display_name or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise decl.schema_error(decl.Pos(name, 1, 1), f"cannot read schema file: {exc}") from exc
    return loads(text, name)


def loads(source: str, file: str = "schema.py") -> Schema:
    return translate(read_script(source, file))


def read_script(source: str, file: str = "schema.py") -> decl.Script:
    """The declarations a schema.py makes, positions pointing into `source`."""
    with decl.depth_guard(file):
        tree = _parse(source, file)
        namespace = _run(tree, source, file)
        return script_of(tree, namespace, source, file)


def _parse(source: str, file: str) -> ast.Module:
    try:
        return ast.parse(source, filename=file)
    except SyntaxError as exc:
        raise decl.schema_error(decl.Pos(file, exc.lineno or 1, exc.offset or 1),
                                f"{type(exc).__name__}: {exc.msg}") from None


def _build_class(func: Any, name: str, *bases: Any, **kwargs: Any) -> Any:
    """Every plain top-level class of the schema file is a record: give it keyword construction."""
    cls = builtins.__build_class__(func, name, *bases, **kwargs)
    if type(cls) is type and cls.__qualname__ == name and cls.__bases__ == (object,):
        dsl.make_record(cls)
    return cls


def _run(tree: ast.Module, source: str, file: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {
        "__name__": MODULE,
        "__file__": file,
        "__builtins__": {**builtins.__dict__, "__build_class__": _build_class},
    }
    code = compile(tree, file, "exec", dont_inherit=True)
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # whatever the schema imports, write nothing to disk
    try:
        exec(code, namespace)
    except SchemaInputError:
        raise
    except KeyboardInterrupt:
        raise  # a Ctrl-C while the file runs is the operator's, not the schema's
    except BaseException as exc:  # SystemExit and a schema's own BaseException subclasses too
        line, col = _where(exc.__traceback__, source, file)
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if isinstance(exc, NameError) and exc.name:
            message = f"{exc.name} is not declared in this file ({message})"
        raise decl.schema_error(decl.Pos(file, line, col), " ".join(message.split())) from None
    finally:
        sys.dont_write_bytecode = saved
    return namespace


def _where(tb: TracebackType | None, source: str, file: str) -> tuple[int, int]:
    """Line and column (code points, 1-based) of the innermost frame in the schema file."""
    line, col = 1, 1
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == file:
            line = tb.tb_lineno
            positions = list(code.co_positions())
            at = positions[tb.tb_lasti // 2] if tb.tb_lasti // 2 < len(positions) else None
            col = Source(source, file).char_col(line, at[2]) if at and at[0] == line and at[2] is not None else 1
        tb = tb.tb_next
    return line, col

