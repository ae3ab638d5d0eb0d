"""A damaged old database is refused before anything changes (issue 16, item 5).

The damage is real: bytes written over a b-tree page of a copy of a real
database, found with SQLite's dbstat. Before the fix, migrate installed its
triggers into the damaged file and created the new one, or (damage that
hides pages) copied half the rows and exited 0.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from clihelp import make_db, mig_here, snapshot

OLD = """
CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER);
CREATE INDEX item_name ON item(name);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
INSERT INTO item SELECT i, 'name-' || i || '-' || hex(randomblob(8)), i % 17 FROM n;
"""
NEW = """CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, note TEXT);
CREATE INDEX item_name ON item(name);
"""


def _page(db: Path, tree: str, kind: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT min(pageno) FROM dbstat WHERE name = ? AND pagetype = ?",
                            (tree, kind)).fetchone()[0]
    finally:
        conn.close()


def _write(db: Path, offset: int, data: bytes) -> None:
    with open(db, "r+b") as f:
        f.seek(offset)
        f.write(data)


def _garbage_over_a_table_leaf(db: Path) -> None:
    _write(db, (_page(db, "item", "leaf") - 1) * 4096, b"\xde\xad\xbe\xef" * 1024)


def _table_interior_hides_half(db: Path) -> None:
    """Two bytes: the table's interior page says it has half its cells. Reads skip the
    other half's leaves without an error (the silent loss of the issue)."""
    page = _page(db, "item", "internal")
    at = (page - 1) * 4096 + (100 if page == 1 else 0) + 3
    cells = int.from_bytes(db.read_bytes()[at:at + 2], "big")
    _write(db, at, (cells // 2).to_bytes(2, "big"))


def _index_interior_few_bytes(db: Path) -> None:
    _write(db, (_page(db, "item_name", "internal") - 1) * 4096 + 3, b"\x00\x01")


DAMAGE = [
    pytest.param(_garbage_over_a_table_leaf, id="table leaf page overwritten"),
    pytest.param(_table_interior_hides_half, id="two bytes of a table interior page (silent loss)"),
    pytest.param(_index_interior_few_bytes, id="two bytes of an index page"),
]


def _project(tmp: Path, journal: str = "delete") -> tuple[Path, Path, Path]:
    """(project dir, old database, an undamaged backup of it outside the project)."""
    d = tmp / "p"
    d.mkdir()
    (d / "schema.sql").write_text(NEW)
    old = make_db(d / "p-00000000000000ee.sqlite", OLD)
    conn = sqlite3.connect(old, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.close()
    backup = tmp / "backup.sqlite"
    shutil.copyfile(old, backup)
    return d, old, backup


def _rows(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM item").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_old_database_is_refused_and_left_byte_for_byte(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    d, old, backup = _project(tmp_path)
    damage(old)
    before = snapshot(d)
    out = mig_here("migrate", "--dir", str(d))
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stderr.startswith(f"migrate failed: the old database {old} is damaged (PRAGMA quick_check: ")
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert "***" not in out.stderr  # SQLite's "*** in database main ***" header is not a problem
    assert "restore it from a backup" in out.stderr and "--old FIXED.sqlite" in out.stderr
    assert snapshot(d) == before  # no triggers, no new file, no lock, no -wal/-shm
    plan = mig_here("plan", "--dir", str(d))  # plan shows what migrate would do: the same refusal
    assert plan.returncode == 1 and plan.stderr.startswith("plan failed: the old database ")
    assert snapshot(d) == before

    # The advice, followed: the backup restored, migrate runs.
    shutil.copyfile(backup, old)
    again = mig_here("migrate", "--dir", str(d))
    assert again.returncode == 0, again.stderr
    assert f"Copied rows: {_rows(backup)}" in again.stdout


def test_a_damaged_wal_database_is_refused_and_no_side_files_are_left(tmp_path: Path) -> None:
    d, old, _ = _project(tmp_path, "wal")
    _table_interior_hides_half(old)
    before = snapshot(d)
    out = mig_here("migrate", "--dir", str(d))
    assert out.returncode == 1 and "is damaged (PRAGMA quick_check: " in out.stderr, out.stderr
    assert snapshot(d) == before


def test_the_salvage_advice_works_when_followed(tmp_path: Path) -> None:
    """`sqlite3 OLD .recover | sqlite3 FIXED` (or `.dump` where this shell has no .recover),
    then migrate --old FIXED: what the salvage kept is migrated."""
    if shutil.which("sqlite3") is None:
        pytest.skip("no sqlite3 shell")
    d, old, _ = _project(tmp_path)
    _table_interior_hides_half(old)
    assert mig_here("migrate", "--dir", str(d)).returncode == 1
    fixed = d / "FIXED.sqlite"
    for command in (".recover", ".dump"):
        fixed.unlink(missing_ok=True)
        dump = subprocess.run(["sqlite3", str(old), command], capture_output=True, text=True)
        if dump.returncode == 0 and "CREATE TABLE" in dump.stdout:
            break
    subprocess.run(["sqlite3", str(fixed)], input=dump.stdout, text=True, check=True, capture_output=True)
    out = mig_here("migrate", "--dir", str(d), "--old", str(fixed))
    assert out.returncode == 0, out.stderr
    assert f"Copied rows: {_rows(fixed)}" in out.stdout


def test_a_rollback_journal_check_that_would_hold_writers_too_long_is_stopped_and_noted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In rollback-journal mode quick_check holds the old service's commits back while it runs:
    past QUICK_CHECK_BUDGET_S it is stopped, migrate goes on, and the report says so."""
    from mig import commands
    from mig.phases.common import preconditions as precheck

    d, old, _ = _project(tmp_path)
    conn = sqlite3.connect(old, isolation_level=None)  # a check of ~100 ms, far past the budget
    conn.execute("WITH RECURSIVE n(i) AS (SELECT 3001 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) "
                 "INSERT INTO item SELECT i, 'name-' || i || hex(randomblob(20)), i % 17 FROM n")
    conn.close()
    monkeypatch.setattr(precheck, "QUICK_CHECK_BUDGET_S", 0.02)  # the check is running by then
    report = commands.migrate_command(commands.Inputs(d))
    assert report.action == "migrated" and report.copied_rows == 300000
    assert len(report.notes) == 1 and "was not checked for damage" in report.notes[0]
    from mig.cli.text import render_text
    assert f"Note: {report.notes[0]}" in render_text("migrate", report).splitlines()


def test_a_wal_database_is_checked_whole_whatever_it_costs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """WAL readers do not hold writers back: there the check is never cut short."""
    from mig import commands
    from mig.errors import OldDatabaseDamaged
    from mig.phases.common import preconditions as precheck

    d, old, _ = _project(tmp_path, "wal")
    _index_interior_few_bytes(old)
    monkeypatch.setattr(precheck, "QUICK_CHECK_BUDGET_S", 0.0)
    with pytest.raises(OldDatabaseDamaged):
        commands.migrate_command(commands.Inputs(d))
