"""`mig demo` as a user first meets it: no arguments, a real subprocess, well under 30 s, no lost write."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


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
