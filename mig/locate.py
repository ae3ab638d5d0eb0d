"""Every rule that finds the schema, the old and the new database (docs/runbook.md, "Where mig looks for files"), in one module.

A project directory holds one schema file and databases named
`<dir-name>-<16 hex>.sqlite`; the hex is the schema hash of the schema that
built them. plan and migrate take the target's name from the schema's hash
and the one other database of that shape as the source. The commands after
migrate never load the schema (a `schema.py` is code, and it may have been
edited since): they follow the paths migrate recorded in the two databases
themselves. Explicit paths always win. Pure filesystem reads: nothing is
created here.

Only what a rule reads is imported, and only when it runs (no schema front end
when the paths are given): the runbook's `mig drain` then `mig cutover` holds
one interpreter start-up inside the write-unavailability window.
tests/test_cli_startup.py checks which modules a command loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from mig.errors import NotFound, PathInference, WrongState

if TYPE_CHECKING:
    from mig.model import Schema

__all__ = ["Inputs", "Pair", "SCHEMA_NAMES", "load", "target", "source", "pair", "new_of", "old_of", "abort_pair", "init_paths",
           "find_schema", "target_path", "old_candidates", "infer_old"]

SCHEMA_NAMES = ("schema.py", "schema.sql", "schema.fsx")

Warn = Callable[[str], None]


def find_schema(directory: Path, flag: str = "--schema") -> Path:
    """The one schema file; `flag` is what the command lets the operator pass instead."""
    found = [directory.resolve() / n for n in SCHEMA_NAMES if (directory / n).is_file()]
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


# ---------------------------------------------------------------- what a command is given

@dataclass(frozen=True)
class Inputs:
    dir: Path
    old: Path | None = None
    new: Path | None = None
    schema: str | Path | None = None  # kept as given: errors name the file as the operator wrote it
    directives: Path | None = None  # renames and drops for a target that cannot show them


def _existing(path: Path | None, what: str = "database") -> Path | None:
    if path is not None and not path.exists():
        raise NotFound(f"{what} {path} does not exist")
    if path is not None and not path.is_file():
        raise NotFound(f"{what} {path} is not a file")
    return path


def _check_dir(inputs: Inputs) -> None:
    if not inputs.dir.is_dir():
        raise NotFound(f"project directory {inputs.dir} does not exist")


def load(inputs: Inputs, warn: Warn | None, flag: str = "--schema") -> tuple[str | Path, Schema]:
    from mig.schema import load_schema

    _check_dir(inputs)
    path = inputs.schema or find_schema(inputs.dir, flag)
    return path, load_schema(path, warn=warn, directives=inputs.directives)


def target(inputs: Inputs, schema: Schema) -> Path:
    """The new database the schema names: `<dir>/<dir-name>-<schema hash>.sqlite`."""
    from mig.model import schema_hash

    return target_path(inputs.dir, schema_hash(schema))


def _same_file(old: Path, new: Path) -> None:
    if old.exists() and new.exists() and old.resolve() == new.resolve():
        raise PathInference(f"the old and the new database are the same file ({old}); "
                            "the new database must be a new path")


def source(inputs: Inputs, new: Path) -> Path | None:
    """The old database plan and migrate read: None when the target exists and no
    candidate does (migrate then has nothing to do, docs/runbook.md, "Where mig looks for files")."""
    if inputs.old is not None:
        old = _existing(inputs.old)
        if inputs.new is None and old is not None and old.resolve() == new.resolve():
            return old  # named by the schema's own hash: it has the schema already (nothing to do)
    elif new.exists() and not old_candidates(inputs.dir, new):
        # The one database here bears the schema's hash: a target migrate made, or, if
        # no migration is recorded in it, the database that has this schema already.
        return new if inputs.new is None and _recorded_link(new) is None else None
    else:
        old = infer_old(inputs.dir, new)
    if old is not None:
        _same_file(old, new)
    return old


# ---------------------------------------------------------------- the pair after migrate

def _recorded_link(path: Path) -> tuple[str, Path] | None:
    """The link migrate recorded in `path` (mig.phases.common.state.recorded_link)."""
    from mig.phases.common.state import recorded_link

    return recorded_link(path)


@dataclass(frozen=True)
class Pair:
    old: Path | None
    new: Path | None


def _follow(path: Path | None) -> Path | None:
    """The other database of the migration `path` belongs to, if migrate recorded it and it exists."""
    link = _recorded_link(path) if path is not None else None
    return link[1] if link is not None and link[1].exists() else None


def pair(inputs: Inputs) -> Pair:
    """Old and new database for the commands after migrate (either may be None).

    Explicit paths win. Without them, what migrate recorded in the databases of
    the directory, never the schema: these commands do not run a `schema.py`
    (only plan and migrate need the schema), and the schema may have been edited
    since. Before migrate, the one database there is the old one.
    """
    old, new = _existing(inputs.old), _existing(inputs.new)
    if old is not None or new is not None:
        return Pair(old, new)
    _check_dir(inputs)
    return _recorded_pair(inputs.dir)


def _recorded_pair(directory: Path) -> Pair:
    """The one migration whose two databases point at each other in this directory; or the
    one database whose partner is gone (retired or moved); or, before any migration, the
    one database there."""
    pairs: set[tuple[Path, Path]] = set()
    halves: list[Pair] = []
    plain: list[Path] = []
    candidates = old_candidates(directory)
    for path in candidates:
        link = _recorded_link(path)
        if link is None:
            plain.append(path)
            continue
        role, other = link
        if not other.exists():
            halves.append(Pair(path, None) if role == "old" else Pair(None, path))
        else:
            pairs.add((path.resolve(), other.resolve()) if role == "old" else (other.resolve(), path.resolve()))
    if len(pairs) == 1:
        old, new = next(iter(pairs))
        return Pair(old, new)
    if pairs:
        names = "; ".join(f"{o.name} -> {n.name}" for o, n in sorted(pairs))
        raise PathInference(f"several migrations in {directory} ({names}); pass --old/--new")
    if len(halves) == 1:
        return halves[0]
    if not halves and len(plain) == 1:
        return Pair(plain[0], None)
    shape = f"{directory.resolve().name}-<16 hex>.sqlite"
    if not candidates:
        raise PathInference(f"no database found: expected a {shape} in {directory}; pass --old/--new")
    raise PathInference(f"no migration recorded in {directory} tells which of "
                        f"{', '.join(p.name for p in candidates)} to use; pass --old/--new")


def _need(path: Path | None, what: str, flag: str) -> Path:
    if path is None:
        raise PathInference(f"cannot tell which {what} to use; pass {flag}")
    return path


def new_of(found: Pair) -> Path:
    """The new database drain, cutover and verify work on; before migrate, or with
    the new file gone, a refusal that says so (runbook: verify command order)."""
    from mig.sqlite.connect import open_ro

    if found.new is not None:
        return found.new
    if found.old is None:
        return _need(None, "new database", "--new")
    open_ro(found.old).close()  # an unreadable file says so, not "no marker"
    link = _recorded_link(found.old)
    if link is None:
        raise WrongState(f"no migration in progress: {found.old} has no migration marker; "
                         "run `mig migrate` first")
    if link[0] == "old" and not link[1].exists():
        raise NotFound(f"{found.old} is being migrated to {link[1]}, which does not exist; pass --new "
                       "with its current location (only if it is lost and was never cut over: "
                       "`mig abort` and `mig migrate` again)")
    return _need(link[1] if link[1].exists() else None, "new database", "--new")


def old_of(found: Pair) -> Path:
    """The old database cleanup-old works on: the one found, or the one the new database names."""
    return _need(found.old or _follow(found.new), "old database", "--old")


def abort_pair(inputs: Inputs) -> Pair:
    """The databases abort undoes: with --old alone, its recorded new database (if it is
    still being migrated to); with --new, that file even when the old one is not given;
    else the pair the directory holds."""
    if inputs.old is not None and inputs.new is None:
        old = _existing(inputs.old)
        link = _recorded_link(old) if old is not None else None
        return Pair(old, link[1] if link is not None and link[0] == "old" else None)
    if inputs.new is not None:
        old = _existing(inputs.old)
        if old is None and not inputs.new.exists():
            raise NotFound(f"database {inputs.new} does not exist (nothing to abort there, or it is "
                           "removed already); pass --old to undo the capture on the old database")
        if old is not None:
            _same_file(old, inputs.new)
        return Pair(old, inputs.new)
    found = pair(inputs)
    if found.old is None and found.new is None:
        raise WrongState("there is no migration to abort")
    return found


def init_paths(inputs: Inputs, fmt: str) -> tuple[Path, Path]:
    """The database `mig init` reads (--old, else the one `<dir>-<16 hex>.sqlite`) and the
    schema file it writes (--schema, else `<dir>/schema.<fmt>`, refused beside another
    schema file, which would leave the directory with two)."""
    _check_dir(inputs)
    old = _existing(inputs.old) or infer_old(inputs.dir, None)
    if inputs.schema is not None:
        return old, Path(inputs.schema)
    present = [n for n in SCHEMA_NAMES if (inputs.dir / n).exists()]
    if present:
        raise PathInference(f"{inputs.dir} has {', '.join(present)} already; mig init never overwrites "
                            "a schema: move it away, or pass --schema with another path")
    return old, inputs.dir / f"schema.{fmt}"
