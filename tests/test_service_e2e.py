"""The runbook with real services: the bookshop v1 (old) and v2 (new) as processes on loopback,
the load generator writing throughout, and the real `mig` commands between them.

What it proves: every write a service acknowledged is in the new database;
the old service never failed a read; each service answers 503 with
Retry-After exactly when the runbook says it is blocked. It measures the
write-unavailability window (first refused write to first write accepted by
the new service) and reports it (printed, visible with `-s`, and recorded as
the test's `write_unavailability_ms` property).
"""

from __future__ import annotations

import json
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

pytest.importorskip("flask")

ROOT = Path(__file__).resolve().parents[1]
BOOKSHOP = ROOT / "examples" / "bookshop"
DEADLINE_S = 20.0


def _wait(predicate: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def _http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


RAN: list[tuple[str, float, float]] = []  # every mig command: name, wall start, ms


def _mig(*args: str) -> str:
    started, clock = time.time(), time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "mig.cli", *args], capture_output=True, text=True,
                         timeout=60)
    RAN.append((args[0], started, (time.perf_counter() - clock) * 1000))
    assert out.returncode == 0, f"mig {' '.join(args)}: {out.stderr}"
    print(f"$ mig {' '.join(args[:1])}\n{out.stdout}", flush=True)
    return out.stdout


def _steps_between(start: float, end: float) -> str:
    """The mig commands that ran inside the window, each a fresh process, with their times."""
    return ", ".join(f"{name} {ms:.0f} ms" for name, at, ms in RAN if start - 0.5 <= at < end)


