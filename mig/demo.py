"""`mig demo`: the whole runbook on a built-in example, with a live writer, in a temporary directory.

A shop database (customers, orders with REAL, BLOB, NULL and Unicode values)
is migrated to a new schema (a new column with a default, a renamed column,
an index, a view) while a separate writer process keeps inserting orders.
Every step prints its real output; the report at the end proves that every
write the old database acknowledged is in the new one.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mig import commands
from mig.errors import WrongState
from mig.model import schema_hash
from mig.progress import make_progress
from mig.render_text import render_text
from mig.schema.sql import loads

__all__ = ["DemoReport", "run_demo"]

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


@dataclass
class DemoReport:
    """The figures the demo proves; `lines()` is what `mig demo` prints last."""

    directory: str
    rows_copied: int
    writes_acknowledged: int
    writes_recorded: int
    writes_replayed: int
    window_ms: float | None
    lost_writes: int

    def lines(self) -> list[str]:
        window = f"{self.window_ms:.0f} ms" if self.window_ms is not None else "n/a"
        return ["", "Demo report", f"Project directory: {self.directory}",
                f"Rows copied: {self.rows_copied}",
                f"Writes acknowledged by the databases: {self.writes_acknowledged}",
                f"Writes recorded in the log: {self.writes_recorded}",
                f"Writes replayed by drain: {self.writes_replayed}",
                f"Write-unavailability window: {window}",
                f"Lost writes: {self.lost_writes}"]


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


def _acks(ack_file: Path) -> list[dict[str, Any]]:
    """Complete lines only: the writer may be in the middle of the last one."""
    complete = ack_file.read_text().split("\n")[:-1]
    return [json.loads(line) for line in complete if line.strip()]


def _wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and not predicate():
        time.sleep(0.02)


def _lost(new_db: Path, acks: list[dict[str, Any]]) -> int:
    conn = sqlite3.connect(f"file:{new_db}?mode=ro", uri=True)
    lost = 0
    for a in acks:
        row = conn.execute("SELECT amount, receipt, comment FROM orders WHERE id = ?", (a["id"],)).fetchone()
        if row is None or row[0].hex() != a["amount"] or row[1].hex() != a["receipt"] or row[2] != a["note"]:
            lost += 1
    conn.close()
    return lost


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


def _stop(writer: subprocess.Popen[bytes], ack_file: Path) -> None:
    Path(str(ack_file) + ".stop").touch()
    try:
        writer.wait(timeout=10)
    except subprocess.TimeoutExpired:
        writer.kill()
        writer.wait(timeout=10)


def run_demo(directory: str | None, rows: int = 20_000, quiet: bool = False) -> DemoReport:
    project = _project_dir(directory, rows)
    say: Callable[[str], None] = (lambda s: None) if quiet else (lambda s: print(s, flush=True))
    progress = make_progress(quiet=quiet)
    old_db = project / f"shop-{schema_hash(loads(OLD_SCHEMA))}.sqlite"
    _make_old_db(old_db, rows)
    (project / "schema.sql").write_text(NEW_SCHEMA)
    say(f"Built {old_db.name}: {rows} orders. New schema: {project / 'schema.sql'}")
    ack_file = project / "writer-acks.jsonl"
    ack_file.touch()
    writer = subprocess.Popen([sys.executable, "-m", "mig.demo_writer", str(old_db), str(ack_file)])
    inputs = commands.Inputs(project)
    try:
        _wait_for(lambda: len(_acks(ack_file)) >= 20, 10)

        def step(name: str, call: Callable[[], Any]) -> Any:
            say(f"\n$ mig {name}")
            report = call()
            say(render_text(name, report))
            return report

        migrated = step("migrate", lambda: commands.migrate_command(inputs, progress=progress))
        time.sleep(0.5)  # the old service keeps writing; every write is logged
        step("status", lambda: commands.status_command(inputs))
        drained = step("drain", lambda: commands.drain_command(inputs, progress=progress))
        step("cutover", lambda: commands.cutover_command(inputs))
        recorded = step("status", lambda: commands.status_command(inputs)).log_entries or 0
        step("verify", lambda: commands.verify_command(inputs))
        say("\n# traffic switch: the writer moves to the new database")
        Path(str(ack_file) + ".switch").write_text(json.dumps({"db": migrated.new,
                                                               "note_column": "comment"}))
        _wait_for(lambda: any(a.get("db") == migrated.new and "acked" in a for a in _acks(ack_file)), 10)
        step("cleanup-old", lambda: commands.cleanup_old_command(commands.Inputs(project, old=old_db)))
    finally:
        _stop(writer, ack_file)
    acks = [a for a in _acks(ack_file) if "acked" in a]
    rejected = [a["rejected"] for a in _acks(ack_file)
                if "rejected" in a and "writes are blocked" in a["error"]]
    first_new = [a["acked"] for a in acks if a["db"] == migrated.new]
    window = (min(first_new) - min(rejected)) * 1000 if rejected and first_new else None
    return DemoReport(str(project), migrated.copied_rows, len(acks), recorded,
                      drained.replayed, window, _lost(Path(migrated.new), acks))
