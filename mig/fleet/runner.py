"""`mig fleet plan` and `mig fleet run`: one schema over many databases.

Plan first, for every tenant not done yet: a refusal anywhere stops the run before any
database changes (or, with `skip_refused`, leaves those tenants out). Then a canary:
the first tenants go through the whole runbook, and a failure among them stops the run
there. Then waves under a concurrency bound; each tenant goes migrate -> drain ->
cutover on its own, and a failed one is aborted and recorded while the others go on.
Every outcome is written to the ledger as it comes, so a run killed anywhere goes on
where it stopped when run again, and no tenant is migrated twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mig.errors import MigError
from mig.fleet.ledger import Ledger
from mig.fleet.pools import Call, DaskPool, LocalPool, Pool
from mig.fleet.tenants import Tenant
from mig.fleet.work import Outcome, plan_tenant, run_tenant
from mig.model import Schema, schema_hash

__all__ = ["RunOptions", "FleetPlanReport", "FleetRunReport", "FleetRefused", "fleet_plan", "fleet_run"]

# What the caller is told as work goes: the stage, tenants finished, of how many, failed so far,
# seconds since the stage began.
FleetProgress = Callable[[str, int, int, int, float], None]


@dataclass(frozen=True)
class RunOptions:
    concurrency: int = 2
    canary: int = 1
    wave: int = 100
    max_failures: int | None = None  # stop before the next wave once this many failed
    skip_refused: bool = False
    scheduler: str | None = None  # a Dask scheduler's address; None: a local process pool


@dataclass
class FleetPlanReport:
    schema: str
    schema_hash: str
    tenants: int
    planned: int
    refused: list[dict[str, str]] = field(default_factory=list)  # old, message
    seconds: float = 0.0


class FleetRefused(MigError):
    """Tenants whose plan refuses the change: nothing changed anywhere."""

    kind = "refused"

    def __init__(self, report: FleetPlanReport, ledger: Path | None) -> None:
        self.report = report
        first = report.refused[0]
        where = f"; `mig fleet status --ledger {ledger}` lists them all" if ledger else ""
        super().__init__(f"{len(report.refused)} of {report.tenants} tenants are refused, e.g. {first['old']}: "
                         f"{first['message']}; nothing was changed anywhere{where}; fix them, or run with "
                         "--skip-refused to migrate the others")


@dataclass
class FleetRunReport:
    ledger: str
    schema_hash: str
    tenants: int
    done: int = 0  # by this run
    already: int = 0  # done by an earlier run (or cut over before), left alone
    failed: int = 0
    skipped: int = 0  # refused, left out (skip_refused)
    canary: int = 0
    stopped: str | None = None  # why the run stopped before the last wave
    seconds: float = 0.0
    failures: list[dict[str, str]] = field(default_factory=list)  # old, phase, message
    window_ms_max: float | None = None

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.stopped is None


def _pool(options: RunOptions) -> Pool:
    if options.scheduler:
        return DaskPool(options.scheduler, options.concurrency)
    return LocalPool(options.concurrency)


def _lost(kind: str) -> Callable[[Call, str], Outcome]:
    """The outcome of a call whose worker never came back."""
    def outcome(call: Call, why: str) -> Outcome:
        return Outcome(call[0], call[1], "failed" if kind == "run" else "refused", kind,
                       f"{why}; run the fleet again to try it again")
    return outcome


def fleet_plan(tenants: list[Tenant], schema: Schema, schema_desc: str, options: RunOptions,
               progress: FleetProgress | None = None, pool: Pool | None = None) -> FleetPlanReport:
    """Every tenant's plan, in parallel; read-only."""
    started = time.monotonic()
    own = pool is None
    pool = pool or _pool(options)
    report = FleetPlanReport(schema_desc, schema_hash(schema), len(tenants), 0)
    try:
        calls = [(str(t.old), str(t.new), schema) for t in tenants]
        for i, out in enumerate(pool.run(plan_tenant, calls, _lost("plan")), 1):
            if out.state == "refused":
                report.refused.append({"old": out.old, "message": out.message})
            else:
                report.planned += 1
            if progress:
                progress("plan", i, len(calls), len(report.refused), time.monotonic() - started)
    finally:
        if own:
            pool.close()
    order = {str(t.old): i for i, t in enumerate(tenants)}
    report.refused.sort(key=lambda r: order[r["old"]])
    report.seconds = time.monotonic() - started
    return report


