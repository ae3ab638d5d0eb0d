"""What mig.runtime costs a service per transaction, against the same work on raw sqlite3.

    .venv/bin/python bench/runtime_overhead.py [--n 2000] [--repeat 5] [--quick]

Every case runs the same one-statement transaction `--n` times both ways on
the same file (WAL, synchronous=NORMAL on every connection, SQLAlchemy's
included, so a commit is cheap and the library's share is visible) and keeps
the best of `--repeat` runs, raw and library runs alternating; the default
takes about 10 s, `--quick` (500 x 1) a second or two:
- raw: `BEGIN IMMEDIATE` (writes) or `BEGIN` (reads), the statement, `COMMIT`
  on a plain `sqlite3` connection;
- mig.runtime: `with db.transaction()` / `with db.read()`.
The databases are in the states a service meets: no migration, the old
database while `recording` (both sides pay the capture trigger; the
difference is the library's marker check), the new database after cutover.
With SQLAlchemy installed, the same for an engine with and without
`mig.runtime.install`. Prints one table; docs/runtime.md quotes it.
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mig import commands, runtime  # noqa: E402

OLD = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL);"
NEW = ("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL, "
       "note TEXT);")
WRITE = "INSERT INTO items (name, qty) VALUES ('widget', 3)"
READ = "SELECT name, qty FROM items WHERE id = 1"


def _pair_us(raw: Callable[[int], None], lib: Callable[[int], None], n: int,
             repeat: int) -> tuple[float, float]:
    """Best µs/tx of each side. The runs alternate (raw, lib, raw, lib, ...) after a warm-up,
    so a neighbour's burst on a shared machine hits both sides alike, not one case."""
    raw(max(n // 10, 1))
    lib(max(n // 10, 1))
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for side, run in enumerate((raw, lib)):
            started = time.perf_counter_ns()
            run(n)
            best[side] = min(best[side], (time.perf_counter_ns() - started) / n / 1000)
    return best[0], best[1]


def _raw(path: Path, sql: str, write: bool) -> Callable[[int], None]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    begin = "BEGIN IMMEDIATE" if write else "BEGIN"

    def run(n: int) -> None:
        for _ in range(n):
            conn.execute(begin)
            conn.execute(sql).fetchall()
            conn.execute("COMMIT")
    return run


def _lib(path: Path, sql: str, write: bool) -> Callable[[int], None]:
    db = runtime.connect(path)
    db.connection.execute("PRAGMA synchronous=NORMAL")
    tx = db.transaction if write else db.read

    def run(n: int) -> None:
        for _ in range(n):
            with tx() as conn:
                conn.execute(sql).fetchall()
    return run


def _sqlalchemy(path: Path, sql: str, hooked: bool) -> Callable[[int], None] | None:
    try:
        import sqlalchemy as sa
    except ImportError:
        return None
    engine: Any = runtime.create_engine(path) if hooked else sa.create_engine(f"sqlite:///{path}")

    @sa.event.listens_for(engine, "connect")
    def _normal(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")  # as in every other case

    statement = sa.text(sql)

    def run(n: int) -> None:
        for _ in range(n):
            with engine.begin() as conn:
                conn.execute(statement)
    return run


def _project(tmp: Path) -> tuple[Path, Path]:
    d = tmp / "bench"
    d.mkdir()
    (d / "schema.sql").write_text(NEW)
    old = d / "bench-0000000000000001.sqlite"
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(OLD + "INSERT INTO items (name, qty) VALUES ('seed', 1);")
    conn.close()
    return d, old


def measure(n: int, repeat: int) -> list[tuple[str, float, float]]:
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        d, old = _project(Path(tmp))

        def case(name: str, path: Path, sql: str, write: bool) -> None:
            rows.append((name, *_pair_us(_raw(path, sql, write), _lib(path, sql, write), n, repeat)))

        case("write, no migration", old, WRITE, True)
        case("read, no migration", old, READ, False)
        raw_sa, lib_sa = _sqlalchemy(old, WRITE, False), _sqlalchemy(old, WRITE, True)
        if raw_sa and lib_sa:
            rows.append(("SQLAlchemy write, no migration", *_pair_us(raw_sa, lib_sa, n, repeat)))
        new = Path(commands.migrate_command(commands.Inputs(d)).new)
        case("write, old db recording", old, WRITE, True)
        case("read, old db recording", old, READ, False)
        commands.drain_command(commands.Inputs(d))
        case("read, old db draining", old, READ, False)
        commands.cutover_command(commands.Inputs(d))
        case("write, new db after cutover", new, WRITE, True)
        case("read, new db after cutover", new, READ, False)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2_000, help="transactions per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per side and case; the best is kept")
    parser.add_argument("--quick", action="store_true", help="500 transactions x 1: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeat = 500, 1
    print(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
          f"{platform.machine()}; {args.n} transactions x best of {args.repeat}")
    print(f"{'case':34} {'raw µs/tx':>10} {'mig.runtime µs/tx':>18} {'overhead µs':>12} {'ratio':>6}")
    for name, raw, lib in measure(args.n, args.repeat):
        print(f"{name:34} {raw:10.1f} {lib:18.1f} {lib - raw:12.1f} {lib / raw:6.2f}")


if __name__ == "__main__":
    main()
