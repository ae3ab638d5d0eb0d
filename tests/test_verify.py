"""`mig verify` finds every kind of difference, across range boundaries, and says which keys."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from clihelp import mig_here, project

from mig import commands
from mig.phases import verify as verify_phase

OLD = """
CREATE TABLE t (id INTEGER PRIMARY KEY, r REAL, b BLOB, s TEXT);
CREATE TABLE k (a TEXT, b TEXT, v INTEGER, PRIMARY KEY (a, b)) WITHOUT ROWID;
CREATE TABLE loose (x, y);
"""
NEW = OLD.replace("s TEXT);", "s TEXT, extra TEXT DEFAULT 'x');") + "INSERT INTO t (id, s) VALUES (1000, 'seed');"


def migrated(tmp: Path) -> tuple[Path, sqlite3.Connection]:
    d = project(tmp, OLD, NEW)
    old = sqlite3.connect(d / "proj-0000000000000001.sqlite", isolation_level=None)
    old.execute("BEGIN")
    old.executemany("INSERT INTO t VALUES (?, ?, ?, ?)",
                    [(i, i / 3, bytes([i % 256]) * 3, f"s{i}") for i in range(1, 301)])
    old.executemany("INSERT INTO k VALUES (?, ?, ?)", [(f"a{i % 7}", f"b{i}", i) for i in range(200)])
    old.executemany("INSERT INTO loose VALUES (?, ?)", [(i, str(i)) for i in range(50)])
    old.execute("COMMIT")
    assert mig_here("migrate", cwd=d).returncode == 0
    assert mig_here("drain", cwd=d).returncode == 0
    new = next(p for p in d.glob("proj-*.sqlite") if not p.name.endswith("0001.sqlite"))
    return d, sqlite3.connect(new, isolation_level=None)


def unguard(conn: sqlite3.Connection) -> None:
    """Tamper like a buggy replay would: mig's guards would refuse this connection."""
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE '_mig_guard_%'").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')


def test_identical_after_drain_even_in_small_ranges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d, _ = migrated(tmp_path)
    monkeypatch.setattr(verify_phase, "VERIFY_CHUNK_ROWS", 7)
    report = commands.verify_command(commands.Inputs(d))
    assert report.ok, [(t.table, t.differing_keys) for t in report.tables]
    assert {t.table: t.old_rows for t in report.tables} == {"t": 300, "k": 200, "loose": 50}


TAMPER = [
    pytest.param("UPDATE t SET r = 0.30000000000000004 WHERE id = 1", "t", "1", id="one ulp of a REAL"),
    pytest.param("UPDATE loose SET x = 7.0 WHERE x = 7", "loose", "8", id="INTEGER 7 became REAL 7.0"),
    pytest.param("UPDATE t SET b = CAST(b AS TEXT) WHERE id = 9", "t", "9", id="BLOB became TEXT"),
    pytest.param("DELETE FROM t WHERE id = 150", "t", "150", id="a missing row"),
    pytest.param("INSERT INTO t (id) VALUES (5000)", "t", "5000", id="an extra row"),
    pytest.param("UPDATE k SET v = -1 WHERE a = 'a3' AND b = 'b10'", "k", "('a3', 'b10')", id="composite key"),
    pytest.param("UPDATE loose SET y = 'z' WHERE x = 20", "loose", "21", id="keyless table, by rowid"),
]


@pytest.mark.parametrize("tamper,table,key", TAMPER)
def test_a_difference_is_found_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         tamper: str, table: str, key: str) -> None:
    d, new = migrated(tmp_path)
    unguard(new)
    new.execute(tamper)
    monkeypatch.setattr(verify_phase, "VERIFY_CHUNK_ROWS", 16)
    report = commands.verify_command(commands.Inputs(d))
    bad = [t for t in report.tables if not t.ok]
    assert [t.table for t in bad] == [table] and key in bad[0].differing_keys, bad
    out = mig_here("verify", cwd=d)
    assert out.returncode == 1 and f"differing key: {key}" in out.stdout


def test_seed_rows_and_default_columns_are_not_differences(tmp_path: Path) -> None:
    d, new = migrated(tmp_path)
    assert new.execute("SELECT s, extra FROM t WHERE id = 1000").fetchone() == ("seed", "x")
    assert mig_here("verify", cwd=d).returncode == 0
