"""Disk space is checked before anything changes (issue 16, item 11; runbook preflight 5).

The estimate is a pure function, tested without a filesystem. The refusal is
tested for real on a 3 MB tmpfs where this machine lets the tests mount one
(as root), and in-process everywhere through the `space.free_bytes` seam.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from clihelp import make_db, mig_here, snapshot

from mig import commands
from mig.errors import NoSpace
from mig.phases.common import space
from mig.phases.common.space import Estimate, MiB, estimate, shortfall

OLD = """
CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, payload BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO item SELECT i, 'name-' || i, randomblob(900) FROM n;
"""
NEW = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, payload BLOB, note TEXT);\n"


# ---------------------------------------------------------------- the estimate, pure

def test_the_estimate_is_the_old_pages_in_use_with_margins() -> None:
    est = estimate(100 * MiB)
    assert est.new_file == 110 * MiB  # NEW_HEADROOM: what the new schema adds
    assert est.journal == 110 * MiB // 20  # the copy's chunks' journal
    assert est.log == 10 * MiB  # the old log's growth while the service writes
    assert est.new_side == est.new_file + est.journal


def test_a_small_database_gets_the_floors_and_a_journal_no_bigger_than_the_file() -> None:
    assert estimate(4096) == Estimate(4506, 4506, MiB)
    assert estimate(0) == Estimate(0, 0, MiB)


def test_a_resumed_copy_counts_what_the_new_file_already_holds() -> None:
    fresh, resumed = estimate(100 * MiB), estimate(100 * MiB, new_now=60 * MiB)
    assert resumed.new_file == fresh.new_file - 60 * MiB and resumed.journal == fresh.journal
    assert estimate(100 * MiB, new_now=500 * MiB).new_file == 0  # never negative


def test_one_filesystem_must_hold_the_sum() -> None:
    est = Estimate(new_file=10, journal=2, log=3)
    new, old = Path("/n"), Path("/o")
    assert shortfall(est, new, old, True, 15, 15) is None
    short = shortfall(est, new, old, True, 14, 14)
    assert short is not None and (short.need, short.free, short.side) == (15, 14, "both")


def test_two_filesystems_are_checked_each_for_its_own_part() -> None:
    est = Estimate(new_file=10, journal=2, log=3)
    new, old = Path("/n"), Path("/o")
    assert shortfall(est, new, old, False, 12, 3) is None
    short = shortfall(est, new, old, False, 11, 100)
    assert short is not None and (short.where, short.need, short.side) == (new, 12, "new")
    short = shortfall(est, new, old, False, 100, 2)
    assert short is not None and (short.where, short.need, short.side) == (old, 3, "old")


# ---------------------------------------------------------------- the refusal, for real

def _project(tmp: Path) -> Path:
    d = tmp / "p"
    d.mkdir()
    (d / "schema.sql").write_text(NEW)
    make_db(d / "p-00000000000000ee.sqlite", OLD)
    return d


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs, where the tests may mount one (root); skipped elsewhere."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_new_database_on_a_filesystem_too_small_is_refused_before_anything_changes(
        tmp_path: Path, small_fs: Path) -> None:
    d = _project(tmp_path)
    assert (d / "p-00000000000000ee.sqlite").stat().st_size > 5_000_000
    before = snapshot(d)
    new = small_fs / "new.sqlite"
    out = mig_here("migrate", "--dir", str(d), "--new", str(new))
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stderr.startswith(f"migrate failed: not enough disk space in {small_fs} for the new "
                                 "database and its journal: about "), out.stderr
    assert "MiB needed, 3.0 MiB free; free space there, or pass --new" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert snapshot(d) == before and list(small_fs.iterdir()) == []  # no triggers, no new file
    plan = mig_here("plan", "--dir", str(d), "--new", str(new))
    assert plan.returncode == 1 and plan.stderr.startswith("plan failed: not enough disk space in ")
    # The advice, followed: --new on a filesystem that has the room.
    again = mig_here("migrate", "--dir", str(d), "--new", str(tmp_path / "elsewhere.sqlite"))
    assert again.returncode == 0, again.stderr


def test_a_log_that_would_not_fit_beside_the_old_database_is_refused(
        tmp_path: Path, small_fs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new database has the room; the old database's filesystem is the one short of it."""
    d = _project(tmp_path)
    before = snapshot(d)
    real = space.free_bytes
    monkeypatch.setattr(space, "free_bytes", lambda p: 100 * MiB if p == small_fs else 64 * 1024
                        if p == d else real(p))
    with pytest.raises(NoSpace, match=r"in .*/p for the migration log in the old database: about "
                       r"1\.0 MiB needed, 0\.1 MiB free; free space there: the log grows"):
        commands.migrate_command(commands.Inputs(d, new=small_fs / "new.sqlite"))
    assert snapshot(d) == before and list(small_fs.iterdir()) == []


# ---------------------------------------------------------------- the refusal, through the seam

def _free(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    monkeypatch.setattr(space, "free_bytes", lambda p: free)


def _need(d: Path, new_now: int = 0) -> int:
    est = estimate(space.used_bytes(d / "p-00000000000000ee.sqlite"), new_now)
    return est.new_side + est.log


def test_on_one_filesystem_migrate_refuses_when_the_sum_does_not_fit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = _project(tmp_path)
    before = snapshot(d)
    _free(monkeypatch, _need(d) - 1)
    with pytest.raises(NoSpace, match=r"for the new database, its journal and the migration log: .* "
                       r"free; free space there, or pass --new with a path on another filesystem$"):
        commands.migrate_command(commands.Inputs(d))
    with pytest.raises(NoSpace):
        commands.plan_command(commands.Inputs(d))
    assert snapshot(d) == before
    _free(monkeypatch, _need(d))
    assert commands.migrate_command(commands.Inputs(d)).action == "migrated"


def test_a_resumed_migrate_needs_only_what_is_left_and_does_not_refuse_its_own_half_built_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = _project(tmp_path)

    def stop_mid_copy(label: str, done: int, total: int | None) -> None:
        if label.startswith("copy ") and done >= 1000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        commands.migrate_command(commands.Inputs(d), progress=stop_mid_copy)
    new = next(p for p in d.glob("p-*.sqlite") if p.name != "p-00000000000000ee.sqlite")
    half = new.stat().st_size
    assert half > 0
    _free(monkeypatch, _need(d, half))  # less than a fresh migrate needs: what is left fits
    assert _need(d, half) < _need(d)
    _free(monkeypatch, _need(d, half) - 1)
    with pytest.raises(NoSpace, match=r"free space there and run `mig migrate` again; the migration "
                       r"stays in place"):
        commands.migrate_command(commands.Inputs(d))
    _free(monkeypatch, _need(d, half))
    report = commands.migrate_command(commands.Inputs(d))
    assert report.action == "resumed" and report.copied_rows == 5000
    conn = sqlite3.connect(new)
    assert conn.execute("SELECT count(*) FROM item").fetchone()[0] == 5000
    conn.close()
