"""Path inference for the runbook's "default no-flag mode" (DESIGN.md §2).

A project directory holds one schema file and databases named
`<dir-name>-<16 hex>.sqlite`; the hex is the schema hash of the schema that
built them. The target's name comes from the schema's hash; the source is
the one other database of that shape. Pure filesystem reads: nothing is
created here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from mig.errors import NotFound, PathInference, WrongState

__all__ = ["SCHEMA_NAMES", "find_schema", "target_path", "old_candidates", "infer_old", "Paths",
           "check_creatable"]

SCHEMA_NAMES = ("schema.py", "schema.sql", "schema.fsx")


@dataclass(frozen=True)
class Paths:
    dir: Path
    old: Path | None = None
    new: Path | None = None
    schema: Path | None = None


def find_schema(directory: Path, flag: str = "--schema") -> Path:
    """The one schema file; `flag` is what the command lets the operator pass instead."""
    found = [directory / n for n in SCHEMA_NAMES if (directory / n).is_file()]
    if len(found) == 1:
        return found[0]
    if not found:
        raise PathInference(f"no schema file in {directory}: expected one of "
                            f"{', '.join(SCHEMA_NAMES)}; pass {flag}")
    raise PathInference(f"several schema files in {directory}: "
                        f"{', '.join(p.name for p in found)}; keep one or pass {flag}")


def target_path(directory: Path, schema_hash: str) -> Path:
    """Absolute, like every inferred path: one rule for what the outputs print (a path the
    operator typed is printed as typed; one mig found is absolute, as recorded ones are)."""
    return directory.resolve() / f"{directory.resolve().name}-{schema_hash}.sqlite"


def old_candidates(directory: Path, exclude: Path | None = None) -> list[Path]:
    name = re.escape(directory.resolve().name)
    shape = re.compile(rf"^{name}-[0-9a-f]{{16}}\.sqlite$")
    if not directory.is_dir():
        raise NotFound(f"project directory {directory} does not exist")
    out = sorted(p for p in directory.resolve().iterdir() if shape.match(p.name) and p.is_file())
    if exclude is not None:
        out = [p for p in out if p.resolve() != exclude.resolve()]
    return out


def infer_old(directory: Path, target: Path | None) -> Path:
    """Exactly one `<dir>-<16 hex>.sqlite` other than the target, else an error."""
    found = old_candidates(directory, target)
    if len(found) == 1:
        return found[0]
    shape = f"{directory.resolve().name}-<16 hex>.sqlite"
    if not found:
        raise PathInference(f"no old database found: expected one {shape} in {directory}"
                            + (f" other than the target {target.name}" if target else "")
                            + "; pass --old")
    raise PathInference(f"several old database candidates in {directory}: "
                        f"{', '.join(p.name for p in found)}; pass --old to choose one")


def check_creatable(path: Path) -> None:
    """A new database can be made at `path`. Checked before migrate changes anything:
    found later, the old database would already be recording for a target that
    cannot exist (its lock file is the first thing created beside it)."""
    if path.is_dir():
        raise WrongState(f"{path} is a directory; pass --new with the path of a database file to create")
    if path.is_symlink() and not path.exists():
        raise WrongState(f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; "
                         "remove the link or pass another --new")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise WrongState(f"{parent} is a file, not a directory; pass another --new")
    if not parent.is_dir():
        raise NotFound(f"directory {parent} does not exist; create it or pass another --new")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise WrongState(f"cannot create files in {parent} (no write permission); "
                         "run mig as a user who can, or pass another --new")
