"""One function per command: find the databases (mig.locate), call the phase, return its report.

The CLI calls these and only renders; tests call them directly. Each command
imports its phase only when it runs: the runbook's `mig drain` then
`mig cutover` holds one interpreter start-up inside the write-unavailability
window, and tests/test_cli_startup.py checks which modules a command loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mig import locate
from mig.errors import MigError, leaves_on_failure
from mig.locate import Inputs, Warn

if TYPE_CHECKING:
    from mig.phases import abort, cleanup, cutover, drain, migrate, revert, status
    from mig.phases.common.safeguards import Progress
    from mig.plan.ops import Plan

__all__ = [
    "Inputs",
    "PlanReport",
    "SwitchReport",
    "InitReport",
    "init_command",
    "plan_command",
    "migrate_command",
    "status_command",
    "drain_command",
    "revert_command",
    "cutover_command",
    "cleanup_old_command",
    "abort_command",
    "verify_command",
]


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
    type_changes: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> "OLD -> NEW"
    # Whether a revert after cutover could bring every write back into the old schema
    irreversible: list[str] = field(default_factory=list)  # why not (empty: it could)
    revert_notes: list[str] = field(default_factory=list)  # what a revert leaves behind or computes back
    json_properties = ("refused", "copy_order", "created_tables", "renamed_tables", "dropped_tables", "reversible")

    @property
    def refused(self) -> bool:
        return bool(self.plan.refusals)

    @property
    def reversible(self) -> bool:
        return not self.irreversible

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


@dataclass
class InitReport:
    old: str
    schema: str
    format: str
    schema_hash: str
    tables: int
    indexes: int
    views: int
    triggers: int


def init_command(inputs: Inputs, fmt: str = "sql") -> InitReport:
    """Write the schema file of an existing database: the project's starting point."""
    from mig.model import schema_hash
    from mig.schema import export
    from mig.sqlite.connect import reading
    from mig.sqlite.introspect import introspect

    old, path = locate.init_paths(inputs, fmt)
    with reading(old) as conn:
        schema = introspect(conn)
    export.write_new(path, export.render(schema, fmt, old.name))
    return InitReport(str(old), str(path), fmt, schema_hash(schema), len(schema.tables), len(schema.indexes),
                      len(schema.views), len(schema.triggers))


def plan_command(inputs: Inputs, warn: Warn | None = None) -> PlanReport:
    """What migrate would do with the same inputs: its refusals, or the plan it would copy by."""
    from mig.model import schema_hash
    from mig.phases.common import datachecks, preconditions
    from mig.plan.mapping import type_changes
    from mig.plan.ops import Plan
    from mig.plan.reverse import reversibility
    from mig.plan.statements import plan_statements

    schema_path, schema = locate.load(inputs, warn)
    new = inputs.new or locate.target(inputs, schema)
    old = locate.source(inputs, new)
    action, message = preconditions.preview(old, new, schema)
    if message:  # migrate would not plan: nothing to do, or a copy to resume
        empty = Plan(schema_hash(schema), ())
        return PlanReport(str(old or "(none)"), str(new), str(schema_path), empty.schema_hash, empty, {},
                          action, message)
    assert old is not None
    if not new.is_file():
        preconditions.check_creatable(new)
    old_schema, plan = datachecks.make_plan(old, schema)
    back = reversibility(plan, old_schema, schema)
    return PlanReport(str(old), str(new), str(schema_path), plan.schema_hash, plan,
                      plan_statements(plan), type_changes=type_changes(plan.tables, old_schema, schema),
                      irreversible=list(back.reasons), revert_notes=list(back.notes))


def migrate_command(inputs: Inputs, warn: Warn | None = None,
                    progress: Progress | None = None) -> migrate.MigrateReport:
    from mig.phases import migrate

    schema_path, schema = locate.load(inputs, warn)
    new = inputs.new or locate.target(inputs, schema)
    return migrate.migrate(locate.source(inputs, new), new, schema, Path(schema_path), progress)


# ---------------------------------------------------------------- the commands after migrate

def status_command(inputs: Inputs) -> status.StatusReport:
    from mig.phases import status

    found = locate.pair(inputs)
    explicit = inputs.old is not None or inputs.new is not None
    return status.status(found.old, found.new, follow_links=explicit)


@dataclass
class SwitchReport:
    """`mig drain --cutover`: both reports, from one process."""

    drain: drain.DrainReport
    cutover: cutover.CutoverReport


def drain_command(inputs: Inputs, progress: Progress | None = None,
                  then_cutover: bool = False) -> drain.DrainReport | SwitchReport:
    from mig.phases import drain
    from mig.sqlite.connect import open_ro

    new = locate.new_of(locate.pair(inputs))
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
    from mig.phases import cutover
    from mig.phases.common.blocking import reopen_writes

    try:
        return cutover.cutover(new, old)
    except BaseException:
        try:
            reopen_writes(new, old)
        except MigError:
            state = f"writes to {old} stay blocked (draining): run `mig cutover`, or `mig abort`"
        else:
            state = f"writes to {old} are accepted again (it is recording, and every write is logged)"
        with leaves_on_failure(state):
            raise


def cutover_command(inputs: Inputs) -> cutover.CutoverReport:
    from mig.phases import cutover

    return cutover.cutover(locate.new_of(locate.pair(inputs)), inputs.old)


def revert_command(inputs: Inputs, progress: Progress | None = None) -> revert.RevertReport:
    from mig.phases import revert

    return revert.revert(locate.new_of(locate.pair(inputs)), inputs.old, progress)


def cleanup_old_command(inputs: Inputs) -> cleanup.CleanupReport:
    from mig.phases import cleanup

    return cleanup.cleanup_old(locate.old_of(locate.pair(inputs)))


def abort_command(inputs: Inputs) -> abort.AbortReport:
    from mig.phases import abort

    found = locate.abort_pair(inputs)
    return abort.abort(found.old, found.new)


def verify_command(inputs: Inputs):  # type: ignore[no-untyped-def]
    from mig.phases import verify

    return verify.verify(locate.new_of(locate.pair(inputs)), inputs.old)
