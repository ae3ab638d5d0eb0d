"""`mig fleet` (issue 20): one schema over many tenant databases: every plan first, a canary,
waves under a concurrency bound, a failed tenant aborted while the others go on, and a
ledger that lets a killed run finish where it stopped, with no tenant migrated twice.

Real files; the fleet's workers are real processes (a local pool, or a Dask cluster of
worker processes on this machine); `mig fleet run` killed with SIGKILL is a real process.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

import pytest
from clihelp import MIG, mig_here

from mig import commands
from mig.fleet.commands import FleetInputs, fleet_run_command, fleet_status_command
from mig.fleet.pools import QUEUED_PER_WORKER
from mig.fleet.runner import RunOptions

SCHEMA = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '', price REAL, tag TEXT);\n"


def _tenant(path: Path, rows: int = 300, null_name: bool = False) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    conn.executemany("INSERT INTO item (name, price) VALUES (?, ?)", [(f"n{j}", j * 1.5) for j in range(rows)])
    if null_name:
        conn.execute("INSERT INTO item (name, price) VALUES (NULL, 1)")
    conn.commit()
    conn.close()
    return path


def _fleet(tmp: Path, n: int, rows: int = 300, refused: tuple[int, ...] = ()) -> tuple[Path, list[Path]]:
    (tmp / "t").mkdir()
    (tmp / "schema.sql").write_text(SCHEMA)
    dbs = [_tenant(tmp / "t" / f"tenant{i:03}.sqlite", rows, null_name=i in refused) for i in range(n)]
    (tmp / "tenants.txt").write_text("# the fleet\n" + "".join(f"t/{p.name}\n" for p in dbs))
    return tmp / "tenants.txt", dbs


def _failure_lines(stderr: str) -> int:
    """The error's lines, beside the progress lines on the same stream."""
    return len([line for line in stderr.splitlines() if not line.startswith("fleet plan: ")])


def _files(tmp: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((tmp / "t").iterdir())}


def _new(db: Path) -> Path:
    return next(p for p in db.parent.glob(db.stem + "-*.sqlite"))


def _verified(db: Path) -> bool:
    return commands.verify_command(commands.Inputs(db.parent, old=db, new=_new(db))).ok


def test_plan_lists_every_refused_tenant_and_run_changes_nothing(tmp_path: Path) -> None:
    manifest, dbs = _fleet(tmp_path, 5, refused=(1, 3))
    before = _files(tmp_path)
    out = mig_here("fleet", "plan", "--schema", str(tmp_path / "schema.sql"), "--manifest", str(manifest))
    assert out.returncode == 1, out.stderr
    assert "Refused: 2" in out.stdout and "tenant001.sqlite" in out.stdout and "tenant003.sqlite" in out.stdout
    run = mig_here("fleet", "run", "--schema", str(tmp_path / "schema.sql"), "--manifest", str(manifest))
    assert run.returncode == 1 and _failure_lines(run.stderr) == 1, run.stderr
    assert "2 of 5 tenants are refused" in run.stderr and "nothing was changed anywhere" in run.stderr
    assert _files(tmp_path) == before
    status = json.loads(mig_here("fleet", "status", "--ledger", str(tmp_path / "mig-fleet.sqlite"), "--json").stdout)
    assert status["counts"]["refused"] == 2 and status["counts"]["pending"] == 3


def test_run_migrates_every_tenant_once_canary_first(tmp_path: Path) -> None:
    manifest, dbs = _fleet(tmp_path, 7, refused=(4,))
    inputs = FleetInputs(str(tmp_path / "schema.sql"), manifest=manifest)
    seen: list[tuple[str, int, int]] = []
    report = fleet_run_command(inputs, RunOptions(concurrency=2, canary=2, wave=3, skip_refused=True),
                               progress=lambda stage, done, total, failed, s: seen.append((stage, done, total)))
    assert (report.done, report.canary, report.skipped, report.failed) == (6, 2, 1, 0)
    assert [s for s in seen if s[0] == "canary"][-1] == ("canary", 2, 2)
    assert [s[2] for s in seen if s[0] == "run" and s[1] == s[2]] == [3, 1]  # two waves: 3, then 1
    assert all(_verified(db) for i, db in enumerate(dbs) if i != 4)
    assert not list((tmp_path / "t").glob("tenant004-*"))  # the refused one is untouched
    news = {p: p.stat().st_mtime_ns for p in (tmp_path / "t").glob("*-*.sqlite")}
    again = fleet_run_command(inputs, RunOptions(concurrency=2, skip_refused=True))
    assert (again.done, again.already, again.failed) == (0, 6, 0)  # none migrated twice
    assert {p: p.stat().st_mtime_ns for p in news} == news
    summary = fleet_status_command(tmp_path / "mig-fleet.sqlite")
    assert summary.counts["done"] == 6 and summary.counts["skipped"] == 1 and len(summary.slowest) == 5


