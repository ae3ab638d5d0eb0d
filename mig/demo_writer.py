"""The demo's old service: a separate process that writes orders with the standard sqlite3 module.

It knows nothing of mig: capture and write blocking live in the database
(invariants 2 and 6). It appends every write the database acknowledged to
`<ack file>` as JSON lines, so the demo can prove none was lost. When the
database rejects writes (draining), it keeps retrying; when the file
`<ack file>.switch` appears (JSON: the new database and the new name of the
note column), it moves there, as traffic moves to the new service after
cutover. The file `<ack file>.stop` ends it.

Usage: python -m mig.demo_writer OLD_DB ACK_FILE
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import time
from pathlib import Path

PAUSE_S = 0.002


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


def run(old_db: str, ack_file: str) -> None:
    ack, switch, stop = Path(ack_file), Path(ack_file + ".switch"), Path(ack_file + ".stop")
    rng = random.Random(7)
    db, note_column = old_db, "note"
    conn = sqlite3.connect(db, timeout=10, isolation_level=None)
    customers = conn.execute("SELECT count(*) FROM customers").fetchone()[0]
    with ack.open("a") as out:
        while not stop.exists():
            if switch.exists() and db == old_db:
                target = json.loads(switch.read_text())
                db, note_column = target["db"], target["note_column"]
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


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
