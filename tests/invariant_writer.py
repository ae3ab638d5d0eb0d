"""A second process that writes like a real service, using only the standard sqlite3 module.

Random transactions over FK-related tables: inserts with awkward values
(REAL bit patterns, ±Inf, 64-bit bounds, BLOBs, Unicode, NULL), updates,
updates that move a primary key, INSERT OR REPLACE that displaces a row on a
UNIQUE column, deletes that cascade. Runs until `<db>.stop` exists; writes
rejected because the database is draining are counted, not fatal. The counts
so far are in `<db>.counts` ("done blocked", replaced whole), so that a test
waits for what the writer did instead of sleeping; at the end, in `<db>.done`.

Usage: python invariant_writer.py DB SEED
"""

from __future__ import annotations

import math
import random
import sqlite3
import struct
import sys
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE "group" (id INTEGER PRIMARY KEY AUTOINCREMENT, "na me" TEXT UNIQUE, weight REAL);
CREATE TABLE "order" (id INTEGER PRIMARY KEY, group_id INTEGER REFERENCES "group"(id) ON DELETE CASCADE,
                      amount REAL, payload BLOB, big INTEGER, note TEXT);
CREATE TABLE tag (code TEXT NOT NULL, lang TEXT NOT NULL, label TEXT, PRIMARY KEY (code, lang)) WITHOUT ROWID;
CREATE TABLE loose (a, b);
CREATE TABLE audit (n INTEGER);
CREATE TRIGGER order_audit AFTER INSERT ON "order" BEGIN INSERT INTO audit VALUES (NEW.id); END;
"""


def awkward_value(rng: random.Random) -> object:
    kind = rng.randrange(9)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([2**63 - 1, -(2**63), 0, -1, 2**53 + 1])
    if kind == 2:
        bits = rng.getrandbits(64)
        x = struct.unpack("<d", struct.pack("<Q", bits))[0]
        return 0.5 if math.isnan(x) else x
    if kind == 3:
        return rng.choice([0.1 + 0.2, float("inf"), float("-inf"), 5e-324, 1.7976931348623157e308])
    if kind == 4:
        return rng.randbytes(rng.choice([0, 1, 17, 3000]))
    if kind == 5:
        return "".join(chr(rng.choice([0x41, 0xE9, 0x4E2D, 0x1F680, 0x10FFFF, 0x27])) for _ in range(5))
    if kind == 6:
        return rng.random()
    if kind == 7:
        return rng.randrange(-1000, 1000)
    return "text"


def one_transaction(conn: sqlite3.Connection, rng: random.Random) -> None:
    r = rng.random()
    conn.execute("BEGIN IMMEDIATE")
    if r < 0.3:
        conn.execute('INSERT INTO "order" (group_id, amount, payload, big, note) VALUES (?, ?, ?, ?, ?)',
                     (rng.randint(1, 50), awkward_value(rng), awkward_value(rng),
                      rng.choice([2**63 - 1, -(2**63), rng.randrange(-10, 10)]), awkward_value(rng)))
    elif r < 0.5:
        conn.execute('UPDATE "order" SET amount = ?, note = ? WHERE id = ?',
                     (awkward_value(rng), awkward_value(rng), rng.randint(1, 400)))
    elif r < 0.55:
        conn.execute('UPDATE "order" SET id = ? WHERE id = ?', (rng.randint(10**6, 10**7), rng.randint(1, 400)))
    elif r < 0.62:
        conn.execute('INSERT OR REPLACE INTO "group" ("na me", weight) VALUES (?, ?)',
                     (f"g{rng.randint(1, 60)}", awkward_value(rng)))
    elif r < 0.66:
        conn.execute('DELETE FROM "group" WHERE id = ?', (rng.randint(1, 60),))
    elif r < 0.8:
        conn.execute("INSERT OR REPLACE INTO tag VALUES (?, ?, ?)",
                     (f"c{rng.randint(1, 30)}", rng.choice(["en", "pt", "ñ"]), awkward_value(rng)))
    elif r < 0.85:
        conn.execute("DELETE FROM tag WHERE code = ?", (f"c{rng.randint(1, 30)}",))
    elif r < 0.95:
        conn.execute("INSERT INTO loose VALUES (?, ?)", (awkward_value(rng), awkward_value(rng)))
    else:
        conn.execute("DELETE FROM loose WHERE rowid = (SELECT min(rowid) FROM loose)")
    conn.execute("COMMIT")


def report(path: Path, done: int, blocked: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{done} {blocked}")
    tmp.replace(path)  # a reader sees the old counts or the new ones, never half


def main(db: str, seed: int) -> None:
    rng = random.Random(seed)
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    stop, counts = Path(db + ".stop"), Path(db + ".counts")
    done = blocked = 0
    reported = 0.0
    while not stop.exists():
        was_blocked = blocked
        try:
            one_transaction(conn, rng)
            done += 1
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if "writes are blocked" in str(exc):
                blocked += 1
            elif "UNIQUE" not in str(exc) and "FOREIGN KEY" not in str(exc):
                raise
        if blocked != was_blocked or time.monotonic() - reported > 0.02:
            report(counts, done, blocked)
            reported = time.monotonic()
        time.sleep(0.0005)
    Path(db + ".done").write_text(f"{done} {blocked}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
