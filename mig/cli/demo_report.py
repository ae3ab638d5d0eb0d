"""What `mig demo` proves, read from its writer's acknowledgements and the databases: the
figures of its report (DemoReport), apart from the demo's steps (mig.cli.demo)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mig.sqlite.connect import open_ro

__all__ = ["ACK_FILE", "DemoReport", "Story", "acks", "lost", "report"]

ACK_FILE = "writer-acks.jsonl"


@dataclass
class DemoReport:
    """The figures the demo proves; `lines()` is what `mig demo` prints last."""

    directory: str
    rows_copied: int
    writes_acknowledged: int
    writes_acknowledged_old: int
    writes_acknowledged_new: int
    writes_before_capture: int
    writes_recorded: int
    writes_replayed: int
    writes_refused: int
    window_ms: float | None
    window_steps_ms: dict[str, float]
    verify_ms: float
    lost_writes: int
    writes_carried_back: int  # acknowledged by the new database, then carried back by `mig revert`
    writes_not_carried_back: int  # of those, missing from the old database or differing after it
    revert_window_ms: float | None  # first write the new database refused to the first the old took again
    writes_in_all: int  # acknowledged over the whole demo, forward, back and forward again

    def lines(self) -> list[str]:
        window = f"{self.window_ms:.0f} ms" if self.window_ms is not None else "n/a"
        revert = f"{self.revert_window_ms:.0f} ms" if self.revert_window_ms is not None else "n/a"
        steps = ", ".join(f"{name} {ms:.0f} ms" for name, ms in self.window_steps_ms.items())
        return [
            "", "Demo report",
            f"Rows copied: {self.rows_copied}",
            f"Writes acknowledged until the revert: {self.writes_acknowledged} (old database "
            f"{self.writes_acknowledged_old}, new database after the traffic switch "
            f"{self.writes_acknowledged_new})",
            f"Writes before capture began: {self.writes_before_capture} (committed before "
            "migrate installed its triggers: copied, not logged)",
            f"Writes recorded in the log: {self.writes_recorded} (committed on the old database "
            "while recording; after the switch the new one records its own, for a revert)",
            f"Writes replayed by drain: {self.writes_replayed}",
            f"Writes refused while draining: {self.writes_refused} (retried by the writer; "
            "none acknowledged)",
            f"Write-unavailability window: {window} (first refused write to first write "
            "accepted by the new database)",
            f"Window steps: {steps}",
            f"Verify inside the window: {self.verify_ms:.0f} ms (run before cutover; the window "
            f"without it would be {max((self.window_ms or 0) - self.verify_ms, 0):.0f} ms)",
            f"Writes carried back by revert: {self.writes_carried_back} (acknowledged by the new "
            f"database; missing from the old one after the revert: {self.writes_not_carried_back})",
            f"Revert window: {revert} (first write the new database refused to the first the old "
            "one took again)",
            f"Lost writes: {self.lost_writes} of {self.writes_in_all} (acknowledged writes, forward, back "
            "and forward again, missing from the new database or differing in a value)",
            f"Project directory: {self.directory} (kept; `mig status --dir {self.directory}`)",
        ]


@dataclass
class Story:
    """What the run leaves for the report."""

    new_db: str
    old_db: str
    rows_copied: int
    replayed: int
    recorded: int
    switched: float  # the traffic switch to the new database
    window_steps: dict[str, float]  # the steps from drain to that switch
    reverted: float = 0.0  # when revert started, and when the traffic went back
    back: float = 0.0
    carried: int = 0  # writes the new database took before the revert, and of those the ones
    carried_lost: int = 0  # the revert did not bring back to the old database


def acks(ack_file: Path) -> list[dict[str, Any]]:
    """Complete lines only: the writer may be in the middle of the last one."""
    complete = ack_file.read_text().split("\n")[:-1]
    return [json.loads(line) for line in complete if line.strip()]


def lost(db: Path, acks: list[dict[str, Any]], note_column: str = "comment") -> int:
    """Acknowledged writes missing from `db` or differing in a value."""
    conn = open_ro(db)
    lost = 0
    for a in acks:
        row = conn.execute(f"SELECT amount, receipt, {note_column} FROM orders WHERE id = ?", (a["id"],)).fetchone()
        if row is None or row[0].hex() != a["amount"] or row[1].hex() != a["receipt"] or row[2] != a["note"]:
            lost += 1
    conn.close()
    return lost


def report(project: Path, story: Story) -> DemoReport:
    """The figures, from the acknowledgements: the first act up to the revert (the window step
    by step), the revert's carried writes and window, and every write in the end."""
    entries = acks(project / ACK_FILE)
    acked = [a for a in entries if "acked" in a]
    first_act = [a for a in acked if a["acked"] < story.reverted]
    old = [a for a in first_act if a["db"] != story.new_db]
    first_new = min((a["acked"] for a in acked if a["db"] == story.new_db), default=None)
    refused = [a["rejected"] for a in entries if "rejected" in a and "writes are blocked" in a["error"]
               and a["db"] != story.new_db and a["rejected"] < story.switched]
    window = (first_new - min(refused)) * 1000 if refused and first_new is not None else None
    in_window = dict(story.window_steps)
    if first_new is not None:
        in_window["traffic switch"] = (first_new - story.switched) * 1000
    new_refused = [a["rejected"] for a in entries if "rejected" in a and a["db"] == story.new_db
                   and a["rejected"] >= story.reverted]
    back_on_old = min((a["acked"] for a in acked if a["db"] != story.new_db and a["acked"] >= story.back),
                      default=None)
    return DemoReport(
        directory=str(project), rows_copied=story.rows_copied, writes_acknowledged=len(first_act),
        writes_acknowledged_old=len(old), writes_acknowledged_new=len(first_act) - len(old),
        writes_before_capture=max(len(old) - story.recorded, 0), writes_recorded=story.recorded,
        writes_replayed=story.replayed, writes_refused=len(refused), window_ms=window,
        window_steps_ms=in_window, verify_ms=in_window.get("verify", 0.0),
        lost_writes=lost(Path(story.new_db), acked),
        writes_carried_back=story.carried, writes_not_carried_back=story.carried_lost,
        revert_window_ms=(back_on_old - min(new_refused)) * 1000 if new_refused and back_on_old else None,
        writes_in_all=len(acked))
