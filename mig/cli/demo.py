"""`mig demo`: the whole runbook on a built-in example, with a live writer, in a temporary directory.

A shop database (customers, orders with REAL, BLOB, NULL and Unicode values)
is migrated to a new schema (a new column with a default, a renamed column,
an index, a view) while a separate writer process keeps inserting orders.
Every step prints its real output, in the runbook's order with `mig verify`
before cutover (drain, status, verify, cutover, status, traffic switch); then
the new service writes and `mig revert` carries its writes back to the old
database, the traffic goes back, and drain --cutover goes forward again. The
report at the end proves that every write the databases acknowledged is in
the new one (and that revert carried back every write the new one took), and
measures the write-unavailability windows, the first step by step.
Ctrl-C, SIGTERM or SIGHUP stop the writer and end with one line naming the
half-migrated project directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from mig import commands
from mig.cli.demo_report import ACK_FILE, DemoReport, Story, acks, lost, report
from mig.cli.progress import ProgressReporter, make_progress
from mig.cli.text import render_text
from mig.errors import MigError, WrongState
from mig.model import schema_hash
from mig.schema.sql import loads

__all__ = ["DemoReport", "DemoInterrupted", "run_demo"]

SWITCH_WAIT_S = 10

OLD_SCHEMA = """
CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
                        email TEXT UNIQUE, joined REAL);
CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT,
                     customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
                     amount REAL NOT NULL, receipt BLOB, note TEXT);
"""

NEW_SCHEMA = """
-- v2: orders get a status, `note` becomes `comment`, and a per-customer index and view.
CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
                        email TEXT UNIQUE, joined REAL);
CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT,
                     customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
                     amount REAL NOT NULL, receipt BLOB, comment TEXT,
                     status TEXT NOT NULL DEFAULT 'placed');
CREATE INDEX ix_orders_customer ON orders(customer_id);
CREATE VIEW customer_totals AS
  SELECT c.id, c.name, count(o.id) AS orders, total(o.amount) AS spent
  FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id;
-- mig:rename-column orders note comment
"""


class DemoInterrupted(MigError):
    """Ctrl-C, SIGTERM or SIGHUP: the writer is stopped, the half-migrated project is kept."""

    kind = "interrupted"

    def __init__(self, signal_name: str, step: str, project: Path) -> None:
        self.exit_code = 128 + int(getattr(signal, signal_name))
        super().__init__(f"interrupted by {signal_name} during {step}; the writer is stopped and "
                         f"the half-migrated project is in {project} (`mig status --dir "
                         f"{project}`; before cutover `mig abort --dir {project}` undoes it)")


class _Signalled(BaseException):
    """Raised from a signal handler; a BaseException, so no `except Exception` swallows it."""

    def __init__(self, signum: int) -> None:
        self.name = signal.Signals(signum).name
        super().__init__(self.name)


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP interrupt the demo the way Ctrl-C does, so its `finally` runs."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, frame: object) -> None:
        raise _Signalled(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _make_old_db(path: Path, rows: int) -> None:
    rng = random.Random(1)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(OLD_SCHEMA)
    customers = max(1, rows // 10)
    names = ["Ana", "Bjørn", "Chloé", "Dmitri", "Eun-ji", "Fatima", "Gökhan", "黃", "Ωmega"]
    conn.executemany("INSERT INTO customers (name, email, joined) VALUES (?, ?, ?)",
                     ((f"{rng.choice(names)} {i}", f"c{i}@example.org", rng.random() * 1e9)
                      for i in range(customers)))
    conn.executemany("INSERT INTO orders (customer_id, amount, receipt, note) VALUES (?, ?, ?, ?)",
                     ((rng.randint(1, customers), rng.random() * 500, rng.randbytes(16),
                       rng.choice([None, "fragile", "gift ✓"])) for _ in range(rows)))
    conn.commit()
    conn.close()


def _wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and not predicate():
        time.sleep(0.02)


def _project_dir(directory: str | None, rows: int) -> Path:
    """A fresh `shop/` project; an operator mistake here is a one-line error, not a traceback."""
    if rows < 0:
        raise WrongState(f"--rows must be 0 or more, not {rows}")
    base = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="mig-demo-"))
    project = base / "shop"
    if project.exists():
        raise WrongState(f"{project} already exists; pass another --dir, or none for a "
                         "temporary directory")
    try:
        project.mkdir(parents=True)
    except OSError as exc:
        raise WrongState(f"cannot create {project}: {exc.strerror}") from exc
    return project


def _start_writer(old_db: Path, ack_file: Path) -> subprocess.Popen[bytes]:
    # A session of its own: the terminal's Ctrl-C reaches only the demo, which stops the
    # writer in order (no traceback from it); the writer also leaves if the demo dies.
    return subprocess.Popen([sys.executable, "-m", "mig.cli.demo_writer", str(old_db), str(ack_file),
                             str(os.getpid())], start_new_session=True)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """While the writer is being stopped, a second Ctrl-C must not leave it running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN)
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _switch_writer(ack_file: Path, db: str, writer: subprocess.Popen[bytes], note_column: str = "comment",
                   which: str = "new") -> float:
    """Moves the writer to `db` (the `which` database) and waits for its first write there;
    when the switch was made."""
    switch = Path(str(ack_file) + ".switch")
    # Written aside and renamed: the writer polls for the file and must never read it half-written.
    staged = switch.with_name(switch.name + ".tmp")
    switched = time.time()
    staged.write_text(json.dumps({"db": db, "note_column": note_column, "seq": time.time_ns()}))
    os.replace(staged, switch)

    def reached() -> bool:
        return any(a.get("db") == db and a.get("acked", 0) >= switched for a in acks(ack_file))

    _wait_for(lambda: writer.poll() is not None or reached(), SWITCH_WAIT_S)
    if not reached():
        state = (f"exited with code {writer.returncode}" if writer.poll() is not None
                 else f"wrote nothing there within {SWITCH_WAIT_S} s")
        raise WrongState(f"the demo's writer did not reach the {which} database ({state}); the "
                         f"step before is done, the project is in {ack_file.parent}")
    return switched


