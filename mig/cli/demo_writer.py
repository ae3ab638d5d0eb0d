"""The demo's old service: a separate process that writes orders with the standard sqlite3 module.

It knows nothing of mig: capture and write blocking live in the database
(invariants 2 and 6). It appends every write the database acknowledged to
`<ack file>` as JSON lines, so the demo can prove none was lost. When the
database rejects writes (draining, or the new one reverted), it keeps
retrying; when the file `<ack file>.switch` appears or changes (JSON: a
database, the name of its note column, a sequence number), it moves there,
as traffic moves to the new service after cutover and back after a revert. The file `<ack file>.stop`, SIGTERM or SIGINT end it quietly, and
so does the death of the demo (PARENT_PID): `mig demo` starts it in a
session of its own, so a Ctrl-C on the terminal reaches only the demo, which
then stops it; the parent check covers a demo killed with SIGKILL.

Usage: python -m mig.cli.demo_writer OLD_DB ACK_FILE PARENT_PID
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

PAUSE_S = 0.002


class _Stop:
    requested = False


def _write_one(conn: sqlite3.Connection, rng: random.Random, customers: int,
               note_column: str) -> dict[str, object]:
    amount = rng.choice([0.1 + 0.2, rng.random() * 1e6, float("inf"), -1e-300, 42.0])
    receipt = rng.randbytes(rng.randint(0, 64))
    note = rng.choice([None, "gift ✓", "señal 🚀", ""])
    conn.execute("BEGIN IMMEDIATE")
    cur = conn.execute(f"INSERT INTO orders (customer_id, amount, receipt, {note_column}) "
                       "VALUES (?, ?, ?, ?)", (rng.randint(1, customers), amount, receipt, note))
    conn.execute("COMMIT")
    return {"id": cur.lastrowid, "amount": amount.hex(), "receipt": receipt.hex(), "note": note}


def _should_stop(stop: Path, parent: int) -> bool:
    return _Stop.requested or stop.exists() or os.getppid() != parent


def run(old_db: str, ack_file: str, parent: int) -> None:
    ack, switch, stop = Path(ack_file), Path(ack_file + ".switch"), Path(ack_file + ".stop")
    rng = random.Random(7)
    db, note_column, seq = old_db, "note", None
    conn = sqlite3.connect(db, timeout=10, isolation_level=None)
    customers = conn.execute("SELECT count(*) FROM customers").fetchone()[0]
    with ack.open("a") as out:
        while not _should_stop(stop, parent):
            target = json.loads(switch.read_text()) if switch.exists() else None
            if target is not None and target.get("seq") != seq:
                db, note_column, seq = target["db"], target["note_column"], target.get("seq")
                conn.close()
                conn = sqlite3.connect(db, timeout=10, isolation_level=None)
            try:
                row = _write_one(conn, rng, customers, note_column)
            except sqlite3.DatabaseError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                out.write(json.dumps({"rejected": time.time(), "db": db, "error": str(exc)}) + "\n")
                out.flush()
                time.sleep(0.01)
                continue
            out.write(json.dumps({"acked": time.time(), "db": db, **row}) + "\n")
            out.flush()
            time.sleep(PAUSE_S)
    conn.close()


def main() -> None:
    def stop(signum: int, frame: object) -> None:
        _Stop.requested = True  # finish the write in flight, record it, then leave

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    run(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else os.getppid())


if __name__ == "__main__":
    main()