def _broken_after_the_plan(db: Path) -> Callable[[str, int, int, int, float], None]:
    """A progress callback that, once every plan is made, writes a row the new schema refuses
    into `db`: a tenant that passes the plan and fails in the run (its migrate plans again)."""
    def progress(stage: str, done: int, total: int, failed: int, seconds: float) -> None:
        if stage == "plan" and done == total:
            conn = sqlite3.connect(db)
            conn.execute("INSERT INTO item (name, price) VALUES (NULL, 2)")
            conn.commit()
            conn.close()
    return progress


def test_a_failed_tenant_is_aborted_and_reported_and_the_others_go_on(tmp_path: Path) -> None:
    manifest, dbs = _fleet(tmp_path, 5)
    report = fleet_run_command(FleetInputs(str(tmp_path / "schema.sql"), manifest=manifest),
                               RunOptions(concurrency=2, canary=1), progress=_broken_after_the_plan(dbs[2]))
    assert (report.done, report.failed, report.ok) == (4, 1, False)
    failure = report.failures[0]
    assert failure["old"] == str(dbs[2]) and failure["phase"] == "migrate"
    assert "plan refused: item.name" in failure["message"] and "aborted" in failure["message"]
    assert not list((tmp_path / "t").glob("tenant002-*"))
    assert all(_verified(db) for i, db in enumerate(dbs) if i != 2)
    summary = fleet_status_command(tmp_path / "mig-fleet.sqlite")
    assert summary.counts["failed"] == 1 and summary.failures[0]["old"] == str(dbs[2])


def test_a_failing_canary_stops_the_run_before_the_others(tmp_path: Path) -> None:
    manifest, dbs = _fleet(tmp_path, 4)
    report = fleet_run_command(FleetInputs(str(tmp_path / "schema.sql"), manifest=manifest),
                               RunOptions(concurrency=2, canary=1), progress=_broken_after_the_plan(dbs[0]))
    assert report.failed == 1 and report.done == 0 and report.stopped and "canary failed" in report.stopped
    assert not [p for p in (tmp_path / "t").iterdir() if "-" in p.stem]  # no other tenant touched


def test_a_killed_fleet_run_finishes_when_run_again(tmp_path: Path) -> None:
    manifest, dbs = _fleet(tmp_path, 40, rows=2000)
    ledger = tmp_path / "mig-fleet.sqlite"
    args = [*MIG, "fleet", "run", "--schema", str(tmp_path / "schema.sql"), "--manifest", str(manifest),
            "--concurrency", "2", "--wave", "10"]
    run = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _done(ledger) < 8:  # mid-run, whatever the machine's speed
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    assert 8 <= _done(ledger) < 40
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert all(_verified(db) for db in dbs)
    # At most the tenants in flight when killed (two workers, each with its next one queued) went twice.
    assert _attempts(ledger) <= 40 + 2 * QUEUED_PER_WORKER
    assert len(list((tmp_path / "t").glob("*-*.sqlite"))) == 40  # one new database each


def _done(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT count(*) FROM tenant WHERE state = 'done'").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _attempts(ledger: Path) -> int:
    conn = sqlite3.connect(ledger)
    try:
        return int(conn.execute("SELECT sum(attempts) FROM tenant").fetchone()[0])
    finally:
        conn.close()


def test_on_a_dask_cluster_a_worker_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    manifest, dbs = _fleet(tmp_path, 16, rows=2000)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  worker_dashboard_address=None) as cluster:
        pids = [nanny.process.process.pid for nanny in cluster.workers.values()]  # the worker processes
        killed = threading.Event()

        def kill_one_worker(stage: str, done: int, total: int, failed: int, seconds: float) -> None:
            if stage == "run" and done >= 3 and not killed.is_set():
                killed.set()
                os.kill(pids[0], signal.SIGKILL)  # its nanny starts another; its tenant is sent again

        report = fleet_run_command(FleetInputs(str(tmp_path / "schema.sql"), manifest=manifest),
                                   RunOptions(concurrency=2, canary=1, scheduler=cluster.scheduler_address),
                                   progress=kill_one_worker)
    assert killed.is_set()
    assert report.ok and report.done == 16, report.failures
    assert all(_verified(db) for db in dbs)


def test_fleet_inputs_are_checked_in_one_line(tmp_path: Path) -> None:
    manifest, dbs = _fleet(tmp_path, 2)
    schema = str(tmp_path / "schema.sql")
    cases = [
        (["fleet", "run", "--schema", schema], "no databases"),
        (["fleet", "run", "--schema", schema, str(dbs[0]), str(dbs[0])], "is listed twice"),
        (["fleet", "run", "--schema", schema, str(tmp_path / "nope.sqlite")], "1 database not found"),
        (["fleet", "status", "--ledger", str(tmp_path / "none.sqlite")], "no fleet ledger at"),
        (["fleet", "run", "--schema", schema, "--scheduler", "tcp://127.0.0.1:9", str(dbs[0])],
         "cannot reach the Dask scheduler"),
    ]
    for args, says in cases:
        out = mig_here(*args, cwd=tmp_path)
        assert out.returncode == 1 and _failure_lines(out.stderr) == 1 and says in out.stderr, (args, out.stderr)
    assert not (tmp_path / "none.sqlite").exists()
    assert not (tmp_path / "mig-fleet.sqlite").exists()  # refused before the ledger was written
