"""The fleet bench (issue 20): `mig fleet run` over many tenant databases against the sum of one
tenant's runbook time divided by the concurrency, its peak memory, and a run killed at random
points then run again, checked tenant by tenant with `mig verify`.

    .venv/bin/python bench/fleet.py --tenants 1000 --rows 10000 [--concurrency 2] [--kills 3] [--save]
    .venv/bin/python bench/fleet.py --quick        # 40 tenants of 2,000 rows, one kill

Prints the machine and one table against the targets: total time <= 1.2 x (sum of one
tenant's runbook time / concurrency; the runbook's `mig plan`, `mig migrate`, `mig drain`,
`mig cutover`, timed in one process), peak memory <= 300 MB (the whole process tree: the
fleet run and its workers, sampled every 20 ms), every tenant verified after the kills, none
migrated twice. Needs `psutil` (`pip install -e '.[bench]'`); `--dask` runs the kill part
on a Dask cluster of worker processes on this machine and kills one of its workers too
(`pip install -e '.[fleet]'`).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
MIG = [sys.executable, "-m", "mig.cli"]
OLD = """
CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, joined REAL);
CREATE TABLE invoice (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customer(id),
                      amount REAL NOT NULL, note TEXT, pdf BLOB);
CREATE INDEX invoice_customer ON invoice(customer_id);
"""
NEW = """
CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, joined REAL,
                       plan TEXT NOT NULL DEFAULT 'free');
CREATE TABLE invoice (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customer(id),
                      amount REAL NOT NULL, memo TEXT, pdf BLOB);