def _stop(writer: subprocess.Popen[bytes], ack_file: Path) -> None:
    with _signals_ignored():
        Path(str(ack_file) + ".stop").touch()
        try:
            writer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait(timeout=10)


@dataclass
class _Steps:
    """Runs the demo's `mig` steps: prints each one's output, remembers when it ran and how long."""

    say: Callable[[str], None]
    progress: ProgressReporter
    current: str = "the setup"
    ran: list[tuple[str, float, float]] = field(default_factory=list)  # name, wall start, ms

    def run(self, name: str, call: Callable[[], Any], options: str = "") -> Any:
        self.current = f"`mig {name}`"
        self.say(f"\n$ mig {name}{' ' + options if options else ''}")
        started, clock = time.time(), time.perf_counter()
        try:
            report = call()
        finally:
            self.progress.close()  # no bar may be redrawn under the step's output
        self.ran.append((name, started, (time.perf_counter() - clock) * 1000))
        self.say(render_text(name, report))
        return report

    def between(self, first: str, until: float) -> dict[str, float]:
        """Durations of the steps from the last `first` to the wall time `until`, a repeated
        name marked `again`."""
        start = max(i for i, (name, _, _) in enumerate(self.ran) if name == first)
        out: dict[str, float] = {}
        for name, started, ms in self.ran[start:]:
            if started < until:
                out[name if name not in out else f"{name} again"] = ms
        return out


def run_demo(directory: str | None, rows: int = 20_000, quiet: bool = False) -> DemoReport:
    project = _project_dir(directory, rows)
    say: Callable[[str], None] = (lambda s: None) if quiet else (lambda s: print(s, flush=True))
    steps = _Steps(say, make_progress(quiet=quiet))
    try:
        with _signals_raise():
            story = _tell(project, rows, steps)
    except KeyboardInterrupt:
        raise DemoInterrupted("SIGINT", steps.current, project) from None
    except _Signalled as exc:
        raise DemoInterrupted(exc.name, steps.current, project) from None
    return report(project, story)


def _tell(project: Path, rows: int, steps: _Steps) -> Story:
    """The runbook, with verify before cutover: drain, status, verify, cutover, status, switch;
    then a revert with the writer on the new database, the traffic back, and forward again."""
    old_db = project / f"shop-{schema_hash(loads(OLD_SCHEMA))}.sqlite"
    steps.say(f"Project directory: {project}")
    _make_old_db(old_db, rows)
    (project / "schema.sql").write_text(NEW_SCHEMA)
    steps.say(f"Built {old_db.name}: {rows} orders. New schema: schema.sql")
    ack_file = project / ACK_FILE
    ack_file.touch()
    writer = _start_writer(old_db, ack_file)
    inputs = commands.Inputs(project)
    try:
        _wait_for(lambda: len(acks(ack_file)) >= 20, 10)
        migrated = steps.run("migrate", lambda: commands.migrate_command(inputs, progress=steps.progress))
        time.sleep(0.5)  # the old service keeps writing; every write is logged
        steps.run("status", lambda: commands.status_command(inputs))
        drained = steps.run("drain", lambda: commands.drain_command(inputs, progress=steps.progress))
        steps.run("status", lambda: commands.status_command(inputs))
        if not steps.run("verify", lambda: commands.verify_command(inputs)).ok:
            raise WrongState(f"mig verify found differing tables; the demo stops before cutover "
                             f"(the project is in {project})")
        steps.run("cutover", lambda: commands.cutover_command(inputs))
        recorded = steps.run("status", lambda: commands.status_command(inputs)).log_entries or 0
        steps.say("\n# traffic switch: the writer moves to the new database")
        switched = _switch_writer(ack_file, migrated.new, writer)
        story = Story(migrated.new, str(old_db), migrated.copied_rows, drained.replayed, recorded, switched,
                       steps.between("drain", until=time.time()))
        _revert_and_forward(story, inputs, steps, ack_file, writer)
        steps.run("cleanup-old", lambda: commands.cleanup_old_command(commands.Inputs(project, old=old_db)))
    finally:
        _stop(writer, ack_file)
    return story


def _revert_and_forward(story: Story, inputs: commands.Inputs, steps: _Steps, ack_file: Path,
                        writer: subprocess.Popen[bytes]) -> None:
    """The way back and forward again: the new service writes, `mig revert` carries its writes
    back to the old database, the traffic goes back, then drain --cutover and the traffic
    switch again."""
    time.sleep(0.3)  # the new service writes; every write is recorded for a revert
    story.reverted = time.time()
    steps.run("revert", lambda: commands.revert_command(inputs, progress=steps.progress))
    steps.say("\n# traffic back: the writer returns to the old database")
    story.back = _switch_writer(ack_file, story.old_db, writer, note_column="note", which="old")
    carried = [a for a in acks(ack_file) if "acked" in a and a["db"] == story.new_db]
    story.carried, story.carried_lost = len(carried), lost(Path(story.old_db), carried, note_column="note")
    steps.run("status", lambda: commands.status_command(inputs))
    steps.say("\n# forward again: the fixed service is ready")
    steps.run("drain", lambda: commands.drain_command(inputs, steps.progress, then_cutover=True), "--cutover")
    steps.say("\n# traffic switch again")
    _switch_writer(ack_file, story.new_db, writer)
