"""`mig fleet plan|run|status`: the fleet's command line, on the same `_run` as every command."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

import click

__all__ = ["fleet", "fleet_lines"]


def _shared(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("databases", nargs=-1, type=click.Path(path_type=Path)),
        click.option("--schema", "schema", metavar="S", help="the target schema (file, or module:attr)"),
        click.option("--manifest", type=click.Path(path_type=Path), metavar="FILE",
                     help="a file listing the databases, one per line"),
        click.option("--directives", type=click.Path(path_type=Path), metavar="FILE",
                     help="renames and drops for a schema that cannot show them"),
        click.option("--concurrency", type=click.IntRange(min=1), default=None,
                     help="tenants at once (default: the CPUs here, or the cluster's worker threads)"),
        click.option("--scheduler", metavar="ADDRESS", help="a Dask scheduler (tcp://HOST:PORT) whose "
                     "workers run where the files are; default: local processes"),
        click.option("--json", "as_json", is_flag=True, help="print one JSON object"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _options(concurrency: int | None, scheduler: str | None, **more: Any) -> Any:
    from mig.fleet.runner import RunOptions

    workers = concurrency or (None if scheduler else os.cpu_count() or 1)
    return RunOptions(concurrency=workers or 0, scheduler=scheduler, **more)


def _inputs(schema: str | None, databases: tuple[Path, ...], manifest: Path | None,
            directives: Path | None, ledger: Path | None = None) -> Any:
    from mig.fleet.commands import FleetInputs

    return FleetInputs(schema, databases, manifest, ledger, directives)


def _progress() -> Callable[[str, int, int, int, float], None]:
    """One line on stderr at most every second, and each stage's last: tenants, rate, ETA."""
    last = [0.0]

    def show(stage: str, finished: int, total: int, failed: int, elapsed: float) -> None:
        now = time.monotonic()
        if finished < total and now - last[0] < 1.0:
            return
        last[0] = now
        rate = finished / elapsed if elapsed > 0 else 0.0
        eta = f", ETA {(total - finished) / rate:.0f} s" if rate and finished < total else ""
        failures = f", {failed} {'refused' if stage == 'plan' else 'failed'}" if failed else ""
        click.echo(f"fleet {stage}: {finished}/{total} tenants{failures}, {rate:.1f}/s{eta}", err=True)
    return show


@click.group()
def fleet() -> None:
    """One schema change over many databases: plan them all, a canary, then waves."""


@fleet.command("plan")
@_shared
def plan(databases: tuple[Path, ...], schema: str | None, manifest: Path | None, directives: Path | None,
         concurrency: int | None, scheduler: str | None, as_json: bool) -> None:
    """Plan every tenant (read-only); exit 1 if any is refused."""
    from mig.cli.main import _run, _warn
    from mig.fleet.commands import fleet_plan_command

    inputs, options = _inputs(schema, databases, manifest, directives), _options(concurrency, scheduler)
    _run("fleet plan", as_json, lambda: fleet_plan_command(inputs, options, _warn, _progress()),
         lambda r: 1 if r.refused else 0)


@fleet.command("run")
@_shared
@click.option("--ledger", type=click.Path(path_type=Path), metavar="FILE",
              help="the run's ledger (default: mig-fleet.sqlite beside the manifest, else here)")
@click.option("--canary", type=click.IntRange(min=0), default=1, show_default=True,
              help="tenants that go through the whole runbook before the others")
@click.option("--wave", type=click.IntRange(min=1), default=100, show_default=True, help="tenants per wave")
@click.option("--max-failures", type=click.IntRange(min=1), default=None,
              help="stop before the next wave once this many tenants failed")
@click.option("--skip-refused", is_flag=True, help="migrate the others when some tenants are refused")
def run(databases: tuple[Path, ...], schema: str | None, manifest: Path | None, directives: Path | None,
        concurrency: int | None, scheduler: str | None, as_json: bool, ledger: Path | None, canary: int,
        wave: int, max_failures: int | None, skip_refused: bool) -> None:
    """Plan every tenant, then migrate -> drain -> cutover each one: a canary, then waves."""
    from mig.cli.main import _run, _warn
    from mig.fleet.commands import fleet_run_command

    inputs = _inputs(schema, databases, manifest, directives, ledger)
    options = _options(concurrency, scheduler, canary=canary, wave=wave, max_failures=max_failures,
                       skip_refused=skip_refused)
    _run("fleet run", as_json, lambda: fleet_run_command(inputs, options, _warn, _progress()),
         lambda r: 0 if r.ok else 1)


@fleet.command("status")
@click.option("--ledger", type=click.Path(path_type=Path), metavar="FILE", default=Path("mig-fleet.sqlite"),
              show_default=True, help="the ledger `mig fleet run` wrote")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def status(ledger: Path, as_json: bool) -> None:
    """Counts per state, failures with their message, the slowest tenants (read-only)."""
    from mig.cli.main import _run
    from mig.fleet.commands import fleet_status_command

    _run("fleet status", as_json, lambda: fleet_status_command(ledger))


def fleet_lines(command: str, r: Any) -> list[str]:
    """The text of a fleet report."""
    if command == "fleet plan":
        lines = [f"Schema: {r.schema}", f"Schema hash: {r.schema_hash}", f"Tenants: {r.tenants}",
                 f"Planned: {r.planned}", f"Refused: {len(r.refused)}"]
        lines += [f"  {x['old']}: {x['message']}" for x in r.refused[:20]]
        lines += [f"  ... and {len(r.refused) - 20} more"] * (len(r.refused) > 20)
        return lines + [f"Plan time: {r.seconds:.1f} s",
                        "Result: " + ("refused (nothing changed anywhere)" if r.refused else "fleet run can go")]
    if command == "fleet run":
        lines = [f"Ledger: {r.ledger}", f"Schema hash: {r.schema_hash}", f"Tenants: {r.tenants}",
                 f"Done by this run: {r.done} (canary {r.canary})", f"Done before: {r.already}",
                 f"Failed (aborted): {r.failed}", f"Skipped (refused): {r.skipped}",
                 f"Time: {r.seconds:.1f} s"]
        if r.window_ms_max is not None:
            lines.append(f"Longest write-unavailability window: {r.window_ms_max:.0f} ms")
        lines += [f"  {x['old']} ({x['phase']}): {x['message']}" for x in r.failures[:20]]
        if r.stopped:
            lines.append(f"Stopped: {r.stopped}")
        return lines + ["Result: " + ("every tenant is cut over" if r.ok else
                                      f"not finished; `mig fleet status --ledger {r.ledger}`, then run again")]
    counts = ", ".join(f"{state} {n}" for state, n in r.counts.items() if n)
    lines = [f"Ledger: {r.ledger}", f"Schema: {r.schema} ({r.schema_hash})", f"Tenants: {r.tenants}",
             f"By state: {counts}"]
    if r.rate:
        lines.append(f"Rate: {r.rate:.2f} tenants/s since the first run began")
    lines += [f"Not migrated: {x['old']} ({x['phase']}): {x['message']}" for x in r.failures]
    lines += [f"Slowest: {x['old']} {x['seconds']:.2f} s" for x in r.slowest]
    return lines

