"""The README's first command: `mig demo` runs the runbook with a live writer and loses nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from clihelp import run_mig
from terminal import run_on_a_terminal


def test_demo_runs_the_runbook_and_loses_no_write(tmp_path: Path) -> None:
    out = run_mig("demo", "--dir", str(tmp_path), "--rows", "3000", timeout=120)
    assert out.returncode == 0, out.stderr
    steps = ["$ mig migrate", "$ mig status", "$ mig drain", "$ mig status", "$ mig verify",
             "$ mig cutover", "$ mig status", "# traffic switch", "$ mig revert", "# traffic back",
             "$ mig status", "Revert window: reverted", "$ mig drain --cutover", "# traffic switch again",
             "$ mig cleanup-old", "Closed the revert window: yes", "Demo report"]
    at = 0
    for step in steps:  # in the runbook's order, verify before cutover
        at = out.stdout.index(step, at) + len(step)
    for line in ("Copied rows: ", "Marker status: draining", "Result: ok",
                 "Write-unavailability window: ", "Verify inside the window: ",
                 "Writes before capture began: ", f"Project directory: {tmp_path / 'shop'}"):
        assert line in out.stdout, line
    assert "Lost writes: 0 " in out.stdout
    assert "missing from the old one after the revert: 0)" in out.stdout
    window = next(l for l in out.stdout.splitlines() if l.startswith("Window steps: "))
    assert "drain" in window and "verify" in window and "traffic switch" in window
    assert "cleanup-old" not in window  # it runs after the switch


def test_demo_json_reports_the_figures(tmp_path: Path) -> None:
    out = run_mig("demo", "--json", "--dir", str(tmp_path), "--rows", "2000", timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["lost_writes"] == 0 and data["rows_copied"] >= 2000
    assert data["writes_acknowledged"] > 0 and data["window_ms"] is not None
    assert data["writes_acknowledged"] == data["writes_acknowledged_old"] + data["writes_acknowledged_new"]
    assert data["writes_acknowledged_old"] == data["writes_before_capture"] + data["writes_recorded"]
    assert data["writes_recorded"] == data["writes_replayed"]
    assert 0 < data["verify_ms"] < data["window_ms"]
    assert data["writes_carried_back"] > 0 and data["writes_not_carried_back"] == 0
    assert data["revert_window_ms"] is not None and data["writes_in_all"] > data["writes_acknowledged"]
    assert set(data["window_steps_ms"]) == {"drain", "status", "verify", "cutover", "status again",
                                            "traffic switch"}


def test_demo_on_a_terminal_draws_no_bar_after_its_step(tmp_path: Path) -> None:
    code, drawn = run_on_a_terminal([sys.executable, "-m", "mig.cli", "demo", "--dir", str(tmp_path),
                                     "--rows", "30000"], timeout=120)
    assert code == 0, drawn
    assert "copy orders" in drawn and "━" in drawn  # a bar was drawn
    after_migrate = drawn[drawn.index("Copied rows"):drawn.index("$ mig drain")]
    assert "━" not in after_migrate, "bar redrawn after migrate"
    assert "━" not in drawn[drawn.index("Replayed entries"):], "bar redrawn after drain"
    assert "Lost writes: 0 " in drawn
