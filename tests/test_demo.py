"""`mig demo` as a user first meets it: no arguments, a real subprocess, well under 30 s, no lost write."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mig.cli import demo
from mig.errors import WrongState


def _demo(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp)}  # where the demo's temporary directory goes
    return subprocess.run([sys.executable, "-m", "mig.cli", "demo", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_demo_needs_no_arguments_and_loses_no_write(tmp_path: Path) -> None:
    started = time.monotonic()
    out = _demo(tmp=tmp_path)
    took = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    text = out.stdout.lower()
    assert "lost writes: 0" in text
    for step in ("$ mig migrate", "$ mig status", "$ mig drain", "$ mig cutover", "$ mig cleanup-old"):
        assert step in out.stdout, step
    assert "rows copied: " in text and "write-unavailability window: " in text
    assert "Traceback" not in out.stderr
    assert took < 30, f"mig demo took {took:.1f} s"
    assert len(list(tmp_path.glob("mig-demo-*/shop/schema.sql"))) == 1


def test_demo_into_a_used_directory_is_a_one_line_error(tmp_path: Path) -> None:
    assert _demo("--dir", str(tmp_path), "--rows", "500", tmp=tmp_path).returncode == 0
    again = _demo("--dir", str(tmp_path), "--rows", "500", tmp=tmp_path)
    assert again.returncode == 1
    assert again.stderr.startswith("demo failed: ") and again.stderr.count("\n") == 1
    assert "already exists" in again.stderr


def _writers(under: Path) -> list[int]:
    """Live mig.cli.demo_writer processes working in `under` (read from /proc)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if b"mig.cli.demo_writer" in argv and any(str(under).encode() in a for a in argv) and state != "Z":
            pids.append(int(proc.name))
    return pids


def _default_sigint() -> None:
    # A shell without job control starts background jobs with SIGINT ignored, and the
    # demo would inherit that: Python then leaves Ctrl-C ignored instead of raising.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_until(tmp: Path, marker: bytes) -> tuple[subprocess.Popen[bytes], bytes]:
    """A demo in its own session (as a terminal's foreground job), read until `marker`."""
    demo = subprocess.Popen([sys.executable, "-m", "mig.cli", "demo", "--dir", str(tmp),
                             "--rows", "5000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=_default_sigint)
    assert demo.stdout is not None
    seen, end = b"", time.monotonic() + 60
    while marker not in seen and time.monotonic() < end:
        chunk = os.read(demo.stdout.fileno(), 65536)
        if not chunk:
            break
        seen += chunk
    assert marker in seen, seen.decode()
    return demo, seen


@pytest.mark.parametrize("how", ["SIGINT to the group (Ctrl-C)", "SIGTERM", "SIGHUP"])
def test_an_interrupted_demo_stops_its_writer_and_names_the_project(tmp_path: Path, how: str) -> None:
    demo, _ = _start_until(tmp_path, b"$ mig status")
    assert _writers(tmp_path), "the writer should be running"
    if how.startswith("SIGINT"):
        os.killpg(demo.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    else:
        demo.send_signal(getattr(signal, how))
    _, err = demo.communicate(timeout=30)
    stderr = err.decode()
    signame = how.split()[0]
    assert demo.returncode == 128 + getattr(signal, signame), stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr, stderr
    said = [l for l in stderr.splitlines() if not re.match(r"(copy \w+|replay): \d", l)]
    assert len(said) == 1 and said[0].startswith(f"demo failed: interrupted by {signame} during `mig ")
    assert str(tmp_path / "shop") in said[0]
    assert _writers(tmp_path) == []


def test_a_killed_demo_leaves_no_writer_behind(tmp_path: Path) -> None:
    demo, _ = _start_until(tmp_path, b"$ mig migrate")
    demo.kill()  # no handler runs: the writer notices its parent is gone
    demo.wait(timeout=10)
    end = time.monotonic() + 60  # a deadline, not a wait: on a loaded machine the writer is slower to look
    while _writers(tmp_path) and time.monotonic() < end:
        time.sleep(0.05)
    assert _writers(tmp_path) == []


def _orders_db(path: Path, note_column: str) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(f"""PRAGMA journal_mode=WAL;
        CREATE TABLE customers (id INTEGER PRIMARY KEY);
        INSERT INTO customers VALUES (1);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, amount REAL,
                             receipt BLOB, {note_column} TEXT);""")
    conn.close()


def test_the_writer_follows_the_traffic_switch_and_keeps_writing(tmp_path: Path) -> None:
    old, new, acks = tmp_path / "old.sqlite", tmp_path / "new.sqlite", tmp_path / demo.ACK_FILE
    _orders_db(old, "note")
    _orders_db(new, "comment")
    acks.touch()
    writer = demo._start_writer(old, acks)
    try:
        demo._wait_for(lambda: len(demo.acks(acks)) >= 5, 10)
        demo._switch_writer(acks, str(new), writer)
        assert writer.poll() is None  # it read the switch file whole and went on
        assert not list(tmp_path.glob("*.tmp"))
    finally:
        demo._stop(writer, acks)
    dbs = [a["db"] for a in demo.acks(acks) if "acked" in a]
    assert dbs[0] == str(old) and dbs[-1] == str(new)
    assert dbs == sorted(dbs, key=lambda db: db == str(new))  # never back to the old one


def test_a_writer_that_never_reaches_the_new_database_stops_the_demo(tmp_path: Path) -> None:
    acks = tmp_path / demo.ACK_FILE
    acks.touch()
    gone = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    gone.wait(timeout=10)
    started = time.monotonic()
    with pytest.raises(WrongState, match=r"did not reach the new database \(exited with code 3\)"):
        demo._switch_writer(acks, str(tmp_path / "new.sqlite"), gone)
    assert time.monotonic() - started < demo.SWITCH_WAIT_S / 2  # noticed, not waited out
