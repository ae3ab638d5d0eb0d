"""Is there disk space for the migration? Asked before anything changes (runbook preflight 5).

What migrate writes, estimated from the old database's header (no scan):
- the new file: the old database's pages in use (page_count - freelist_count,
  times page_size), plus NEW_HEADROOM for what the new schema adds (the
  bench's change, one new column and one new index, made it 3.6 % bigger);
- its rollback journal while the copy runs: the copy commits in chunks paced
  to READ_TARGET_S (at most 200,000 rows), and a chunk's journal holds only
  pages that existed before it, not the pages it appends (measured at 1M
  rows: 107 KB at most); JOURNAL_SHARE of the new file, JOURNAL_FLOOR at least;
- the log in the old database (`_migration_log`), which grows with the old
  service's writes for as long as the migration runs: LOG_SHARE of the old
  database, LOG_FLOOR at least. A margin, not a bound: a service that rewrites
  its database many times over during the migration needs more.
The sort of CREATE INDEX spills into SQLite's temporary directory, which is
not counted. Both sides on one filesystem: the sum must fit.

`estimate` and `shortfall` are pure; `check_space` reads the files and asks
`free_bytes` (module level, so tests can give it any filesystem).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mig.errors import NoSpace
from mig.phases.common.state import REFUSALS
from mig.sqlite.connect import reading

__all__ = ["Estimate", "Shortfall", "estimate", "shortfall", "check_space", "free_bytes", "used_bytes"]

MiB = 1 << 20
NEW_HEADROOM = 10  # per cent
JOURNAL_SHARE, JOURNAL_FLOOR = 5, 1 * MiB  # per cent of the new file, bytes
LOG_SHARE, LOG_FLOOR = 10, 1 * MiB  # per cent of the old database, bytes


@dataclass(frozen=True)
class Estimate:
    """Bytes migrate still has to write: the new file's growth, its journal, the old log's growth."""

    new_file: int
    journal: int
    log: int

    @property
    def new_side(self) -> int:
        return self.new_file + self.journal


@dataclass(frozen=True)
class Shortfall:
    where: Path  # a directory on the filesystem that lacks the space
    what: str
    need: int
    free: int
    side: str  # new | old | both


def estimate(old_used: int, new_now: int = 0) -> Estimate:
    """From the old database's bytes in use and the new file's size so far (0 before it exists)."""
    full = old_used + _share(old_used, NEW_HEADROOM)
    journal = min(full, max(JOURNAL_FLOOR, _share(full, JOURNAL_SHARE)))
    return Estimate(max(0, full - new_now), journal, max(LOG_FLOOR, _share(old_used, LOG_SHARE)))


def _share(n: int, percent: int) -> int:
    return -(-n * percent // 100)  # rounded up, in integers


def shortfall(est: Estimate, new_dir: Path, old_dir: Path, same_fs: bool,
              free_new: int, free_old: int) -> Shortfall | None:
    """The first filesystem the estimate does not fit on, or None."""
    if same_fs:
        need = est.new_side + est.log
        return Shortfall(new_dir, "the new database, its journal and the migration log", need,
                         free_new, "both") if need > free_new else None
    if est.new_side > free_new:
        return Shortfall(new_dir, "the new database and its journal", est.new_side, free_new, "new")
    if est.log > free_old:
        return Shortfall(old_dir, "the migration log in the old database", est.log, free_old, "old")
    return None


def free_bytes(directory: Path) -> int:
    """Bytes this user may still write on `directory`'s filesystem (tests replace this)."""
    return shutil.disk_usage(directory).free


def used_bytes(path: Path) -> int:
    """The database's pages in use: three header reads, no scan."""
    with reading(path) as conn:
        pages, free, size = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                             for p in ("page_count", "freelist_count", "page_size"))
    return max(0, int(pages) - int(free)) * int(size)


def _mib(n: int) -> str:
    return f"{n / MiB:.1f} MiB"


def check_space(old_path: Path, new_path: Path, resuming: bool = False) -> None:
    """Refuse (NoSpace) when what migrate still has to write does not fit."""
    new_now = new_path.stat().st_size if new_path.is_file() else 0
    est = estimate(used_bytes(old_path), new_now)
    new_dir, old_dir = new_path.resolve().parent, old_path.resolve().parent
    if not new_dir.is_dir():
        return  # migrate refuses that path itself (check_creatable), saying why
    same = os.stat(new_dir).st_dev == os.stat(old_dir).st_dev
    short = shortfall(est, new_dir, old_dir, same, free_bytes(new_dir), free_bytes(old_dir))
    if short is None:
        return
    if short.side == "old":
        advice = "free space there: the log grows inside the old database while its service writes"
    elif resuming:
        advice = "free space there and run `mig migrate` again"
    elif short.side == "both":
        advice = "free space there, or pass --new with a path on another filesystem"
    else:
        advice = "free space there, or pass --new with a path on a filesystem that has it"
    raise NoSpace(REFUSALS["no_space"].format(where=short.where, what=short.what, need=_mib(short.need),
                                               free=_mib(short.free), advice=advice))
