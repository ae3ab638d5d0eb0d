"""Replay as a property: whatever the old service wrote while recording, and however drain
splits the log into batches, the new tables end up holding exactly the old rows.

The writes are drawn to collide: few keys, UNIQUE values under NOCASE that rows
trade and steal (INSERT/UPDATE OR REPLACE), keys that move or change only in
case, columns in and out of indexes, awkward values. All writes happen before
drain, so every batch reads an old database that is ahead of the batch's end:
a row a batch replays may already have changed again, or be gone, in entries a
later batch replays.
"""

from __future__ import annotations

import sqlite3
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mig.phases.common.replay as replay_engine
import mig.phases.drain as drain_phase
from mig.commands import Inputs, drain_command, migrate_command
from mig.plan.compare import compare
from mig.plan.statements import replay_sql
from mig.schema.sql import loads
from mig.sqlite.introspect import introspect

OLD_SCHEMA = """
CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT COLLATE NOCASE UNIQUE, k INTEGER, p);
CREATE INDEX t_k ON t (k);
CREATE TABLE w (code TEXT COLLATE NOCASE PRIMARY KEY, n INTEGER UNIQUE, val) WITHOUT ROWID;
"""
# The new schema adds a column to each table, so replay takes its fast path
# (p and val are updated in place; u, k and n are compared).
NEW_SCHEMA = """
CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT COLLATE NOCASE UNIQUE, k INTEGER, p, extra TEXT);
CREATE INDEX t_k ON t (k);
CREATE TABLE w (code TEXT COLLATE NOCASE PRIMARY KEY, n INTEGER UNIQUE, val, note TEXT) WITHOUT ROWID;
"""

keys = st.integers(1, 6)
uniques = st.sampled_from(["a", "A", "b", "B", "c", None])
codes = st.sampled_from(["x", "X", "y", "Y", "z"])
values = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from([1.0, 2.5, -0.0]),
                   st.sampled_from(["1", "v", "V"]), st.binary(max_size=3))

writes = st.one_of(
    st.tuples(st.just("INSERT OR REPLACE INTO t (id, u, k, p) VALUES (?, ?, ?, ?)"),
              st.tuples(keys, uniques, st.integers(0, 2), values)),
    st.tuples(st.just("UPDATE t SET p = ? WHERE id = ?"), st.tuples(values, keys)),
    st.tuples(st.just("UPDATE OR REPLACE t SET u = ? WHERE id = ?"), st.tuples(uniques, keys)),
    st.tuples(st.just("UPDATE t SET k = ?, p = ? WHERE id = ?"), st.tuples(st.integers(0, 2), values, keys)),
    st.tuples(st.just("UPDATE OR REPLACE t SET id = ? WHERE id = ?"), st.tuples(keys, keys)),
    st.tuples(st.just("DELETE FROM t WHERE id = ?"), st.tuples(keys)),
    st.tuples(st.just("INSERT OR REPLACE INTO w (code, n, val) VALUES (?, ?, ?)"),
              st.tuples(codes, st.integers(0, 3), values)),
    st.tuples(st.just("UPDATE w SET val = ? WHERE code = ?"), st.tuples(values, codes)),
    st.tuples(st.just("UPDATE OR REPLACE w SET code = ? WHERE code = ?"), st.tuples(codes, codes)),
    st.tuples(st.just("UPDATE OR REPLACE w SET n = ? WHERE code = ?"), st.tuples(st.integers(0, 3), codes)),
    st.tuples(st.just("DELETE FROM w WHERE code = ?"), st.tuples(codes)),
)


def typed(v: object) -> tuple[str, object]:
    return ("real", struct.pack("<d", v)) if isinstance(v, float) else (type(v).__name__, v)


def rows(conn: sqlite3.Connection, sql: str) -> list[tuple[tuple[str, object], ...]]:
    return [tuple(map(typed, r)) for r in conn.execute(sql)]


def apply(conn: sqlite3.Connection, ops: list[tuple[str, tuple[object, ...]]]) -> None:
    for sql, args in ops:
        conn.execute(sql, args)


@pytest.fixture(autouse=True)
def restore_batch():  # type: ignore[no-untyped-def]
    saved = drain_phase.batch_size
    yield
    drain_phase.batch_size = saved


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.lists(writes, max_size=12), during=st.lists(writes, min_size=1, max_size=30),
       batch=st.integers(1, 8))
def test_any_writes_replayed_in_any_batches_give_the_old_rows(
        before: list[tuple[str, tuple[object, ...]]], during: list[tuple[str, tuple[object, ...]]],
        batch: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "p"
        d.mkdir()
        (d / "schema.sql").write_text(NEW_SCHEMA)
        old = sqlite3.connect(d / "p-0000000000000001.sqlite", isolation_level=None)
        old.executescript(OLD_SCHEMA)
        apply(old, before)
        report = migrate_command(Inputs(d))
        apply(old, during)
        drain_phase.batch_size = lambda conn: batch
        drain_command(Inputs(d))
        new = sqlite3.connect(f"file:{report.new}?mode=ro", uri=True)
        try:
            assert rows(new, "SELECT id, u, k, p FROM t ORDER BY id") == \
                rows(old, "SELECT id, u, k, p FROM t ORDER BY id")
            assert rows(new, "SELECT code, n, val FROM w ORDER BY code COLLATE BINARY") == \
                rows(old, "SELECT code, n, val FROM w ORDER BY code COLLATE BINARY")
        finally:
            new.close()
            old.close()


def test_a_duplicate_key_in_a_keyless_old_table_does_not_hide_a_stale_row() -> None:
    """An old keyless table whose new key comes from its column may hold a key twice for
    a while during recording; the upsert then writes that key twice, and its row count
    must not stand in for another key it left alone (found in review)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("ATTACH ':memory:' AS old")
    conn.execute("CREATE TABLE old.t (a INTEGER NOT NULL, u TEXT, v)")
    conn.execute("CREATE TABLE old._migration_log (seq INTEGER PRIMARY KEY, tbl, op, k1)")
    new_schema = "CREATE TABLE t (a INTEGER PRIMARY KEY, u TEXT UNIQUE, v);"
    tp = compare(introspect(conn, "old"), loads(new_schema)).by_source("t")
    assert tp is not None and tp.updated and not tp.unique_old_key
    conn.execute(new_schema)
    conn.execute("INSERT INTO old.t VALUES (1, 'p', 0), (2, 'q', 0)")
    conn.execute("INSERT INTO main.t SELECT * FROM old.t")  # the copy

    def write(sql: str, op: str, key: int) -> None:
        conn.execute(sql)
        conn.execute("INSERT INTO old._migration_log (tbl, op, k1) VALUES ('t', ?, ?)", (op, key))

    def replay(lo: int, hi: int, gone: bool) -> None:
        conn.execute("BEGIN")
        replay_engine._replay_table(conn, replay_sql(tp), {"lo": lo, "hi": hi}, gone=gone)
        conn.execute("COMMIT")

    write("INSERT INTO old.t VALUES (1, 'p', 0)", "I", 1)  # key 1 twice, for a while
    write("UPDATE old.t SET u = 'r' WHERE a = 2", "U", 2)  # an indexed column changes
    replay(0, 2, gone=False)
    write("DELETE FROM old.t WHERE rowid = (SELECT max(rowid) FROM old.t WHERE a = 1)", "D", 1)
    replay(2, 3, gone=True)
    assert conn.execute("SELECT a, u, v FROM main.t ORDER BY a").fetchall() == \
        conn.execute("SELECT a, u, v FROM old.t ORDER BY a").fetchall() == [(1, "p", 0), (2, "r", 0)]
