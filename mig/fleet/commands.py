"""The fleet's commands as functions of their inputs, for the CLI: the schema loaded once,
the tenants named, the ledger found."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mig import locate
from mig.errors import PathInference
from mig.fleet.ledger import Ledger, Summary
from mig.fleet.runner import FleetPlanReport, FleetProgress, FleetRunReport, RunOptions, fleet_plan, fleet_run
from mig.fleet.tenants import Tenant, read_manifest, tenants_of
from mig.locate import Inputs, Warn
from mig.model import Schema, schema_hash

__all__ = ["FleetInputs", "DEFAULT_LEDGER", "fleet_plan_command", "fleet_run_command", "fleet_status_command"]

DEFAULT_LEDGER = "mig-fleet.sqlite"


@dataclass(frozen=True)
class FleetInputs:
    schema: str | None  # as typed; None: the one schema file of the current directory
    databases: tuple[Path, ...] = ()
    manifest: Path | None = None
    ledger: Path | None = None  # None: mig-fleet.sqlite beside the manifest, else here
    directives: Path | None = None

    def ledger_path(self) -> Path:
        if self.ledger is not None:
            return self.ledger
        return (self.manifest.parent if self.manifest else Path(".")) / DEFAULT_LEDGER


def _load(inputs: FleetInputs, warn: Warn | None) -> tuple[str | Path, Schema, list[Tenant]]:
    path, schema = locate.load(Inputs(Path("."), schema=inputs.schema, directives=inputs.directives), warn)
    paths = list(inputs.databases) + (read_manifest(inputs.manifest) if inputs.manifest else [])
    if inputs.databases and inputs.manifest:
        raise PathInference("pass the databases or --manifest FILE, not both")
    return path, schema, tenants_of(paths, schema_hash(schema))


def fleet_plan_command(inputs: FleetInputs, options: RunOptions, warn: Warn | None = None,
                       progress: FleetProgress | None = None) -> FleetPlanReport:
    path, schema, tenants = _load(inputs, warn)
    return fleet_plan(tenants, schema, str(path), options, progress)


def fleet_run_command(inputs: FleetInputs, options: RunOptions, warn: Warn | None = None,
                      progress: FleetProgress | None = None) -> FleetRunReport:
    path, schema, tenants = _load(inputs, warn)
    return fleet_run(tenants, schema, str(path), Path(path), inputs.ledger_path(), options, progress)


def fleet_status_command(ledger: Path) -> Summary:
    opened = Ledger.read(ledger)
    try:
        return opened.summary()
    finally:
        opened.close()