class Processes:
    """Every process the test starts, ended by its own handle at teardown."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, *args: str, stdout: Any = subprocess.DEVNULL) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, *args], stdout=stdout, stderr=subprocess.PIPE,
                                text=True, cwd=ROOT)
        self.procs.append(proc)
        return proc

    def service(self, db: Path, schema: str) -> str:
        proc = self.start(str(BOOKSHOP / "service.py"), "--db", str(db), "--schema", schema,
                          "--quiet", stdout=subprocess.PIPE)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], DEADLINE_S)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("listening on "), f"service did not start: {line!r}"
        return line.split()[-1]

    def end_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def processes() -> Iterator[Processes]:
    procs = Processes()
    yield procs
    procs.end_all()


def _record(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]  # the last may be half-written
    return [json.loads(line) for line in lines]


def _acked(record: list[dict[str, Any]], url: str | None = None) -> list[dict[str, Any]]:
    return [e for e in record if e["op"] == "write" and e["status"] == 201
            and (url is None or e["url"] == url)]


def _missing_in(new_db: Path, acked: list[dict[str, Any]]) -> list[int]:
    conn = sqlite3.connect(f"file:{new_db}?mode=ro", uri=True)
    missing = []
    for e in acked:
        p = e["payload"]
        row = conn.execute("SELECT b.title, a.name, b.price, b.summary FROM books b JOIN authors a "
                           "ON a.id = b.author_id WHERE b.id = ?", (e["id"],)).fetchone()
        if row != (p["title"], p["author"], p["price"], p["description"]):
            missing.append(e["id"])
    conn.close()
    return missing


def test_runbook_with_live_services(tmp_path: Path, processes: Processes,
                                    record_property: Callable[[str, object], None]) -> None:
    project = tmp_path / "bookshop"
    seeded = subprocess.run([sys.executable, str(BOOKSHOP / "seed.py"), str(project), "--books", "2000"],
                            capture_output=True, text=True, timeout=60, check=True)
    old_db = Path(seeded.stdout.strip())
    shutil.copy(BOOKSHOP / "v2" / "schema.sql", project / "schema.sql")
    d = ("--dir", str(project))

    old_url = processes.service(old_db, "v1")
    record, control = tmp_path / "load.jsonl", tmp_path / "target-url"
    load = processes.start(str(BOOKSHOP / "loadgen.py"), "--url", old_url, "--out", str(record),
                           "--control", str(control), "--max-seconds", "90")
    _wait(lambda: record.exists() and len(_acked(_record(record))) >= 20, "writes on the old service")

    migrate_out = _mig("migrate", *d)
    new_db = Path(next(l for l in migrate_out.splitlines() if l.startswith("New database: "))
                  .split(": ", 1)[1])
    assert "Copied rows: " in migrate_out
    status_out = _mig("status", *d)
    assert "Marker status: recording" in status_out and "Migration status: migrating" in status_out

    new_url = processes.service(project / new_db.name, "v2")
    for method, body in (("GET", None), ("POST", {"title": "t", "author": "a", "price": 1})):
        code, headers, answer = _http(method, f"{new_url}/books/1" if method == "GET" else f"{new_url}/books", body)
        assert code == 503 and headers.get("Retry-After") == "1", (method, code, answer)
        assert answer["kind"] == "NotReady"
    logged = len(_acked(_record(record)))
    _wait(lambda: len(_acked(_record(record))) >= logged + 20, "writes recorded while migrating")

    drain_out = _mig("drain", *d)
    assert "Marker status: draining" in drain_out
    code, headers, answer = _http("POST", f"{old_url}/books", {"title": "t", "author": "a", "price": 1})
    assert (code, headers.get("Retry-After"), answer["kind"]) == (503, "1", "WritesBlocked")
    assert _http("GET", f"{old_url}/books/1")[0] == 200
    refused = _first_refused(record)  # once: the record grows with every request
    _wait(lambda: any(e["op"] == "read" and e["url"] == old_url and e["t"] > refused
                      for e in _record(record)), "a load read on the draining old service")
    # The runbook, with verify before cutover as DESIGN recommends: what an operator runs
    # between the first refused write and the traffic switch is the window.
    assert "Pending replay entries: 0" in _mig("status", *d)
    assert "Result: ok" in _mig("verify", *d)
    assert "Current status: ready" in _mig("cutover", *d)
    assert "Pending replay entries: 0 (cutover complete)" in _mig("status", *d)
    assert _http("GET", f"{new_url}/books/1")[0] == 200
    switched = time.time()
    control.write_text(new_url)  # the traffic switch
    _wait(lambda: len(_acked(_record(record), new_url)) >= 20, "writes on the new service")
    assert "Dropped _migration_log: yes" in _mig("cleanup-old", *d)
    # The old database has no marker now; the old service still refuses (it saw draining),
    # so a stray client cannot get a write acknowledged that no one will ever replay.
    code, headers, answer = _http("POST", f"{old_url}/books", {"title": "t", "author": "a", "price": 1})
    assert (code, headers.get("Retry-After"), answer["kind"]) == (503, "1", "WritesBlocked")
    assert "retired" in answer["error"]
    load.send_signal(signal.SIGTERM)  # the load stops first: no request is cut off mid-flight
    assert load.wait(timeout=DEADLINE_S) == 0
    processes.end_all()

    entries = _record(record)
    acked = _acked(entries)
    old_reads = [e for e in entries if e["op"] == "read" and e["url"] == old_url]
    assert old_reads and all(e["status"] == 200 for e in old_reads), "a read failed on the old service"
    assert all(e["status"] in (201, 503) for e in entries if e["op"] == "write")
    assert _missing_in(project / new_db.name, acked) == [], "acknowledged writes lost"
    first_new = min(e["t"] for e in _acked(entries, new_url))
    window_ms = (first_new - _first_refused(record)) * 1000
    record_property("write_unavailability_ms", round(window_ms, 1))
    record_property("acknowledged_writes", len(acked))
    verify_ms = next(ms for name, _, ms in RAN if name == "verify")
    record_property("verify_ms", round(verify_ms, 1))
    print(f"\nwrite-unavailability window: {window_ms:.0f} ms (first 503 on a write to the first "
          f"write accepted by the new service; mig commands in it, each a fresh process: "
          f"{_steps_between(_first_refused(record), first_new)}; "
          f"{(first_new - switched) * 1000:.0f} ms from the switch to the first accepted write; "
          f"verify's share {verify_ms:.0f} ms); acknowledged writes: {len(acked)} "
          f"({len(_acked(entries, old_url))} old, {len(_acked(entries, new_url))} new), all in the "
          f"new database; reads on the old service: {len(old_reads)}, all 200", flush=True)
    assert 0 < window_ms < DEADLINE_S * 1000


def _first_refused(record: Path) -> float:
    refused = [e["t"] for e in _record(record) if e["op"] == "write" and e["status"] == 503]
    return min(refused) if refused else float("inf")
