"""Progress for long work: a rich bar with rate and ETA on a terminal, plain lines elsewhere.

Phases only call a callback `(label, done, total)`; this module is the one
that knows about terminals. A task ends when `done` reaches `total`: its bar
is replaced by one static line, and the live display stops as soon as no
task is running, so nothing is redrawn under the output that follows.
`close()` (or `close_all()`, which the CLI calls before it prints a
command's summary) ends whatever is still running, e.g. a copy whose row
count moved while it ran.

A rate is only shown once it means something: measured from the task's
first report (not from zero, which would count work done before it), over at
least `MIN_ELAPSED_S`.
"""

from __future__ import annotations

import atexit
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, TextIO

if TYPE_CHECKING:  # pragma: no cover
    from rich.progress import Progress as RichBar
    from rich.progress import TaskID

__all__ = ["ProgressReporter", "make_progress", "close_all", "MIN_ELAPSED_S"]

Callback = Callable[[str, int, "int | None"], None]
MIN_ELAPSED_S = 0.2
PLAIN_EVERY_S = 1.0


@dataclass
class _Rate:
    """Speed since a task's first report, once that is long enough to mean something."""

    first_done: int
    started: float = field(default_factory=time.monotonic)

    def per_s(self, done: int, now: float) -> float | None:
        elapsed = now - self.started
        return (done - self.first_done) / elapsed if elapsed >= MIN_ELAPSED_S else None


def _describe(done: int, total: int | None, rate: float | None, finished: bool) -> str:
    """`1000/20028`, then `5000/20028 (12,345/s, ETA 1 s)`, last `20028/20028 done (…/s)`."""
    text = f"{done}/{total}" if total is not None else str(done)
    facts = [f"{rate:,.0f}/s"] if rate else []
    if rate and total is not None and not finished:
        facts.append(f"ETA {max(total - done, 0) / rate:.0f} s")
    if finished:
        text += " done"
    return text + (f" ({', '.join(facts)})" if facts else "")


class ProgressReporter:
    """The callback phases call; `close()` ends every task still shown."""

    def __call__(self, label: str, done: int, total: int | None) -> None:
        pass

    def close(self) -> None:
        pass


class _Plain(ProgressReporter):
    """One line per task at most every PLAIN_EVERY_S, and one when it finishes."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._rates: dict[str, _Rate] = {}
        self._last: dict[str, float] = {}
        self._finished: set[str] = set()

    def __call__(self, label: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if label in self._finished:
            if finished:
                return  # a repeated final report: said already
            self._finished.discard(label)  # the same label again: a new task
            self._rates.pop(label, None)
        rate = self._rates.setdefault(label, _Rate(done, now))
        if not finished and label in self._last and now - self._last[label] < PLAIN_EVERY_S:
            return
        self._last[label] = now
        if finished:
            self._finished.add(label)
            del self._last[label]
        self._stream.write(f"{label}: {_describe(done, total, rate.per_s(done, now), finished)}\n")
        self._stream.flush()


class _Rich(ProgressReporter):
    """A live rich display while a task runs; a finished task leaves one static line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._bar: RichBar | None = None
        self._tasks: dict[str, tuple[TaskID, _Rate]] = {}
        self._finished: set[str] = set()

    def _display(self) -> RichBar:
        if self._bar is None:
            self._bar = _rich_bar(self._stream)
            self._bar.start()
            _LIVE.append(self)
        return self._bar

    def __call__(self, label: str, done: int, total: int | None) -> None:
        finished = total is not None and done >= total
        if label in self._finished:
            if finished:
                return  # a repeated final report: said already
            self._finished.discard(label)  # the same label again: a new task
        if label not in self._tasks:
            if finished and self._bar is None:
                self._finished.add(label)
                return self._line(label, done, total, None)  # nothing to animate
            # completed=done: rich's speed starts from here, not from 0
            task = self._display().add_task(label, total=total, completed=done)
            self._tasks[label] = (task, _Rate(done))
        task, rate = self._tasks[label]
        assert self._bar is not None
        self._bar.update(task, completed=done, total=total)
        if finished:
            self._finish(label, done, total)

    def _finish(self, label: str, done: int, total: int | None) -> None:
        task, rate = self._tasks.pop(label)
        self._finished.add(label)
        assert self._bar is not None
        self._bar.remove_task(task)
        if self._tasks:
            self._bar.refresh()  # the other tasks only
        else:
            self.close()  # erase the live region before the static line, not after
        self._line(label, done, total, rate.per_s(done, time.monotonic()))

    def _line(self, label: str, done: int, total: int | None, rate: float | None) -> None:
        text = f"{label}: {_describe(done, total, rate, total is not None and done >= total)}"
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)  # above the live bars
        else:
            self._stream.write(text + "\n")
            self._stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()  # transient: the live region is erased, the static lines stay
            self._bar = None
            self._tasks.clear()
        if self in _LIVE:
            _LIVE.remove(self)


def _rich_bar(stream: TextIO) -> RichBar:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            shown = task.speed and (task.elapsed or 0) >= MIN_ELAPSED_S
            return Text(f"{task.speed:,.0f}/s" if shown else "")

    class EtaColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            left = task.time_remaining
            shown = left is not None and (task.elapsed or 0) >= MIN_ELAPSED_S
            return Text(f"ETA {left:.0f} s" if shown else "")

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    RateColumn(), EtaColumn(), console=Console(file=stream), transient=True)


_LIVE: list[_Rich] = []


def close_all() -> None:
    """Stop every live display (the CLI calls this before printing a summary)."""
    for reporter in list(_LIVE):
        reporter.close()


atexit.register(close_all)  # an exit mid-task must not leave the cursor hidden


def make_progress(quiet: bool = False, stream: TextIO | None = None) -> ProgressReporter:
    stream = stream or sys.stderr
    if quiet:
        return ProgressReporter()
    if stream.isatty():
        return _Rich(stream)
    return _Plain(stream)
