"""`mig revert` held to drain's invariants, with real files, a real writer process and real `mig` processes.

After cutover the new service writes to the new database (here: a writer process,
the standard sqlite3 module only, started before cutover so that its first writes
land as the new database opens); `mig revert` replays those writes into the old
database while they go on, blocks the new database, replays the tail and gives the
old database back, recording again. Then the old database must be the new one
mapped back through the reverse plan: `order.comment` back to `note`, `order.legacy`
(which only the old schema has) kept for the rows that existed and its default for
the rows the writer inserted, `order.status` (which only the new schema has) left
behind; every committed write of the writer there once (each of its transactions
also inserts one numbered `txn` row), the old database's own trigger (`order_audit`)
neither fired again by the replay nor lost, AUTOINCREMENT counters never behind, the
old database's schema as migrate left it (capture back, nothing of the revert's
left) and taking writes; `mig abort` then leaves nothing of mig's, or drain and
cutover go forward again.

Kills land at named points (test_window's way for drain: the phase's functions are
wrapped in a process of its own, which signals itself there), or at the first batch
the revert commits under a live writer (waiting for its checkpoint row, not for a
time); a revert run again gives what an unkilled revert gives.

Run as a script (`python test_revert_invariants.py DB SEED`), this file is the writer.
"""

from __future__ import annotations

import itertools
import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from clihelp import MIG, mig, mig_here, new_path, old_path, run_mig, wait_for
from dbcompare import rows, typed
from invariant_writer import awkward_value

OLD_SCHEMA = """
CREATE TABLE "group" (id INTEGER PRIMARY KEY AUTOINCREMENT, "na me" TEXT UNIQUE, weight REAL);
CREATE TABLE "order" (id INTEGER PRIMARY KEY, group_id INTEGER REFERENCES "group"(id) ON DELETE CASCADE,
                      amount REAL, payload BLOB, big INTEGER, note TEXT, legacy TEXT NOT NULL DEFAULT 'from before');
CREATE TABLE tag (code TEXT NOT NULL, lang TEXT NOT NULL, label TEXT, PRIMARY KEY (code, lang)) WITHOUT ROWID;
CREATE TABLE loose (a, b);
CREATE TABLE audit (n INTEGER);
CREATE TABLE txn (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL, what TEXT NOT NULL);
CREATE TRIGGER order_audit AFTER INSERT ON "order" BEGIN INSERT INTO audit VALUES (NEW.id); END;
"""
NEW_SCHEMA = OLD_SCHEMA.replace(
    "note TEXT, legacy TEXT NOT NULL DEFAULT 'from before');",
    "comment TEXT, status TEXT NOT NULL DEFAULT 'new');\n"
    "-- mig:rename-column order note comment\n"
    "-- mig:drop-column order legacy\n")
LEGACY_DEFAULT = "from before"  # legacy is NOT NULL here: a NULL kept is test_a_null_in_a_kept_column_stays_null's
SEEDED_ORDERS = 300
FRESH_ID = 1_000_000  # the writer's order ids: never one the old database had, never one used twice
OWN_TXN = 100_000  # the writer process numbers its transactions below this, write_log from seed * this

# How long a test waits for a process to reach the point it acts at (test_invariants'
# rule: wait for what the process did, never for a fixed time).
DEADLINE_S = 60.0


# ------------------------------------------------------------------ the writer


