"""What the revert window costs the new service (issue 19): its write throughput while the new
database records every write for a revert, against the same database once `mig cleanup-old`
closed the window; docs/design.md's target for capture is >= 0.6.

    .venv/bin/python bench/revert_capture.py [--rows 1000000] [--seconds 5] [--save]

The bench's data and writer (bench/run.py, bench/writer.py): the old database is migrated,
drained and cut over as the runbook runs it, twice; on one of the two new databases
`mig cleanup-old` closes the window. The writer then commits single-row inserts, updates
and deletes on each in turn, closed, open, closed, open, after a short warm-up run on each:
the medians compare (the runs alternate, so a drift of the machine shows as a spread).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  (bench/run.py: the data, the writer, the machine line)

MIG = [sys.executable, "-m", "mig.cli"]
TARGET = 0.6


def cut_over(root: Path, name: str, base: Path) -> Path:
    """A project migrated, drained and cut over: the new database, its revert window open."""
    old = bench.make_project(root, name, base, "wal")
    for step in ("migrate", "drain", "cutover"):
        subprocess.run([*MIG, step, "--dir", str(old.parent)], check=True, capture_output=True)
    return next(p for p in old.parent.glob(f"{name}-*.sqlite") if p != old)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--save", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mig-revert-capture-"))
    try:
        base = root / "base.sqlite"
        print(f"building {args.rows:,} rows", file=sys.stderr)
        bench.build_db(base, args.rows)
        opened, closed = cut_over(root, "a", base), cut_over(root, "b", base)
        subprocess.run([*MIG, "cleanup-old", "--dir", str(closed.parent)], check=True, capture_output=True)
        print("throughput, window closed / open, alternating", file=sys.stderr)
        for db in (closed, opened):
            bench.throughput(db, 1.0)  # warm-up: the first commits after cutover checkpoint
        runs: dict[Path, list[float]] = {closed: [], opened: []}
        for _ in range(2):
            for db in (closed, opened):
                runs[db].append(bench.throughput(db, args.seconds))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    open_rate, closed_rate = statistics.median(runs[opened]), statistics.median(runs[closed])
    ratio = open_rate / closed_rate
    lines = [f"mig revert capture bench: {args.rows:,} rows, {time.strftime('%Y-%m-%d %H:%M')}",
             *bench.machine(), "",
             f"{'figure':<52} {'measured':>9} {'target':>8}  result  detail",
             f"{'write throughput on the new database, window open / closed':<52} {ratio:>9.2f} {'>= 0.60':>8}  "
             f"{'PASS' if ratio >= TARGET else 'MISS':<6}  median {open_rate:,.0f} (open: "
             f"{', '.join(f'{r:,.0f}' for r in runs[opened])}) vs {closed_rate:,.0f} (closed: "
             f"{', '.join(f'{r:,.0f}' for r in runs[closed])}) commits/s, {args.seconds:g} s each"]
    report = "\n".join(lines)
    print(report)
    if args.save:
        out = HERE / "results" / f"{time.strftime('%Y-%m-%d-%H%M')}-revert-capture-{args.rows}.txt"
        out.write_text(report + "\n")
        print(f"saved {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
