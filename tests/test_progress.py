"""mig/cli/progress.py: plain lines that never invent a rate, and rich bars that end with their task
and never outlive it -- checked on a real pseudo-terminal, in process and through `mig migrate`."""

from __future__ import annotations

import io
import os
import pty
import select
import sys
import time
from pathlib import Path

from clihelp import project
from terminal import run_on_a_terminal

from mig.cli.progress import MIN_ELAPSED_S, make_progress


def test_plain_lines_show_a_rate_only_once_it_means_something() -> None:
    out = io.StringIO()
    report = make_progress(stream=out)
    report("copy orders", 1000, 20028)  # the first chunk arrives a few ms after the start
    time.sleep(MIN_ELAPSED_S + 0.05)
    report("copy orders", 20028, 20028)
    report("copy orders", 20028, 20028)  # a repeated final report is said once
    first, last = out.getvalue().splitlines()
    assert first == "copy orders: 1000/20028"
    assert last.startswith("copy orders: 20028/20028 done (") and "ETA" not in last
    rate = float(last.split("(")[1].split("/s")[0].replace(",", ""))
    assert 19028 / 1.0 < rate < 19028 / MIN_ELAPSED_S  # measured from the first report


def test_plain_lines_give_an_eta_while_running() -> None:
    out = io.StringIO()
    report = make_progress(stream=out)
    report("replay", 0, 300)
    time.sleep(1.05)  # plain lines come at most once a second
    report("replay", 100, 300)
    line = out.getvalue().splitlines()[-1]
    assert line.startswith("replay: 100/300 (") and "/s, ETA 2 s)" in line


def _read_for(fd: int, seconds: float) -> str:
    end, data = time.monotonic() + seconds, b""
    while time.monotonic() < end:
        if select.select([fd], [], [], 0.05)[0]:
            data += os.read(fd, 65536)
    return data.decode("utf-8", "replace")


def test_a_finished_bar_is_not_redrawn_under_later_output() -> None:
    master, slave = pty.openpty()
    stream = os.fdopen(slave, "w", buffering=1)
    try:
        report = make_progress(stream=stream)
        report("copy orders", 1000, 20028)
        time.sleep(0.3)  # let the live display draw a few times
        report("copy orders", 20028, 20028)
        stream.write("SUMMARY\n")
        stream.flush()
        drawn = _read_for(master, 0.6)  # rich redraws 10 times a second while live
    finally:
        report.close()
        stream.close()
        os.close(master)
    before, after = drawn.split("SUMMARY", 1)
    assert "copy orders" in before and "20028/20028 done" in before
    assert "copy orders" not in after, "the bar was drawn again after the summary"


def test_mig_migrate_on_a_terminal_stops_its_bar_before_the_summary(tmp_path: Path) -> None:
    rows = ",".join(f"({i}, 'name {i}')" for i in range(30000))
    d = project(tmp_path, f"CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);"
                          f"INSERT INTO t VALUES {rows};",
                "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, extra TEXT);")
    code, drawn = run_on_a_terminal([sys.executable, "-m", "mig.cli", "migrate", "--dir", str(d)])
    assert code == 0, drawn
    assert "copy t" in drawn and "Copied rows: 30000" in drawn
    assert drawn.rindex("copy t") < drawn.index("Copied rows"), "a bar was drawn after the summary"
