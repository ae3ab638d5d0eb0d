"""One function per command: resolve paths as DESIGN.md §2 says, call the phase, return its report.

The CLI calls these and only renders; tests call them directly. Path
inference lives here and nowhere else, so every command infers the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mig.errors import NotFound
from mig.model import Schema, schema_hash
from mig.paths import find_schema, infer_old, old_candidates, target_path
from mig.phases import cleanup, cutover, drain, migrate, status
from mig.plan.ops import Plan
from mig.plan.statements import plan_statements

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
    schema: Path | None = None


def _existing(path: Path | None, what: str) -> Path | None:
    if path is not None and not path.exists():
        raise NotFound(f"{what} {path} does not exist")
    return path


def _load(inputs: Inputs, warn: Warn | None) -> tuple[Path, Schema]:
    from mig.schema import load_schema

    path = inputs.schema or find_schema(inputs.dir)
    return path, load_schema(path, warn=warn)


def _target(inputs: Inputs, warn: Warn | None) -> Path:
    """--new, else `<dir>/<dir-name>-<schema hash>.sqlite`."""
    if inputs.new is not None:
        return inputs.new
    _, schema = _load(inputs, warn)
    return target_path(inputs.dir, schema_hash(schema))


@dataclass
class PlanReport:
    old: str
    new: str
    schema: str
    schema_hash: str
    plan: Plan
    statements: dict[str, list[str]]  # per table, the copy and replay SQL migrate and drain run

    @property
    def refused(self) -> bool:
        return bool(self.plan.refusals)


def plan_command(inputs: Inputs, warn: Warn | None = None) -> PlanReport:
    schema_path, schema = _load(inputs, warn)
    new = inputs.new or target_path(inputs.dir, schema_hash(schema))
    old = _existing(inputs.old, "database") or infer_old(inputs.dir, new)
    _, plan = migrate.make_plan(old, schema)
    return PlanReport(str(old), str(new), str(schema_path), plan.schema_hash, plan,
                      plan_statements(plan))


def migrate_command(inputs: Inputs, warn: Warn | None = None,
                    progress: migrate.Progress | None = None) -> migrate.MigrateReport:
    schema_path, schema = _load(inputs, warn)
    new = inputs.new or target_path(inputs.dir, schema_hash(schema))
    if inputs.old is not None:
        old = _existing(inputs.old, "database")
    elif new.exists() and not old_candidates(inputs.dir, new):
        old = None  # migrate says there is nothing to do
    else:
        old = infer_old(inputs.dir, new)
    return migrate.migrate(old, new, schema, schema_path, progress)


def status_command(inputs: Inputs, warn: Warn | None = None) -> status.StatusReport:
    old, new = _existing(inputs.old, "database"), _existing(inputs.new, "database")
    if old is None and new is None:
        new = _existing(_target(inputs, warn), "database")
        old = infer_old(inputs.dir, new)
    return status.status(old, new)


def drain_command(inputs: Inputs, warn: Warn | None = None,
                  progress: migrate.Progress | None = None) -> drain.DrainReport:
    new = _existing(_target(inputs, warn), "database")
    assert new is not None
    return drain.drain(new, _existing(inputs.old, "database"), progress)


def cutover_command(inputs: Inputs, warn: Warn | None = None) -> cutover.CutoverReport:
    new = _existing(_target(inputs, warn), "database")
    assert new is not None
    return cutover.cutover(new, _existing(inputs.old, "database"))


def cleanup_old_command(inputs: Inputs, warn: Warn | None = None) -> cleanup.CleanupReport:
    old = _existing(inputs.old, "database")
    if old is None:
        old = infer_old(inputs.dir, _target(inputs, warn))
    return cleanup.cleanup_old(old)


def abort_command(inputs: Inputs, warn: Warn | None = None) -> cleanup.AbortReport:
    new = inputs.new or _target(inputs, warn)
    old = _existing(inputs.old, "database")
    if old is None and not new.exists():
        old = infer_old(inputs.dir, new)
    return cleanup.abort(old, new)


def verify_command(inputs: Inputs, warn: Warn | None = None):  # type: ignore[no-untyped-def]
    from mig.phases import verify

    new = _existing(_target(inputs, warn), "database")
    assert new is not None
    return verify.verify(new, _existing(inputs.old, "database"))