CREATE INDEX invoice_customer ON invoice(customer_id);
CREATE INDEX invoice_amount ON invoice(amount);
-- mig:rename-column invoice note memo
"""
TARGETS = {"ratio": 1.2, "rss_mb": 300.0}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def template(path: Path, rows: int) -> None:
    rng = random.Random(5)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(OLD)
    customers = max(1, rows // 10)
    conn.executemany("INSERT INTO customer (name, email, joined) VALUES (?, ?, ?)",
                     ((f"c{i}", f"c{i}@example.org", rng.random() * 1e9) for i in range(customers)))
    conn.executemany("INSERT INTO invoice (customer_id, amount, note, pdf) VALUES (?, ?, ?, ?)",
                     ((rng.randint(1, customers), rng.random() * 1e4, rng.choice([None, "paid", "überfällig"]),
                       rng.randbytes(rng.randint(0, 48)) if rng.random() < 0.3 else None)
                      for _ in range(rows - customers)))
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def tenants(into: Path, master: Path, n: int) -> list[Path]:
    into.mkdir(parents=True)
    out = []
    for i in range(n):
        path = into / f"tenant{i:05}.sqlite"
        shutil.copyfile(master, path)
        out.append(path)
    (into.parent / f"{into.name}.txt").write_text("".join(f"{into.name}/{p.name}\n" for p in out))
    return out


def _runbooks(args: tuple[str, str, int]) -> list[float]:
    return one_tenant_runbook(Path(args[0]), Path(args[1]), args[2])


def at_once(work: Path, master: Path, samples: int, k: int) -> list[float]:
    """The same runbooks, `k` processes at once with no fleet around them: what this machine
    gives each tenant when `k` run together (two vCPUs need not be two cores' worth)."""
    import multiprocessing

    dirs = [work / f"at-once-{i}" for i in range(k)]
    for d in dirs:
        d.mkdir()
    with multiprocessing.get_context("spawn").Pool(k) as pool:
        runs = pool.map(_runbooks, [(str(d), str(master), samples) for d in dirs])
    return [t for run in runs for t in run]


def one_tenant_runbook(work: Path, master: Path, samples: int) -> list[float]:
    """One tenant's runbook, `mig plan` (its preflight), `mig migrate`, `mig drain`, `mig cutover`,
    in one process as a worker runs them, without a process start between: seconds each."""
    sys.path.insert(0, str(ROOT))
    from mig.fleet.work import plan_tenant, run_tenant
    from mig.schema.sql import loads

    schema = loads(NEW)
    times = []
    for path in tenants(work / "sample", master, samples + 1):
        new = path.with_name(path.stem + "-new.sqlite")
        started = time.perf_counter()
        planned = plan_tenant(str(path), str(new), schema)
        out = run_tenant(str(path), str(new), schema, None)
        times.append(time.perf_counter() - started)
        assert planned.state == "planned" and out.state == "done", (planned.message, out.message)
    return times[1:]  # the first one imports the phases: a worker pays that once, not per tenant


class TreeMemory:
    """The peak of the summed RSS of a process and its descendants, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self._root, *self._root.children(recursive=True)]
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            time.sleep(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def fleet_run(work: Path, concurrency: int, extra: list[str] | None = None,
              kill_after: float | None = None) -> tuple[int, float, int]:
    """`mig fleet run` as an operator runs it: (exit code, seconds, peak RSS of its tree)."""
    args = [*MIG, "fleet", "run", "--schema", str(work / "schema.sql"), "--manifest", str(work / "t.txt"),
            "--concurrency", str(concurrency), *(extra or [])]
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    memory = TreeMemory(proc.pid)
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    seconds = time.perf_counter() - started
    return proc.returncode, seconds, memory.stop()


def ledger_counts(work: Path) -> tuple[int, int]:
    """(tenants done, sends in all) in the ledger."""
    conn = sqlite3.connect(work / "mig-fleet.sqlite")
    try:
        done = conn.execute("SELECT count(*) FROM tenant WHERE state = 'done'").fetchone()[0]
        sends = conn.execute("SELECT coalesce(sum(attempts), 0) FROM tenant").fetchone()[0]
        return int(done), int(sends)
    finally:
        conn.close()


def verify_all(dbs: list[Path]) -> int:
    """Tenants whose new database `mig verify` finds equal to the old one mapped through the plan."""
    from mig import commands

    ok = 0
    for db in dbs:
        new = next(db.parent.glob(db.stem + "-*.sqlite"))
        ok += commands.verify_command(commands.Inputs(db.parent, old=db, new=new)).ok
    return ok


def killed_and_run_again(work: Path, dbs: list[Path], concurrency: int, kills: int, expected: float,
                         dask: bool) -> dict[str, object]:
    """Kill the fleet run at random points, run it again until it finishes; then verify each tenant."""
    rng = random.Random(11)
    extra: list[str] = []
    cluster = None
    if dask:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=concurrency, threads_per_worker=1, processes=True, dashboard_address=None)
        extra = ["--scheduler", cluster.scheduler_address]
    killed_at = []
    try:
        for _ in range(kills):
            after = rng.uniform(0.05, 0.9) * expected + 1.0
            killed_at.append(after)
            if dask and cluster is not None:  # a worker dies mid-run too
                pid = next(iter(cluster.workers.values())).process.process.pid
                threading.Timer(after / 2, lambda p=pid: os.kill(p, signal.SIGKILL)).start()
            code, _, _ = fleet_run(work, concurrency, extra, kill_after=after)
            if code == 0:  # finished before the kill
                break
        code, _, _ = fleet_run(work, concurrency, extra)
    finally:
        if cluster is not None:
            cluster.close()
    done, sends = ledger_counts(work)
    news = len(list((work / "t").glob("*-*.sqlite")))
    return {"code": code, "done": done, "sends": sends, "news": news, "verified": verify_all(dbs),
            "killed_at": killed_at}


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.1f} GiB RAM, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=10_000, help="rows per tenant database")
    ap.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--samples", type=int, default=20, help="tenants timed alone for the runbook time")
    ap.add_argument("--kills", type=int, default=3, help="random kills of the run before it is run to the end")
    ap.add_argument("--dask", action="store_true", help="the kill part on a Dask cluster, one worker killed too")
    ap.add_argument("--quick", action="store_true", help="40 tenants of 2,000 rows, one kill")
    ap.add_argument("--save", action="store_true", help="also write bench/results/<date>-fleet-<n>.txt")
    args = ap.parse_args()
    if args.quick:
        args.tenants, args.rows, args.samples, args.kills = 40, 2000, 5, 1
    work = Path(tempfile.mkdtemp(prefix="mig-fleet-bench-"))
    try:
        report = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(report)
    if args.save:
        out = ROOT / "bench" / "results" / f"{time.strftime('%Y-%m-%d-%H%M')}-fleet-{args.tenants}.txt"
        out.write_text(report + "\n")
        log(f"saved {out}")


def run(args: argparse.Namespace, work: Path) -> str:
    (work / "schema.sql").write_text(NEW)
    master = work / "master.sqlite"
    log(f"building {args.tenants} tenants of {args.rows} rows")
    template(master, args.rows)
    log(f"timing one tenant's runbook on {args.samples} tenants")
    samples = one_tenant_runbook(work, master, args.samples)
    per_tenant = statistics.mean(samples)
    together = at_once(work, master, args.samples, args.concurrency) if args.concurrency > 1 else samples
    per_tenant_together = statistics.mean(together)
    dbs = tenants(work / "t", master, args.tenants)
    expected = per_tenant * args.tenants / args.concurrency
    log(f"mig fleet run over {args.tenants} tenants, concurrency {args.concurrency} (expected ~{expected:.0f} s)")
    code, seconds, peak = fleet_run(work, args.concurrency)
    assert code == 0, "the fleet run failed"
    ratio = seconds / expected
    verified_first = verify_all(dbs)
    log("again, killed at random points, then run to the end")
    shutil.rmtree(work / "t")
    (work / "mig-fleet.sqlite").unlink()
    for side in ("-wal", "-shm"):
        Path(f"{work / 'mig-fleet.sqlite'}{side}").unlink(missing_ok=True)
    dbs = tenants(work / "t", master, args.tenants)
    kill = killed_and_run_again(work, dbs, args.concurrency, args.kills, seconds, args.dask)
    rows = [
        ("fleet run time / (sum of one tenant's runbook / concurrency)", f"{ratio:.2f}", f"<= {TARGETS['ratio']}",
         ratio <= TARGETS["ratio"], f"{seconds:.1f} s vs {args.tenants} x {per_tenant * 1000:.0f} ms / "
                                     f"{args.concurrency} = {expected:.1f} s (one tenant: median "
                                     f"{statistics.median(samples) * 1000:.0f} ms of {len(samples)})"),
        ("fleet run time / the same runbooks run K at once, no fleet", f"{seconds / (per_tenant_together * args.tenants / args.concurrency):.2f}",
         "info", None, f"{args.concurrency} at once: {per_tenant_together * 1000:.0f} ms a tenant against "
                       f"{per_tenant * 1000:.0f} ms alone (this machine's parallel efficiency "
                       f"{per_tenant / per_tenant_together:.2f}); the rest is the fleet's own cost"),
        ("peak memory, fleet run and its workers", f"{peak / 2**20:.0f} MB", f"<= {TARGETS['rss_mb']:.0f} MB",
         peak / 2**20 <= TARGETS["rss_mb"], "summed RSS of the process tree, every 20 ms"),
        ("tenants verified after the run", f"{verified_first}/{args.tenants}", "all", verified_first == args.tenants,
         "mig verify per tenant"),
        (f"killed {len(kill['killed_at'])} times{' (and a Dask worker each time)' if args.dask else ''}, "  # type: ignore[arg-type]
         "run again: tenants verified", f"{kill['verified']}/{args.tenants}", "all",
         kill["verified"] == args.tenants and kill["code"] == 0,
         "kills at " + ", ".join(f"{k:.1f} s" for k in kill["killed_at"])),  # type: ignore[attr-defined]
        ("new databases / tenants (none migrated twice)", f"{kill['news']}/{args.tenants}", "1 each",
         kill["news"] == args.tenants and kill["done"] == args.tenants,
         f"{kill['sends']} sends in all: a tenant in flight at a kill is sent again and goes on"),
    ]
    lines = [f"mig fleet bench: {args.tenants} tenants x {args.rows} rows, concurrency {args.concurrency}",
             f"machine: {machine()}", "",
             f"{'figure':<64} {'measured':>10} {'target':>10}  result  detail"]
    for name, measured, target, ok, detail in rows:  # type: ignore[misc]
        result = "-" if ok is None else "PASS" if ok else "MISS"
        lines.append(f"{name:<64} {measured:>10} {target:>10}  {result:<6}  {detail}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
