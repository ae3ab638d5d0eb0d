"""Progress for long work: a rich bar with rate and ETA on a terminal, plain lines elsewhere.

Phases only call a callback `(label, done, total)`; this module is the one
that knows about terminals.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

__all__ = ["make_progress"]

Callback = Callable[[str, int, "int | None"], None]


def make_progress(quiet: bool = False, stream: TextIO | None = None) -> Callback:
    stream = stream or sys.stderr
    if quiet:
        return lambda label, done, total: None
    if stream.isatty():
        return _rich_progress(stream)
    return _plain_progress(stream)


def _plain_progress(stream: TextIO) -> Callback:
    last: dict[str, float] = {}
    started: dict[str, float] = {}

    def report(label: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        started.setdefault(label, now)
        finished = total is not None and done >= total
        if not finished and now - last.get(label, 0.0) < 1.0:
            return
        last[label] = now
        elapsed = max(now - started[label], 1e-9)
        rate = done / elapsed
        eta = f", ETA {((total or 0) - done) / rate:.0f} s" if total and rate and not finished else ""
        of = f"/{total}" if total is not None else ""
        stream.write(f"{label}: {done}{of} ({rate:.0f}/s{eta})\n")
        stream.flush()

    return report


def _rich_progress(stream: TextIO) -> Callback:
    import atexit

    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task,
                               TaskID, TextColumn, TimeRemainingColumn)
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{task.speed:,.0f}/s" if task.speed else "")

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   RateColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   console=Console(file=stream))
    tasks: dict[str, TaskID] = {}
    atexit.register(bar.stop)

    def report(label: str, done: int, total: int | None) -> None:
        if label not in tasks:
            bar.start()
            tasks[label] = bar.add_task(label, total=total)
        bar.update(tasks[label], completed=done, total=total)

    return report