def one_write(conn: sqlite3.Connection, rng: random.Random, fresh: Iterator[int]) -> str:
    """One write of the new service, on the new schema; returns what it was."""
    r = rng.random()

    def some(table: str) -> int:  # an id of the table, picked without SQL's random()
        top = conn.execute(f'SELECT coalesce(max(id), 1) FROM "{table}"').fetchone()[0]
        row = conn.execute(f'SELECT id FROM "{table}" WHERE id >= ? ORDER BY id LIMIT 1',
                           (rng.randint(1, top),)).fetchone()
        return int(row[0]) if row else -1

    if r < 0.20:
        conn.execute('INSERT INTO "order" (id, group_id, amount, payload, big, comment, status) '
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (next(fresh), some("group"), awkward_value(rng), awkward_value(rng),
                      rng.choice([2**63 - 1, -(2**63), rng.randrange(-10, 10)]), awkward_value(rng),
                      rng.choice(["new", "paid"])))
        return "insert order"
    if r < 0.36:  # the renamed column
        conn.execute('UPDATE "order" SET amount = ?, comment = ? WHERE id = ?',
                     (awkward_value(rng), awkward_value(rng), some("order")))
        return "update order"
    if r < 0.41:  # the column only the new schema has
        conn.execute('UPDATE "order" SET status = ? WHERE id = ?', (rng.choice(["paid", "sent"]), some("order")))
        return "update status"
    if r < 0.45:  # a key moved: back under its new key, the old-only column at its default
        conn.execute('UPDATE "order" SET id = ? WHERE id = ?', (next(fresh), some("order")))
        return "move order"
    if r < 0.48:
        conn.execute('DELETE FROM "order" WHERE id = ?', (some("order"),))
        return "delete order"
    if r < 0.55:  # displaces the row holding the name, and cascades to its orders
        conn.execute('INSERT OR REPLACE INTO "group" ("na me", weight) VALUES (?, ?)',
                     (f"g{rng.randint(1, 70)}", awkward_value(rng)))
        return "replace group"
    if r < 0.58:  # cascades
        conn.execute('DELETE FROM "group" WHERE id = ?', (some("group"),))
        return "delete group"
    if r < 0.72:
        conn.execute("INSERT OR REPLACE INTO tag VALUES (?, ?, ?)",
                     (f"c{rng.randint(1, 30)}", rng.choice(["en", "pt", "ñ"]), awkward_value(rng)))
        return "replace tag"
    if r < 0.77:
        conn.execute("DELETE FROM tag WHERE code = ?", (f"c{rng.randint(1, 30)}",))
        return "delete tag"
    if r < 0.92:
        conn.execute("INSERT INTO loose VALUES (?, ?)", (awkward_value(rng), awkward_value(rng)))
        return "insert loose"
    conn.execute("DELETE FROM loose WHERE rowid = (SELECT min(rowid) FROM loose)")
    return "delete loose"


def one_transaction(conn: sqlite3.Connection, rng: random.Random, fresh: Iterator[int], n: int) -> None:
    """One write and its numbered `txn` row, committed together."""
    conn.execute("BEGIN IMMEDIATE")
    what = one_write(conn, rng, fresh)
    conn.execute("INSERT INTO txn (n, what) VALUES (?, ?)", (n, what))
    conn.execute("COMMIT")


def _report(path: Path, *counts: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(" ".join(map(str, counts)))
    tmp.replace(path)  # a reader sees the old counts or the new ones, never half


def writer_main(db: str, seed: int) -> None:
    """Write until the new database refuses a write: as reverting (`writes are blocked`),
    or as migrating again once the revert is done. Before its first write (not cut over
    yet, refused as migrating) try again. `<db>.counts` holds "done waited refused" so
    far, `<db>.done` the same at the end."""
    rng, fresh = random.Random(seed), itertools.count(FRESH_ID)
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    stop, counts = Path(db + ".stop"), Path(db + ".counts")
    done = waited = refused = 0
    reported = 0.0
    while not stop.exists() and not refused:
        try:
            one_transaction(conn, rng, fresh, done + 1)
            done += 1
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if "writes are blocked" in str(exc) or "accepts no writes" in str(exc) and done:
                refused = 1
            elif "accepts no writes" in str(exc):  # not cut over yet
                waited += 1
                time.sleep(0.001)
            elif "UNIQUE" not in str(exc) and "FOREIGN KEY" not in str(exc):
                raise
        if refused or time.monotonic() - reported > 0.02:
            _report(counts, done, waited, refused)
            reported = time.monotonic()
        time.sleep(0.0005)
    Path(db + ".done").write_text(f"{done} {waited} {refused}")


# ------------------------------------------------------------------ set-up and looks


def ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=DEADLINE_S)


def schema_of(conn: sqlite3.Connection) -> list[tuple[str, str, str, str]]:
    return sorted(conn.execute("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master"))


