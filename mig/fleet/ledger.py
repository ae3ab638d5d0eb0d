"""The fleet's ledger: an SQLite file of its own with each tenant's state and result, written
by the coordinator alone, so that a fleet run killed anywhere continues where it stopped
when run again, and `mig fleet status` can read it at any time.

A tenant is `pending`, `running` (sent to a worker; a run killed then finds it so and sends
it again: every phase is re-runnable), `done`, `failed` (aborted, with its message; run
again, it is tried again), `refused` (its plan refuses the change) or `skipped` (refused,
and the run was told to go on without it). `done` is final: a tenant is never migrated
twice.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from mig.errors import NotFound, WrongState
from mig.fleet.tenants import Tenant
from mig.sqlite.connect import open_ro

__all__ = ["Ledger", "Summary", "STATES"]

STATES = ("pending", "running", "done", "failed", "refused", "skipped")
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS fleet (id INTEGER PRIMARY KEY CHECK (id = 1), schema_hash TEXT NOT NULL, "
    "schema TEXT NOT NULL, started_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tenant (ord INTEGER NOT NULL, old TEXT PRIMARY KEY, new TEXT NOT NULL, "
    "state TEXT NOT NULL, phase TEXT, message TEXT, attempts INTEGER NOT NULL DEFAULT 0, "
    "canary INTEGER NOT NULL DEFAULT 0, seconds REAL, window_ms REAL, updated_at REAL NOT NULL)",
]


@dataclass
class Summary:
    """What `mig fleet status` shows."""

    ledger: str
    schema: str
    schema_hash: str
    tenants: int
    counts: dict[str, int]
    failures: list[dict[str, str]] = field(default_factory=list)  # old, phase, message
    slowest: list[dict[str, object]] = field(default_factory=list)  # old, seconds
    rate: float | None = None  # tenants done per second since the first start
    started_at: float | None = None


class Ledger:
    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn, self.path = conn, path

    @classmethod
    def open(cls, path: Path) -> "Ledger":
        """Open or create the ledger of a run."""
        conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")  # status reads while a run writes
        # No fsync per mark: a mark lost to a power cut only sends a tenant again, and a
        # tenant already cut over comes back `done` without any work.
        conn.execute("PRAGMA synchronous=NORMAL")
        for sql in _SCHEMA:
            conn.execute(sql)
        return cls(conn, path)

    @classmethod
    def read(cls, path: Path) -> "Ledger":
        """Open an existing ledger to read it; never creates one."""
        if not path.is_file():
            raise NotFound(f"no fleet ledger at {path}; pass --ledger with the file `mig fleet run` wrote")
        return cls(open_ro(path), path)

    def close(self) -> None:
        self.conn.close()

    def begin(self, schema_hash: str, schema: str, tenants: list[Tenant]) -> None:
        """Record the run's schema (a ledger serves one schema) and add the tenants it does
        not hold yet, in the order given."""
        row = self.conn.execute("SELECT schema_hash, schema FROM fleet").fetchone()
        if row is not None and row[0] != schema_hash:
            raise WrongState(f"the ledger {self.path} is for another schema ({row[1]}, hash {row[0]}); "
                             "pass another --ledger for this one")
        now = time.time()
        self.conn.execute("BEGIN IMMEDIATE")
        if row is None:
            self.conn.execute("INSERT INTO fleet VALUES (1, ?, ?, ?)", (schema_hash, schema, now))
        first = self.conn.execute("SELECT coalesce(max(ord), 0) FROM tenant").fetchone()[0]
        self.conn.executemany(
            "INSERT OR IGNORE INTO tenant (ord, old, new, state, updated_at) VALUES (?, ?, ?, 'pending', ?)",
            [(first + i + 1, str(t.old), str(t.new), now) for i, t in enumerate(tenants)])
        self.conn.execute("COMMIT")

    def states(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT old, state FROM tenant"))

    def mark(self, old: Path, state: str, **fields: object) -> None:
        """One tenant's new state, with what is known of it (phase, message, seconds, ...)."""
        assert state in STATES
        sets = "".join(f", {name} = ?" for name in fields)
        bump = ", attempts = attempts + 1" if state == "running" else ""
        self.conn.execute(f"UPDATE tenant SET state = ?, updated_at = ?{sets}{bump} WHERE old = ?",
                          (state, time.time(), *fields.values(), str(old)))

    def summary(self, failures: int = 20, slowest: int = 5) -> Summary:
        fleet = self.conn.execute("SELECT schema_hash, schema, started_at FROM fleet").fetchone()
        if fleet is None:
            raise WrongState(f"the ledger {self.path} holds no fleet run yet")
        counts = {s: 0 for s in STATES}
        counts.update(dict(self.conn.execute("SELECT state, count(*) FROM tenant GROUP BY state")))
        failed = [{"old": o, "phase": p or "", "message": m or ""} for o, p, m in self.conn.execute(
            "SELECT old, phase, message FROM tenant WHERE state IN ('failed', 'refused', 'skipped') "
            "ORDER BY ord LIMIT ?", (failures,))]
        slow = [{"old": o, "seconds": s} for o, s in self.conn.execute(
            "SELECT old, seconds FROM tenant WHERE state = 'done' AND seconds IS NOT NULL "
            "ORDER BY seconds DESC LIMIT ?", (slowest,))]
        last = self.conn.execute("SELECT max(updated_at) FROM tenant WHERE state = 'done'").fetchone()[0]
        elapsed = (last - fleet[2]) if last is not None else None
        rate = counts["done"] / elapsed if elapsed else None
        return Summary(str(self.path), fleet[1], fleet[0], sum(counts.values()), counts, failed, slow,
                       rate, fleet[2])
