"""One function per command: resolve paths as DESIGN.md §2 says, call the phase, return its report.

The CLI calls these and only renders; tests call them directly. Path
inference lives here and nowhere else, so every command infers the same way:
plan and migrate take the target from the schema's hash and the one other
`<dir>-<16 hex>.sqlite` as the source. The commands after migrate never load
the schema (a `schema.py` is code, and it may have been edited since): they
follow the paths migrate recorded in the two databases themselves.

Each command imports its phase only when it runs, and path inference only
what it reads (no schema front end when the paths are given, and only the
one the schema is written in when they are not): the runbook's `mig drain`
then `mig cutover` holds one interpreter start-up inside the
write-unavailability window. tests/test_cli_startup.py checks which modules
a command loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from mig.errors import MigError, NotFound, PathInference, SchemaInputError, WrongState, leaves_on_failure
from mig.paths import check_creatable, find_schema, infer_old, old_candidates, target_path

if TYPE_CHECKING:
    from mig.model import Schema
    from mig.phases import cleanup, cutover, drain, migrate, status
    from mig.phases.safety import Progress
    from mig.plan.ops import Plan

__all__ = [
    "Inputs",
    "PlanReport",
    "plan_command",
    "migrate_command",
    "status_command",
    "drain_command",
    "cutover_command",
    "cleanup_old_command",
    "abort_command",
    "verify_command",
]

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Inputs:
    dir: Path
    old: Path | None = None
    new: Path | None = None
    schema: str | Path | None = None  # kept as given: errors name the file as the operator wrote it


def _existing(path: Path | None, what: str = "database") -> Path | None:
    if path is not None and not path.exists():
        raise NotFound(f"{what} {path} does not exist")
    if path is not None and not path.is_file():
        raise NotFound(f"{what} {path} is not a file")
    return path


def _check_dir(inputs: Inputs) -> None:
    if not inputs.dir.is_dir():
        raise NotFound(f"project directory {inputs.dir} does not exist")


def _load(inputs: Inputs, warn: Warn | None, flag: str = "--schema") -> tuple[str | Path, Schema]:
    from mig.schema import load_schema

    _check_dir(inputs)
    path = inputs.schema or find_schema(inputs.dir, flag)
    return path, load_schema(path, warn=warn)


def _target(inputs: Inputs, schema: Schema) -> Path:
    """The new database the schema names: `<dir>/<dir-name>-<schema hash>.sqlite`."""
    from mig.model import schema_hash

    return target_path(inputs.dir, schema_hash(schema))


def _same_file(old: Path, new: Path) -> None:
    if old.exists() and new.exists() and old.resolve() == new.resolve():
        raise PathInference(f"the old and the new database are the same file ({old}); "
                            "the new database must be a new path")


@dataclass
class PlanReport:
    old: str
    new: str
    schema: str
    schema_hash: str
    plan: Plan
    statements: dict[str, list[str]]  # per table, the copy and replay SQL migrate and drain run
    action: str = "migrated"  # what migrate would do: as MigrateReport.action
    message: str = ""  # why it would not copy, when it would not (the plan is then empty)
    json_properties = ("refused", "copy_order", "created_tables", "renamed_tables", "dropped_tables")

    @property
    def refused(self) -> bool:
        return bool(self.plan.refusals)

    @property
    def copy_order(self) -> list[str]:
        return [t.target for t in self.plan.tables]

    @property
    def created_tables(self) -> list[str]:
        return [t.target for t in self.plan.tables if t.how == "create"]

    @property
    def renamed_tables(self) -> dict[str, str]:
        return {t.target: t.source or "" for t in self.plan.tables if t.how == "renamed"}

    @property
    def dropped_tables(self) -> list[str]:
        return list(self.plan.dropped_tables)


def plan_command(inputs: Inputs, warn: Warn | None = None) -> PlanReport:
    """What migrate would do with the same inputs: its refusals, or the plan it would copy by."""
    from mig.model import schema_hash
    from mig.phases import migrate, precheck
    from mig.plan.ops import Plan
    from mig.plan.statements import plan_statements

    schema_path, schema = _load(inputs, warn)
    new = inputs.new or _target(inputs, schema)
    old = _source(inputs, new)
    action, message = precheck.preview(old, new)
    if message:  # migrate would not plan: nothing to do, or a copy to resume
        empty = Plan(schema_hash(schema), ())
        return PlanReport(str(old or "(none)"), str(new), str(schema_path), empty.schema_hash, empty, {},
                          action, message)
    assert old is not None
    if not new.is_file():
        check_creatable(new)
    _, plan = migrate.make_plan(old, schema)
    return PlanReport(str(old), str(new), str(schema_path), plan.schema_hash, plan,
                      plan_statements(plan))


def migrate_command(inputs: Inputs, warn: Warn | None = None,
                    progress: Progress | None = None) -> migrate.MigrateReport:
    from mig.phases import migrate

    schema_path, schema = _load(inputs, warn)
    new = inputs.new or _target(inputs, schema)
    return migrate.migrate(_source(inputs, new), new, schema, Path(schema_path), progress)


def _source(inputs: Inputs, new: Path) -> Path | None:
    """The old database plan and migrate read: None when the target exists and no
    candidate does (migrate then has nothing to do, DESIGN.md §2)."""
    if inputs.old is not None:
        old = _existing(inputs.old)
    elif new.exists() and not old_candidates(inputs.dir, new):
        return None
    else:
        old = infer_old(inputs.dir, new)
    if old is not None:
        _same_file(old, new)
    return old


# ---------------------------------------------------------------- the pair after migrate

def _recorded_link(path: Path) -> tuple[str, Path] | None:
    """The link migrate recorded in `path` (mig.phases.state.recorded_link)."""
    from mig.phases.state import recorded_link

    return recorded_link(path)


@dataclass(frozen=True)
class _Pair:
    old: Path | None
    new: Path | None


def _follow(path: Path | None) -> Path | None:
    """The other database of the migration `path` belongs to, if migrate recorded it and it exists."""
    link = _recorded_link(path) if path is not None else None
    return link[1] if link is not None and link[1].exists() else None


def _pair(inputs: Inputs) -> _Pair:
    """Old and new database for the commands after migrate (either may be None).

    Explicit paths win. Without them, what migrate recorded in the databases of
    the directory, never the schema: these commands do not run a `schema.py`
    (only plan and migrate need the schema), and the schema may have been edited
    since. Before migrate, the one database there is the old one.
    """
    old, new = _existing(inputs.old), _existing(inputs.new)
    if old is not None or new is not None:
        return _Pair(old, new)
    _check_dir(inputs)
    return _recorded_pair(inputs.dir)


def _recorded_pair(directory: Path) -> _Pair:
    """The one migration whose two databases point at each other in this directory; or the
    one database whose partner is gone (retired or moved); or, before any migration, the
    one database there."""
    pairs: set[tuple[Path, Path]] = set()
    halves: list[_Pair] = []
    plain: list[Path] = []
    candidates = old_candidates(directory)
    for path in candidates:
        link = _recorded_link(path)
        if link is None:
            plain.append(path)
            continue
        role, other = link
        if not other.exists():
            halves.append(_Pair(path, None) if role == "old" else _Pair(None, path))
        else:
            pairs.add((path.resolve(), other.resolve()) if role == "old" else (other.resolve(), path.resolve()))
    if len(pairs) == 1:
        old, new = next(iter(pairs))
        return _Pair(old, new)
    if pairs:
        names = "; ".join(f"{o.name} -> {n.name}" for o, n in sorted(pairs))
        raise PathInference(f"several migrations in {directory} ({names}); pass --old/--new")
    if len(halves) == 1:
        return halves[0]
    if not halves and len(plain) == 1:
        return _Pair(plain[0], None)
    shape = f"{directory.resolve().name}-<16 hex>.sqlite"
    if not candidates:
        raise PathInference(f"no database found: expected a {shape} in {directory}; pass --old/--new")
    raise PathInference(f"no migration recorded in {directory} tells which of "
                        f"{', '.join(p.name for p in candidates)} to use; pass --old/--new")


# ---------------------------------------------------------------- the commands after migrate

def status_command(inputs: Inputs) -> status.StatusReport:
    from mig.phases import status

    pair = _pair(inputs)
    explicit = inputs.old is not None or inputs.new is not None
    return status.status(pair.old, pair.new, follow_links=explicit)


def _need(path: Path | None, what: str, flag: str) -> Path:
    if path is None:
        raise PathInference(f"cannot tell which {what} to use; pass {flag}")
    return path


def _new_of(pair: _Pair) -> Path:
    """The new database drain, cutover and verify work on; before migrate, or with
    the new file gone, a refusal that says so (runbook: verify command order)."""
    from mig.db import open_ro

    if pair.new is not None:
        return pair.new
    if pair.old is None:
        return _need(None, "new database", "--new")
    open_ro(pair.old).close()  # an unreadable file says so, not "no marker"
    link = _recorded_link(pair.old)
    if link is None:
        raise WrongState(f"no migration in progress: {pair.old} has no migration marker; "
                         "run `mig migrate` first")
    if link[0] == "old" and not link[1].exists():
        raise NotFound(f"{pair.old} is being migrated to {link[1]}, which does not exist; pass --new "
                       "with its current location (only if it is lost and was never cut over: "
                       "`mig abort` and `mig migrate` again)")
    return _need(link[1] if link[1].exists() else None, "new database", "--new")


@dataclass
class SwitchReport:
    """`mig drain --cutover`: both reports, from one process."""

    drain: drain.DrainReport
    cutover: cutover.CutoverReport


def drain_command(inputs: Inputs, progress: Progress | None = None,
                  then_cutover: bool = False) -> drain.DrainReport | SwitchReport:
    from mig.db import open_ro
    from mig.phases import drain

    new = _new_of(_pair(inputs))
    if not then_cutover:
        return drain.drain(new, inputs.old, progress)
    # The shortest window: no operator and no interpreter start-up between the two.
    # An idle connection held across both means drain's close is not the new database's
    # last, so SQLite's checkpoint-on-close runs after `ready`, not inside the window.
    # A cutover that fails gives the old database its writes back, as a failed drain does.
    held = open_ro(new)
    try:
        drained = drain.drain(new, inputs.old, progress)
        return SwitchReport(drained, _cutover_or_reopen(new, Path(drained.old)))
    finally:
        held.close()


def _cutover_or_reopen(new: Path, old: Path) -> cutover.CutoverReport:
    from mig.phases import cutover, drain

    try:
        return cutover.cutover(new, old)
    except BaseException:
        try:
            drain.reopen_writes(new, old)
        except MigError:
            state = f"writes to {old} stay blocked (draining): run `mig cutover`, or `mig abort`"
        else:
            state = f"writes to {old} are accepted again (it is recording, and every write is logged)"
        with leaves_on_failure(state):
            raise


def cutover_command(inputs: Inputs) -> cutover.CutoverReport:
    from mig.phases import cutover

    return cutover.cutover(_new_of(_pair(inputs)), inputs.old)


def cleanup_old_command(inputs: Inputs) -> cleanup.CleanupReport:
    from mig.phases import cleanup

    pair = _pair(inputs)
    old = _need(pair.old or _follow(pair.new), "old database", "--old")
    return cleanup.cleanup_old(old)


def abort_command(inputs: Inputs) -> cleanup.AbortReport:
    from mig.phases import cleanup

    if inputs.old is not None and inputs.new is None:
        old = _existing(inputs.old)
        link = _recorded_link(old) if old is not None else None
        return cleanup.abort(old, link[1] if link is not None and link[0] == "old" else None)
    if inputs.new is not None:
        old = _existing(inputs.old)
        if old is None and not inputs.new.exists():
            raise NotFound(f"database {inputs.new} does not exist (nothing to abort there, or it is "
                           "removed already); pass --old to undo the capture on the old database")
        if old is not None:
            _same_file(old, inputs.new)
        return cleanup.abort(old, inputs.new)
    pair = _pair(inputs)
    if pair.old is None and pair.new is None:
        raise WrongState("there is no migration to abort")
    return cleanup.abort(pair.old, pair.new)


def verify_command(inputs: Inputs):  # type: ignore[no-untyped-def]
    from mig.phases import verify

    return verify.verify(_new_of(_pair(inputs)), inputs.old)