class Before:
    """The old database before migrate, and as migrate left it: what a revert gives back."""

    def __init__(self, d: Path) -> None:
        conn = ro(old_path(d))
        try:
            self.original = schema_of(conn)
            self.journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            conn.close()

    def migrated(self, d: Path) -> None:
        conn = ro(old_path(d))
        try:
            self.legacy = {i: v for i, v in conn.execute('SELECT id, legacy FROM "order"')}
            self.recording = schema_of(conn)  # capture in place, recording
            self.sequence = dict(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
        finally:
            conn.close()


def drained_project(tmp: Path, journal: str) -> tuple[Path, Before]:
    """The old database with its rows, migrated and drained: the new one waits for cutover."""
    d = tmp / "shop"
    d.mkdir()
    (d / "schema.sql").write_text(NEW_SCHEMA)
    rng = random.Random(3)
    conn = sqlite3.connect(old_path(d), isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.executescript(OLD_SCHEMA)
    conn.execute("BEGIN")
    for i in range(1, 61):
        conn.execute('INSERT INTO "group" ("na me", weight) VALUES (?, ?)', (f"g{i}", awkward_value(rng)))
    for i in range(1, SEEDED_ORDERS + 1):
        legacy = awkward_value(rng)
        conn.execute('INSERT INTO "order" VALUES (?, ?, ?, ?, ?, ?, ?)',
                     (i, rng.randint(1, 60), awkward_value(rng), awkward_value(rng),
                      rng.choice([2**63 - 1, -(2**63), i]), awkward_value(rng),
                      f"legacy {i}" if legacy is None else legacy))
        conn.execute("INSERT INTO loose VALUES (?, ?)", (awkward_value(rng), awkward_value(rng)))
    conn.execute("INSERT INTO tag VALUES ('c1', 'en', 'one'), ('c1', 'pt', 'um')")
    conn.execute("COMMIT")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute('DELETE FROM "group" WHERE id = 60')  # its counter stays at 60, its orders go
    conn.close()
    before = Before(d)
    mig(d, "migrate")
    before.migrated(d)
    mig(d, "drain")
    return d, before


def cut_over_project(tmp: Path, journal: str) -> tuple[Path, Before]:
    d, before = drained_project(tmp, journal)
    mig(d, "cutover")
    return d, before


# Each user table as the old database holds it, and as the new one does mapped back.
COMPARED = [
    ('SELECT id, "na me", weight FROM "group"', 'SELECT id, "na me", weight FROM "group"'),
    ("SELECT code, lang, label FROM tag", "SELECT code, lang, label FROM tag"),
    ("SELECT rowid, a, b FROM loose", "SELECT rowid, a, b FROM loose"),
    ("SELECT rowid, n FROM audit", "SELECT rowid, n FROM audit"),
    ("SELECT id, n, what FROM txn", "SELECT id, n, what FROM txn"),
]


def mapped_back(new: sqlite3.Connection, before: Before) -> dict[str, list[Any]]:
    """The new database's rows as the old schema must hold them after a revert."""
    out = {old_sql: rows(new, new_sql) for old_sql, new_sql in COMPARED}
    orders = new.execute('SELECT id, group_id, amount, payload, big, comment FROM "order"').fetchall()
    out["order"] = sorted(tuple(typed(v) for v in (*r, before.legacy.get(r[0], LEGACY_DEFAULT))) for r in orders)
    return out


def old_rows(old: sqlite3.Connection) -> dict[str, list[Any]]:
    out = {old_sql: rows(old, old_sql) for old_sql, _ in COMPARED}
    out["order"] = rows(old, 'SELECT id, group_id, amount, payload, big, note, legacy FROM "order"')
    return out


def dump(path: Path) -> dict[str, Any]:
    """Everything a revert leaves in the old database: rows, schema, counters."""
    conn = ro(path)
    try:
        return {"rows": old_rows(conn), "schema": schema_of(conn),
                "sequence": rows(conn, "SELECT name, seq FROM sqlite_sequence")}
    finally:
        conn.close()


def revert_state(d: Path) -> str:
    """The revert window (open, reverting), `reverted` once the new database is migrating
    again after a revert, else its migration status."""
    conn = ro(new_path(d))
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_migration_revert'").fetchone():
            return str(conn.execute("SELECT status FROM _migration_revert").fetchone()[0])
        status = str(conn.execute("SELECT status FROM _migration_status").fetchone()[0])
        reverted = status == "migrating" and conn.execute(
            "SELECT 1 FROM _migration_progress WHERE key = 'reverted_at'").fetchone()
        return "reverted" if reverted else status
    finally:
        conn.close()


def old_marker(d: Path) -> str | None:
    conn = sqlite3.connect(old_path(d))  # read-write: rolls back what a kill left
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_migration_marker'").fetchone():
            return None
        return str(conn.execute("SELECT status FROM _migration_marker").fetchone()[0])
    finally:
        conn.close()


def mig_objects(path: Path) -> list[str]:
    conn = ro(path)
    try:
        return [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE '\\_mig%' ESCAPE '\\'")]
    finally:
        conn.close()


def plain_write(db: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    """A write by a client that knows nothing of mig."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=DEADLINE_S)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(sql, params)
    finally:
        conn.close()


LOOSE_PROBE = ("INSERT INTO loose VALUES ('refused?', NULL)", "DELETE FROM loose WHERE a = 'refused?'")
ITEM_PROBE = ("INSERT INTO item (id) VALUES (-1)", "DELETE FROM item WHERE id = -1")


def refusal(db: Path, probe: tuple[str, str] = LOOSE_PROBE) -> str | None:
    """Why a plain client's write is refused, or None when it is taken (then undone again)."""
    try:
        plain_write(db, probe[0])
    except sqlite3.IntegrityError as exc:
        return str(exc)
    plain_write(db, probe[1])
    return None


BLOCKED = "writes are blocked"  # the old database while draining, the new one while reverting
MIGRATING = "accepts no writes until `mig cutover`"  # the new database before cutover and after a revert


def assert_reverted(d: Path, before: Before, committed: int | None = None) -> None:
    """The old database is the new one mapped back, recording again as migrate left it,
    and takes writes; the new one is migrating again."""
    assert revert_state(d) == "reverted"
    assert MIGRATING in (refusal(new_path(d)) or "")
    assert old_marker(d) == "recording"
    old, new = ro(old_path(d)), ro(new_path(d))
    try:
        got, want = old_rows(old), mapped_back(new, before)
        for table in want:
            assert got[table] == want[table], table
        ns = [n for (n,) in old.execute("SELECT n FROM txn ORDER BY n")]
        assert len(set(ns)) == len(ns)  # no transaction twice
        if committed is not None:  # every committed transaction of the writer process, once
            mine = [n for n in ns if n < OWN_TXN]
            assert mine == list(range(1, committed + 1)), (len(mine), committed)
        inserts = old.execute("SELECT count(*) FROM txn WHERE what = 'insert order'").fetchone()[0]
        # The old trigger fired once per order ever inserted: by the old service before
        # the migration, by the new database's copy of it since; never by the replay.
        assert old.execute("SELECT count(*) FROM audit").fetchone()[0] == SEEDED_ORDERS + inserts
        seq_old = dict(old.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
        seq_new = dict(new.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
        for name, seq in before.sequence.items():  # never backwards
            assert seq_old[name] >= seq, name
        assert {k: v for k, v in seq_old.items() if k in seq_new} == seq_new
        assert old.execute("PRAGMA foreign_key_check").fetchall() == []
        # Its own trigger back, its capture back, nothing of the revert's left.
        assert schema_of(old) == before.recording
        assert old.execute("PRAGMA journal_mode").fetchone()[0] == before.journal
        logged = old.execute("SELECT coalesce(max(seq), 0) FROM _migration_log").fetchone()[0]
    finally:
        old.close()
        new.close()
    # The old service writes again, recorded, its trigger firing once per insert, and the
    # counter past every id the new service used.
    raw = sqlite3.connect(old_path(d), isolation_level=None)
    try:
        raw.execute("PRAGMA foreign_keys=ON")
        audits = raw.execute("SELECT count(*) FROM audit").fetchone()[0]
        raw.execute('INSERT INTO "order" (id, note) VALUES (999999999, \'after the revert\')')
        assert raw.execute("SELECT count(*) FROM audit").fetchone()[0] == audits + 1
        assert raw.execute("SELECT legacy FROM \"order\" WHERE id = 999999999").fetchone()[0] == LEGACY_DEFAULT
        gid = raw.execute('INSERT INTO "group" ("na me") VALUES (\'after the revert\')').lastrowid
        assert gid is not None and gid > seq_new["group"]
        assert raw.execute("SELECT max(seq) FROM _migration_log").fetchone()[0] > logged
    finally:
        raw.close()


def then_abort(d: Path, before: Before) -> None:
    """`mig abort` after the revert: the old database as its service made it, nothing of mig's."""
    mig(d, "abort")
    assert not any(p != old_path(d) for p in d.glob("shop-*.sqlite"))
    conn = ro(old_path(d))
    try:
        assert schema_of(conn) == before.original
    finally:
        conn.close()
    assert mig_objects(old_path(d)) == []
    plain_write(old_path(d), "INSERT INTO tag VALUES ('after', 'en', 'abort')")


def then_forward(d: Path) -> None:
    """Drain and cutover go forward again, with the old service's writes since the revert."""
    mig(d, "drain")
    mig(d, "cutover")
    assert mig_here("verify", "--dir", str(d)).returncode == 0
    assert revert_state(d) == "open"  # the next window
    conn = ro(new_path(d))
    try:
        assert conn.execute('SELECT comment FROM "order" WHERE id = 999999999').fetchone() == ("after the revert",)
    finally:
        conn.close()


# ------------------------------------------------------------------ randomized, concurrent


def start_writer(db: Path, seed: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, str(db), str(seed)])


def writer_counts(db: Path) -> tuple[int, int, int]:
    try:
        done, waited, refused = Path(str(db) + ".counts").read_text().split()
    except (FileNotFoundError, ValueError):
        return 0, 0, 0
    return int(done), int(waited), int(refused)


def writer_end(db: Path, proc: subprocess.Popen[bytes]) -> tuple[int, int, int]:
    assert proc.wait(timeout=DEADLINE_S) == 0
    done, waited, refused = Path(str(db) + ".done").read_text().split()
    return int(done), int(waited), int(refused)


@pytest.fixture
def writers() -> Iterator[list[Path]]:
    """Databases a test started a writer on: told to stop if the test fails half-way."""
    dbs: list[Path] = []
    yield dbs
    for db in dbs:
        Path(str(db) + ".stop").touch()


@pytest.mark.parametrize("seed,then", [(11, "abort"), (12, "forward")])
@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_revert_under_a_live_writer_loses_doubles_and_changes_nothing(
        tmp_path: Path, writers: list[Path], journal: str, seed: int, then: str) -> None:
    d, before = drained_project(tmp_path, journal)
    new = new_path(d)
    writers.append(new)
    writer = start_writer(new, seed)
    # The writer is at the new database before it opens: its first writes are the first
    # the new database takes, in the wake of cutover's transaction.
    wait_for("the writer refused by the new database before cutover", lambda: writer_counts(new)[1] > 0, writer)
    mig(d, "cutover")
    wait_for("200 writes by the new service", lambda: writer_counts(new)[0] >= 200, writer)
    out = run_mig("revert", "--json", "--dir", str(d), timeout=DEADLINE_S)
    assert out.returncode == 0, out.stderr
    done, _, refused = writer_end(new, writer)
    assert refused == 1 and done >= 200  # it wrote until the revert blocked it
    report = json.loads(out.stdout)
    assert report["previous_status"] == "open" and report["replayed"] >= done  # each write logs one entry or more
    assert report["left_behind"] == ["order.status"]
    assert_reverted(d, before, committed=done)
    again = run_mig("revert", "--dir", str(d))  # re-runnable: nothing more to do
    assert again.returncode == 0 and "Revert window: reverted (already)" in again.stdout, again
    then_abort(d, before) if then == "abort" else then_forward(d)


# ------------------------------------------------------------------ kills


def write_log(db: Path, seed: int, writes: int) -> None:
    """`writes` writes of the new service in a few transactions: the same rows for the same
    database and seed, a log of thousands of entries. Their `txn` rows are numbered from
    seed * OWN_TXN + 1. Last a group inserted and deleted: its id is above every group's,
    and only the AUTOINCREMENT counter carried over keeps the old service from using it."""
    rng, fresh = random.Random(seed), itertools.count(FRESH_ID + seed * OWN_TXN)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    for n in range(writes):
        if n % 1000 == 0:
            conn.execute("BEGIN IMMEDIATE")
        try:
            what = one_write(conn, rng, fresh)
        except sqlite3.IntegrityError as exc:  # the statement alone is undone
            assert "UNIQUE" in str(exc) or "FOREIGN KEY" in str(exc), exc
            what = "refused"
        conn.execute("INSERT INTO txn (n, what) VALUES (?, ?)", (seed * OWN_TXN + n + 1, what))
        if n % 1000 == 999 or n == writes - 1:
            conn.execute("COMMIT")
    # The last group id the new service used is gone: only the counter remembers it.
    conn.execute('INSERT INTO "group" ("na me") VALUES (\'gone\')')
    conn.execute('DELETE FROM "group" WHERE "na me" = \'gone\'')
    conn.close()


# A revert in a process of its own that signals itself at a named point (test_window's
# KILL_AT for drain): `mig revert --dir DIR` through the real command line.
SIGNAL_AT = """
import os, signal, sys
from mig.phases import revert
from mig.phases.common import replay
directory, point, sig = sys.argv[1], sys.argv[2], getattr(signal, sys.argv[3])

def hit():
    os.kill(os.getpid(), sig)

def after(module, name, when=lambda *a: True):
    real = getattr(module, name)
    def wrapped(*args):
        out = real(*args)
        if when(*args):
            hit()
        return out
    setattr(module, name, wrapped)

def before(module, name):
    real = getattr(module, name)
    def wrapped(*args):
        hit()
        return real(*args)
    setattr(module, name, wrapped)

if point == "catch-up batch applied":  # its rows written, not committed
    after(replay, "apply_batch")
elif point == "catch-up batches committed":  # two batches in, more to go
    revert.batch_size = lambda conn: 300
    calls = []
    after(replay, "let_writers_in", lambda: calls.append(1) or len(calls) == 2)
elif point == "blocked":  # the new database blocked, the tail not begun
    before(revert, "_tail_and_reopen")
elif point == "tail applied":  # the tail replayed, the old triggers back, not committed
    after(revert, "restore_stashed")
elif point == "reopening committed":  # the old database's reopening commit made, nothing after it
    after(revert, "_tail_and_reopen")
elif point == "old reopened":  # the old database serving, the new one not yet migrating again
    before(revert, "_back_to_migrating")
else:
    raise SystemExit(f"no such point: {point}")
from mig.cli.main import main
main.main(["revert", "--dir", directory])
"""

KILL_WRITES = 3000
EXTRA_WRITES = 300  # the new service's, after a revert killed before it blocked the new database


def revert_signalled(d: Path, point: str, sig: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SIGNAL_AT, str(d), point, sig], capture_output=True, text=True,
                          timeout=DEADLINE_S)


_references: dict[tuple[str, bool], dict[str, Any]] = {}


def reference(tmp: Path, journal: str, extra: bool) -> dict[str, Any]:
    """What an unkilled revert leaves after the same writes (made once per case)."""
    if (journal, extra) not in _references:
        d, before = cut_over_project(tmp, journal)
        write_log(new_path(d), 1, KILL_WRITES)
        if extra:
            write_log(new_path(d), 2, EXTRA_WRITES)
        mig(d, "revert")
        _references[(journal, extra)] = dump(old_path(d))
        assert_reverted(d, before)
    return _references[(journal, extra)]


def revert_checkpoint(d: Path) -> int:
    """The log position the revert has committed in the old database."""
    conn = ro(old_path(d))
    try:
        row = conn.execute("SELECT value FROM _migration_progress WHERE key = 'replay_checkpoint'").fetchone()
        return int(row[0]) if row else 0
    except sqlite3.OperationalError:  # not made yet, or dropped by the reopening
        return 0
    finally:
        conn.close()


def new_log_top(d: Path) -> int:
    conn = ro(new_path(d))
    try:
        return int(conn.execute("SELECT max(seq) FROM _migration_log").fetchone()[0])
    finally:
        conn.close()


# point: (the window after the kill, the old database's marker, how much of the new log
# the revert had committed in the old database: none, some, or all but the tail, which
# is empty here)
KILL_POINTS = {
    "catch-up batch applied": ("open", "draining", "none"),
    "catch-up batches committed": ("open", "draining", "some"),
    "blocked": ("reverting", "draining", "all"),
    "tail applied": ("reverting", "draining", "all"),
    "reopening committed": ("reverting", "recording", ""),
    "old reopened": ("reverting", "recording", ""),
}


@pytest.mark.parametrize("journal", ["wal", "delete"])
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_revert_killed_anywhere_finishes_when_run_again(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, journal: str, point: str) -> None:
    """SIGKILL at a named point, then `mig revert` again: what an unkilled revert gives.
    Killed before it blocked the new database, the new service goes on writing, and
    those writes come back too."""
    d, before = cut_over_project(tmp_path, journal)
    write_log(new_path(d), 1, KILL_WRITES)
    top = new_log_top(d)
    assert top > 3000  # many catch-up batches of 300
    killed = revert_signalled(d, point, "SIGKILL")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    status, marker, replayed = KILL_POINTS[point]
    assert revert_state(d) == status
    assert old_marker(d) == marker
    if marker == "draining":  # still closed to its service
        assert BLOCKED in (refusal(old_path(d)) or "")
        done = revert_checkpoint(d)
        assert {"none": done == 0, "some": 0 < done < top, "all": done == top}[replayed], (done, top)
    else:
        assert refusal(old_path(d)) is None  # it serves already
    if status == "open":  # the new service never stopped
        assert refusal(new_path(d)) is None
        write_log(new_path(d), 2, EXTRA_WRITES)
    else:
        assert BLOCKED in (refusal(new_path(d)) or "")
    again = run_mig("revert", "--dir", str(d), timeout=DEADLINE_S)
    assert again.returncode == 0, again.stderr
    assert f"Previous revert window: {status}" in again.stdout, again.stdout
    got = dump(old_path(d))
    assert_reverted(d, before)
    assert got == reference(tmp_path_factory.mktemp("reference"), journal, status == "open")


def test_a_revert_killed_under_a_live_writer_finishes_when_run_again(tmp_path: Path, writers: list[Path]) -> None:
    """The real `mig revert`, SIGKILLed as soon as its first catch-up batch is committed
    (its checkpoint row says so) while the new service writes; run again, with the
    writer still writing if the kill came before the block."""
    d, before = cut_over_project(tmp_path, "wal")
    new = new_path(d)
    write_log(new, 1, KILL_WRITES)
    writers.append(new)
    writer = start_writer(new, 21)
    wait_for("writes by the new service", lambda: writer_counts(new)[0] >= 50, writer)
    proc = subprocess.Popen([*MIG, "revert", "--dir", str(d)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for("the revert's first committed batch", lambda: revert_checkpoint(d) > 0, proc)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() in (-signal.SIGKILL, 0)  # 0: it finished first, on a loaded machine
    out = run_mig("revert", "--dir", str(d), timeout=DEADLINE_S)
    assert out.returncode == 0, out.stderr
    done, _, refused = writer_end(new, writer)
    assert refused == 1
    assert_reverted(d, before, committed=done)


# ------------------------------------------------------------------ Ctrl-C


def said_on_failure(out: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command says, besides its progress lines."""
    lines = [line for line in out.stderr.splitlines() if not line.startswith("catch-up: ")]
    assert len(lines) == 1, out.stderr
    return lines[0]


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_ctrl_c_inside_the_revert_gives_the_new_database_its_writes_back(tmp_path: Path, journal: str) -> None:
    """SIGINT after the new database was blocked, before the old one reopened: exit 130, one
    line, the window open again (the new service writes, and is logged); then a revert run
    again brings those writes back too."""
    d, before = cut_over_project(tmp_path, journal)
    write_log(new_path(d), 1, 500)
    out = revert_signalled(d, "blocked", "SIGINT")
    assert out.returncode == 130, out
    said = said_on_failure(out)
    assert said.startswith("revert failed: interrupted by SIGINT"), out.stderr
    assert "the new database takes writes again" in said
    assert revert_state(d) == "open" and old_marker(d) == "draining"
    assert BLOCKED in (refusal(old_path(d)) or "") and refusal(new_path(d)) is None
    write_log(new_path(d), 2, 100)
    again = run_mig("revert", "--dir", str(d), timeout=DEADLINE_S)
    assert again.returncode == 0, again.stderr
    assert_reverted(d, before)


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_ctrl_c_after_the_old_database_reopened_leaves_the_new_one_blocked(tmp_path: Path, journal: str) -> None:
    """SIGINT right after the old database's reopening commit: it serves now, so the new
    database must not take writes again (they would reach neither the old database nor
    a revert run again); a revert run again finishes the new database's side."""
    d, before = cut_over_project(tmp_path, journal)
    write_log(new_path(d), 1, 500)
    out = revert_signalled(d, "reopening committed", "SIGINT")
    assert out.returncode == 130, out
    said = said_on_failure(out)
    assert said.startswith("revert failed: interrupted by SIGINT"), out.stderr
    assert "the new database takes writes again" not in said, said
    assert old_marker(d) == "recording" and revert_state(d) == "reverting"
    assert BLOCKED in (refusal(new_path(d)) or "")
    again = run_mig("revert", "--dir", str(d), timeout=DEADLINE_S)
    assert again.returncode == 0, again.stderr
    assert_reverted(d, before)


# ------------------------------------------------------------------ a row the old schema refuses


# Both schemas hold CHECK (a < 5), so the planning says reversible; a client of the new
# database that turned CHECKs off writes a row past it, which only the data can tell.
CHECKED_OLD = ("CREATE TABLE item (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, CHECK (a < 5));\n"
               "INSERT INTO item VALUES (1, 1, 1);")
CHECKED_NEW = "CREATE TABLE item (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, c TEXT, CHECK (a < 5));\n"
BAD_ROW = "INSERT INTO item (id, a, b) VALUES (2, 100, 1)"


def write_past_checks(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute(sql)
    finally:
        conn.close()


def refused_project(tmp: Path, journal: str) -> Path:
    d = tmp / "shop"
    d.mkdir()
    (d / "schema.sql").write_text(CHECKED_NEW)
    conn = sqlite3.connect(old_path(d), isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.executescript(CHECKED_OLD)
    conn.close()
    plan = mig_here("plan", "--dir", str(d))
    assert "Reversible after cutover: yes" in plan.stdout, plan.stdout
    for step in ("migrate", "drain", "cutover"):
        mig(d, step)
    return d


def assert_refused_then_fixed(d: Path, out: subprocess.CompletedProcess[str]) -> None:
    said = said_on_failure(out)
    assert out.returncode == 1 and said.startswith("revert failed: rows the new service wrote cannot go back"), said
    assert "CHECK constraint failed" in said and "the new database takes writes again" in said, said
    assert revert_state(d) == "open" and old_marker(d) == "draining"
    assert BLOCKED in (refusal(old_path(d), ITEM_PROBE) or "")
    plain_write(new_path(d), "INSERT INTO item (id, a) VALUES (50, 4)")  # the new service writes on
    plain_write(new_path(d), "UPDATE item SET a = 2 WHERE id = 2")  # and fixes the row: recorded
    again = run_mig("revert", "--dir", str(d), timeout=DEADLINE_S)
    assert again.returncode == 0, again.stderr
    assert revert_state(d) == "reverted" and old_marker(d) == "recording"
    old = ro(old_path(d))
    try:
        assert old.execute("SELECT * FROM item ORDER BY id").fetchall() == [(1, 1, 1), (2, 2, 1), (50, 4, None)]
    finally:
        old.close()
    plain_write(old_path(d), "INSERT INTO item (id, a) VALUES (51, 3)")


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_a_row_the_old_schema_refuses_fails_the_revert_with_writes_back(tmp_path: Path, journal: str) -> None:
    d = refused_project(tmp_path, journal)
    write_past_checks(new_path(d), BAD_ROW)
    assert_refused_then_fixed(d, run_mig("revert", "--dir", str(d), timeout=DEADLINE_S))


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_a_refused_row_in_the_tail_gives_the_new_database_its_writes_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, journal: str) -> None:
    """The row arrives after the catch-up, before the new database is blocked: the tail's
    transaction fails, and the window opens again."""
    from mig.phases import revert as revert_phase

    d = refused_project(tmp_path, journal)
    real: Callable[..., None] = getattr(revert_phase, "catch_up")  # imported there by name

    def catch_up_then_late_row(*args: Any) -> None:
        real(*args)
        write_past_checks(new_path(d), BAD_ROW)
    monkeypatch.setattr(revert_phase, "catch_up", catch_up_then_late_row)
    out = mig_here("revert", "--dir", str(d))
    monkeypatch.undo()
    assert_refused_then_fixed(d, out)


# ------------------------------------------------------------------ the old column a revert keeps


def kept_project(tmp: Path) -> Path:
    d = tmp / "shop"
    d.mkdir(parents=True)
    (d / "schema.sql").write_text("CREATE TABLE item (id INTEGER PRIMARY KEY, v TEXT);\n"
                                  "-- mig:drop-column item legacy\n")
    conn = sqlite3.connect(old_path(d), isolation_level=None)
    conn.execute("PRAGMA journal_mode=wal")
    conn.executescript("CREATE TABLE item (id INTEGER PRIMARY KEY, v TEXT, legacy TEXT DEFAULT 'default');"
                       "INSERT INTO item VALUES (1, 'a', NULL), (2, 'b', 'kept'), (3, 'c', 'kept');")
    conn.close()
    for step in ("migrate", "drain", "cutover"):
        mig(d, step)
    return d


def test_a_null_in_a_kept_column_stays_null(tmp_path: Path) -> None:
    d = kept_project(tmp_path)
    plain_write(new_path(d), "UPDATE item SET v = 'a2' WHERE id = 1")
    mig(d, "revert")
    old = ro(old_path(d))
    try:
        assert old.execute("SELECT legacy FROM item WHERE id = 1").fetchone() == (None,)
    finally:
        old.close()


if __name__ == "__main__":
    writer_main(sys.argv[1], int(sys.argv[2]))
