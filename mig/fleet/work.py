"""What runs for one tenant, in a worker process (local, or a Dask worker where the files
are): its plan, or its whole runbook. Plain functions of picklable arguments that return
a plain result and never raise for the tenant's own trouble: the coordinator records it.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from mig.errors import DatabaseBusy, MigError
from mig.model import Schema

__all__ = ["Outcome", "plan_tenant", "run_tenant"]


@dataclass
class Outcome:
    old: str
    new: str
    state: str  # done | failed | refused (a plan's), or planned
    phase: str = ""  # where it stopped: plan | migrate | drain | cutover
    message: str = ""
    seconds: float = 0.0
    window_ms: float | None = None  # cutover's write-unavailability window
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase
    already: bool = False  # cut over by an earlier run: nothing was done


def plan_tenant(old: str, new: str, schema: Schema) -> Outcome:
    """What `mig plan` says for this tenant: planned, or refused with every refusal."""
    from mig.phases.common import datachecks, preconditions

    started = time.monotonic()
    try:
        _, message = preconditions.preview(Path(old), Path(new), schema)
        if message:  # nothing to do, or a copy to resume: no refusal
            return Outcome(old, new, "planned", "plan", message, time.monotonic() - started)
        if not Path(new).is_file():
            preconditions.check_creatable(Path(new))
        _, plan = datachecks.make_plan(Path(old), schema)
    except MigError as exc:
        return Outcome(old, new, "refused", "plan", str(exc), time.monotonic() - started)
    except Exception as exc:  # a bug: this tenant's plan is refused, the others go on
        return Outcome(old, new, "refused", "plan", f"internal error ({type(exc).__name__}: {exc})",
                       time.monotonic() - started)
    if plan.refusals:
        return Outcome(old, new, "refused", "plan", "; ".join(r.message for r in plan.refusals),
                       time.monotonic() - started)
    return Outcome(old, new, "planned", "plan", "", time.monotonic() - started)


def run_tenant(old: str, new: str, schema: Schema, schema_path: str | None) -> Outcome:
    """migrate -> drain -> cutover, each re-runnable, so a tenant a killed run left half-way
    goes on from where it stopped; a failure before cutover is aborted (the old database
    back as it was, the new one removed) and reported, never raised."""
    from mig.phases import cutover, drain, migrate
    from mig.phases.common.state import read_new
    from mig.sqlite.connect import reading

    started = time.monotonic()
    out = Outcome(old, new, "done")
    old_path, new_path = Path(old), Path(new)
    if new_path.is_file():
        with reading(new_path) as conn:
            if read_new(conn).status == "ready":
                out.already = True
                return out
    phase = "migrate"
    try:
        migrate.migrate(old_path, new_path, schema, Path(schema_path) if schema_path else None)
        out.phases["migrate"] = time.monotonic() - started
        phase = "drain"
        drain.drain(new_path, old_path)
        out.phases["drain"] = time.monotonic() - started - sum(out.phases.values())
        phase = "cutover"
        report = cutover.cutover(new_path, old_path)
        out.phases["cutover"] = time.monotonic() - started - sum(out.phases.values())
        if report.writes_refused_seconds is not None:
            out.window_ms = report.writes_refused_seconds * 1000
    except DatabaseBusy as exc:  # another mig command works on this tenant: leave it to it
        out.state, out.phase, out.message = "failed", phase, f"{exc}; not aborted"
    except MigError as exc:
        out.state, out.phase, out.message = "failed", phase, str(exc) + _aborted(old_path, new_path)
    except Exception as exc:  # a bug: reported for this tenant, the others go on
        out.state, out.phase = "failed", phase
        out.message = f"internal error ({type(exc).__name__}: {exc})" + _aborted(old_path, new_path)
        out.message += " " + traceback.format_exc(limit=3).replace("\n", " | ")
    out.seconds = time.monotonic() - started
    return out


def _aborted(old: Path, new: Path) -> str:
    """Undo the tenant's migration; what that left, for its message."""
    from mig.phases import abort

    try:
        abort.abort(old, new)
    except MigError as exc:
        return f"; abort failed too ({exc}): run `mig abort --old {old} --new {new}`"
    return "; aborted: the old database is as it was, the new one removed"