def fleet_run(tenants: list[Tenant], schema: Schema, schema_desc: str, schema_path: Path | None,
              ledger_path: Path, options: RunOptions, progress: FleetProgress | None = None) -> FleetRunReport:
    started = time.monotonic()
    pool = _pool(options)  # a cluster that cannot be reached is refused before the ledger is written
    try:
        ledger = Ledger.open(ledger_path)
        try:
            ledger.begin(schema_hash(schema), schema_desc, tenants)
            states = ledger.states()
            todo = [t for t in tenants if states.get(str(t.old)) != "done"]
            report = FleetRunReport(str(ledger_path), schema_hash(schema), len(tenants),
                                    already=len(tenants) - len(todo))
            go = _planned(todo, schema, schema_desc, options, ledger, report, progress, pool)
            canary, rest = go[:options.canary], go[options.canary:]
            report.canary = len(canary)
            run = _Runner(ledger, report, pool, schema, str(schema_path) if schema_path else None, progress)
            run.wave(canary, "canary")
            if report.failed:
                report.stopped = f"the canary failed ({report.failed} of {len(canary)}); the other tenants are untouched"
            for i in range(0, len(rest), max(1, options.wave)):
                if report.stopped:
                    break
                run.wave(rest[i:i + options.wave], "run")
                if options.max_failures is not None and report.failed >= options.max_failures \
                        and i + options.wave < len(rest):
                    report.stopped = f"{report.failed} tenants failed (--max-failures {options.max_failures})"
        finally:
            ledger.close()
    finally:
        pool.close()
    report.seconds = time.monotonic() - started
    return report


def _planned(todo: list[Tenant], schema: Schema, schema_desc: str, options: RunOptions, ledger: Ledger,
             report: FleetRunReport, progress: FleetProgress | None, pool: Pool) -> list[Tenant]:
    """The tenants whose plan allows the change; refused ones stop the run (nothing changed),
    or are skipped."""
    planned = fleet_plan(todo, schema, schema_desc, options, progress, pool)
    refused = {r["old"]: r["message"] for r in planned.refused}
    for old, message in refused.items():
        ledger.mark(Path(old), "skipped" if options.skip_refused else "refused", phase="plan", message=message)
    if refused and not options.skip_refused:
        raise FleetRefused(planned, Path(report.ledger))
    report.skipped = len(refused)
    return [t for t in todo if str(t.old) not in refused]


@dataclass
class _Runner:
    ledger: Ledger
    report: FleetRunReport
    pool: Pool
    schema: Schema
    schema_path: str | None
    progress: FleetProgress | None

    def wave(self, tenants: list[Tenant], stage: str) -> None:
        if not tenants:
            return
        started = time.monotonic()
        calls = [(str(t.old), str(t.new), self.schema, self.schema_path) for t in tenants]
        canary = int(stage == "canary")

        def sent(call: Call) -> None:  # recorded before it goes: a run killed then sends it again
            self.ledger.mark(Path(call[0]), "running", phase="migrate", canary=canary)

        failed = 0
        for i, out in enumerate(self.pool.run(run_tenant, calls, _lost("run"), sent), 1):
            self._record(out)
            failed += out.state == "failed"
            if self.progress:
                self.progress(stage, i, len(calls), failed, time.monotonic() - started)

    def _record(self, out: Outcome) -> None:
        report = self.report
        if out.state == "done":
            self.ledger.mark(Path(out.old), "done", phase="cutover", message="", seconds=out.seconds,
                             window_ms=out.window_ms)
            if out.already:
                report.already += 1
            else:
                report.done += 1
            if out.window_ms is not None:
                report.window_ms_max = max(report.window_ms_max or 0.0, out.window_ms)
        else:
            self.ledger.mark(Path(out.old), "failed", phase=out.phase, message=out.message, seconds=out.seconds)
            report.failed += 1
            report.failures.append({"old": out.old, "phase": out.phase, "message": out.message})
