"""The README's first command: `mig demo` runs the runbook with a live writer and loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

from clihelp import run_mig


def test_demo_runs_the_runbook_and_loses_no_write(tmp_path: Path) -> None:
    out = run_mig("demo", "--dir", str(tmp_path), "--rows", "3000", timeout=120)
    assert out.returncode == 0, out.stderr
    for step in ("$ mig migrate", "$ mig drain", "$ mig cutover", "$ mig cleanup-old",
                 "Copied rows: ", "Marker status: draining", "Result: ok"):
        assert step in out.stdout, step
    assert "Lost writes: 0" in out.stdout


def test_demo_json_reports_the_figures(tmp_path: Path) -> None:
    out = run_mig("demo", "--json", "--dir", str(tmp_path), "--rows", "2000", timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["lost_writes"] == 0 and data["rows_copied"] >= 2000
    assert data["writes_acknowledged"] > 0 and data["window_ms"] is not None
