"""mig benchmark: docs/design.md, Targets targets, measured side by side in one run.

    .venv/bin/python bench/run.py --rows 1000000 [--save]
    .venv/bin/python bench/run.py --quick            # 20k-row smoke run (2x for the scale rows)
    .venv/bin/python bench/run.py --rows 1000000 --no-scale   # without the 10x-rows window runs

See bench/README.md for what each figure measures. Standard library only
(and `sqlite-utils` for one row, printed n/a without it);
mig always runs as a real subprocess (`<venv>/bin/mig`), so its memory and
start-up are what an operator gets.
"""

from __future__ import annotations

import argparse
import array
import datetime
import os
import platform
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from mig.ddl import index_statements, table_statements, trigger_statements, view_statements  # noqa: E402
from mig.schema import load_schema  # noqa: E402

OLD_SQL = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE,
  score REAL, avatar BLOB, created INTEGER NOT NULL);
CREATE TABLE posts (id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title TEXT NOT NULL, body TEXT, rating REAL, attachment BLOB, created INTEGER NOT NULL);
CREATE INDEX posts_user ON posts(user_id);
CREATE TABLE comments (id INTEGER PRIMARY KEY,
  post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  user_id INTEGER REFERENCES users(id), body TEXT NOT NULL, votes INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL);
CREATE INDEX comments_post ON comments(post_id);
CREATE INDEX comments_user ON comments(user_id);
CREATE TABLE post_tags (post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  tag TEXT NOT NULL, weight REAL, PRIMARY KEY (post_id, tag)) WITHOUT ROWID;
CREATE INDEX post_tags_tag ON post_tags(tag);
"""

# The target: one new nullable column and one new index, everything else kept.
TARGET_SQL = OLD_SQL.replace("created INTEGER NOT NULL);\nCREATE TABLE posts",
                             "created INTEGER NOT NULL, bio TEXT);\nCREATE TABLE posts") + \
    "CREATE INDEX comments_created ON comments(created);\n"

SHARES = {"users": 0.10, "posts": 0.30, "comments": 0.50, "post_tags": 0.10}
LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud "
         "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat duis aute irure ")

# (label, target text, check) -- the smoke test looks for every label.
ROWS = [
    ("write-unavailability window, one-step, rows", "<= 100 ms"),
    ("write-unavailability window, one-step, 10x rows", "<= 100 ms"),
    ("write-unavailability window, runbook, rows", "<= 300 ms"),
    ("write-unavailability window, runbook, 10x rows", "<= 300 ms"),
    ("write-unavailability window, revert, rows", "<= 300 ms"),
    ("write-unavailability window, revert, 10x rows", "<= 300 ms"),
    ("window 10x / 1x, runbook", "<= 1.5"),
    ("window 10x / 1x, one-step", "info"),
    ("sqlite-utils transform: writer blocked", "info"),
    ("one-step window / sqlite-utils blocked time", "<= 0.1"),
    ("migrate wall minus start-up / raw INSERT...SELECT", "<= 1.25"),
    ("copy time / raw INSERT...SELECT", "info"),
    ("write throughput, recording / not", ">= 0.60"),
    ("drain replay rate / raw copy rate", ">= 0.40"),
    ("drain wall-time rate / raw copy rate", "info"),
    ("peak RSS, mig migrate", "<= 150 MB"),
    ("peak RSS, mig drain", "<= 150 MB"),
    ("peak RSS growth, migrate rows/10 -> rows", "<= 1.25x"),
    ("write latency during migrate, WAL, worst", "<= 200 ms"),
    ("write latency during migrate, WAL, p99", "<= 200 ms"),
    ("write latency during migrate, rollback, worst", "<= 200 ms"),
    ("write latency during migrate, rollback, p99", "<= 200 ms"),
    ("write latency during drain, WAL, worst", "info"),
]
TARGETS = dict(ROWS)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- machine

def machine() -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return [
        f"Machine: {cpu}, {os.cpu_count()} cores, {ram} RAM, {platform.system()} {platform.release()}",
        f"Python {platform.python_version()} ({sys.executable}), SQLite {sqlite3.sqlite_version}",
    ]


# ---------------------------------------------------------------- data

def counts(rows: int) -> dict[str, int]:
    return {t: max(10, int(rows * share)) for t, share in SHARES.items()}


def build_db(path: Path, rows: int) -> dict[str, int]:
    """The old database in rollback-journal mode (scenarios switch to WAL on their copy)."""
    n = counts(rows)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA synchronous=OFF")
    conn.executescript(OLD_SQL)
    seq = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
    lorem = LOREM * 3
    conn.execute("BEGIN")
    conn.execute(seq + """INSERT INTO users SELECT i, 'user ' || i, 'user' || i || '@example.com',
        CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 1000) * 1.37 END,
        CASE WHEN i % 3 = 0 THEN NULL ELSE randomblob(16 + i % 48) END,
        1600000000 + i * 13 FROM c""", (n["users"],))
    conn.execute(seq + """INSERT INTO posts SELECT i, 1 + (i * 7) % ?, 'post ' || i || ' ' ||
        substr(?, 1 + i % 97, 20 + i % 30),
        CASE WHEN i % 11 = 0 THEN NULL ELSE substr(?, 1 + i % 89, 60 + i % 140) END,
        CASE WHEN i % 5 = 0 THEN NULL ELSE (abs(random()) % 50000) / 1e4 END,
        CASE WHEN i % 10 = 0 THEN randomblob(100 + i % 200) END,
        1600000000 + i * 7 FROM c""", (n["posts"], n["users"], lorem, lorem))
    conn.execute(seq + """INSERT INTO comments SELECT i, 1 + abs(random()) % ?,
        CASE WHEN i % 13 = 0 THEN NULL ELSE 1 + abs(random()) % ? END,
        substr(?, 1 + i % 83, 10 + i % 90), i % 50 - 5, 1600000000 + i * 3 FROM c""",
                 (n["comments"], n["posts"], n["users"], lorem))
    conn.execute(seq + """INSERT INTO post_tags SELECT 1 + (i - 1) % ?, 'tag' || ((i - 1) / ?) ||
        '-' || (i % 17), CASE WHEN i % 4 = 0 THEN NULL ELSE (i % 100) / 100.0 END FROM c""",
                 (n["post_tags"], n["posts"], n["posts"]))
    conn.execute("COMMIT")
    conn.close()
    return n


def make_project(root: Path, name: str, base: Path, journal: str) -> Path:
    """`<root>/<name>/` with schema.sql and `<name>-0000000000000001.sqlite` (a copy of base)."""
    d = root / name
    d.mkdir()
    (d / "schema.sql").write_text(TARGET_SQL)
    db = d / f"{name}-0000000000000001.sqlite"
    shutil.copyfile(base, db)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.close()
    return db


# ---------------------------------------------------------------- running mig

@dataclass
class Run:
    stdout: str
    stderr: str
    seconds: float
    maxrss_mb: float
    steps: list[tuple[float, str]]  # (monotonic time, line) of each stderr line


MIG: str | None = None  # --mig: another mig executable to measure


def compile_mig() -> None:
    """Byte-compile mig's modules, as `pip install` does, so every start the bench times
    is an installed mig's: with PYTHONDONTWRITEBYTECODE set (this workplace sets it) an
    editable install compiles every module at every start, about 0.1 s, and the runbook
    window holds one start-up of `mig cutover`."""
    import compileall
    compileall.compile_dir(str(REPO / "mig"), quiet=1)


def mig_cmd() -> list[str]:
    if MIG:
        return [MIG]
    script = Path(sys.executable).parent / "mig"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mig.cli"]


def run_mig(*args: str) -> Run:
    """Run mig as a child: its output, wall time, peak RSS (wait4) and when each of
    its progress lines (stderr) arrived."""
    started = time.monotonic()
    proc = subprocess.Popen(mig_cmd() + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO)
    assert proc.stdout is not None and proc.stderr is not None
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    steps = [(time.monotonic(), line.strip()) for line in proc.stderr]
    _, status, usage = os.wait4(proc.pid, 0)
    reader.join()
    seconds = time.monotonic() - started
    run = Run("".join(out), "\n".join(line for _, line in steps), seconds, usage.ru_maxrss / 1024, steps)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"mig {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}")
    return run


def field(text: str, label: str) -> str:
    m = re.search(rf"^{re.escape(label)}: (.*)$", text, re.M)
    if not m:
        raise SystemExit(f"no '{label}:' in mig output:\n{text}")
    return m.group(1).strip()


# ---------------------------------------------------------------- raw baseline

def raw_copy(old: Path, new: Path, target_sql: Path) -> float:
    """Same target DDL as mig renders; INSERT INTO ... SELECT per table across ATTACH, one transaction.

    Configured like mig's copy: rollback-journal mode (a new file's default,
    and how mig writes the copy and the index build), synchronous=OFF, tables
    first and indexes after the data, which is the fastest order; the clock
    runs from BEGIN to the end of COMMIT. (Until 2026-12-02 the baseline took
    the old database's journal mode, WAL here, which made it 1.2-1.5x slower.)
    """
    schema = load_schema(target_sql)
    src = sqlite3.connect(old)
    old_cols = {t: [r[1] for r in src.execute(f'PRAGMA table_info("{t}")')]
                for t in SHARES}
    src.close()
    conn = sqlite3.connect(new, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("ATTACH DATABASE ? AS old", (f"file:{old}?mode=ro",))
    started = time.monotonic()
    conn.execute("BEGIN")
    for sql in table_statements(schema):
        conn.execute(sql)
    for table in schema.tables:
        cols = ", ".join(f'"{c.name}"' for c in table.columns if c.name in old_cols[table.name])
        conn.execute(f'INSERT INTO main."{table.name}" ({cols}) SELECT {cols} FROM old."{table.name}"')
    for sql in index_statements(schema) + view_statements(schema) + trigger_statements(schema):
        conn.execute(sql)
    conn.execute("COMMIT")
    seconds = time.monotonic() - started
    conn.close()
    return seconds


# ---------------------------------------------------------------- the old service

def writer_cmd(db: Path, *extra: str) -> list[str]:
    return [sys.executable, str(HERE / "writer.py"), str(db), *extra]


def throughput(db: Path, seconds: float) -> float:
    out = subprocess.run(writer_cmd(db, "--seconds", str(seconds)), capture_output=True,
                         text=True, check=True).stdout
    import json
    res = json.loads(out)
    return float(res["commits"] / res["seconds"])


def make_log(db: Path, entries: int, seed: int = 7) -> None:
    """`entries` single-row updates at random keys of users, posts and comments (logged by capture)."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=60)
    conn.execute("PRAGMA synchronous=NORMAL")
    tops = {t: conn.execute(f"SELECT max(id) FROM {t}").fetchone()[0]
            for t in ("users", "posts", "comments")}
    total = sum(tops.values())
    rng = random.Random(seed)
    sql = {"users": "UPDATE users SET score = coalesce(score, 0) + 1 WHERE id = ?",
           "posts": "UPDATE posts SET rating = coalesce(rating, 0) + 1 WHERE id = ?",
           "comments": "UPDATE comments SET votes = votes + 1 WHERE id = ?"}
    done = 0
    while done < entries:
        n = min(20_000, entries - done)
        batch: dict[str, list[tuple[int]]] = {t: [] for t in tops}
        for _ in range(n):
            k = rng.randrange(total)
            for t, top in tops.items():
                if k < top:
                    batch[t].append((k + 1,))
                    break
                k -= top
        conn.execute("BEGIN")
        for t, keys in batch.items():
            conn.executemany(sql[t], keys)
        conn.execute("COMMIT")
        done += n
    conn.close()


def log_entries(db: Path) -> tuple[int, str]:
    """How many entries the log holds, and their ops, most frequent first ("590,000 U, 30,000 I").

    The throughput run's inserts and deletes (its share grows with the
    machine's commit rate) cost drain several times what an update costs.
    """
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    ops = conn.execute("SELECT op, count(*) AS n FROM _migration_log GROUP BY op ORDER BY n DESC").fetchall()
    conn.close()
    return sum(n for _, n in ops), ", ".join(f"{n:,} {op}" for op, n in ops)


@dataclass
class Latency:
    worst_ms: float
    p99_ms: float
    commits: int
    before_p99_ms: float
    mig_s: float
    worst_in: str  # the step of migrate the worst stall happened in, from mig's progress lines


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def latency_during_migrate(root: Path, base: Path, journal: str, pause_ms: float) -> Latency:
    name = "lat" + journal.lower()
    db = make_project(root, name, base, journal)
    # The copy just made is gigabytes of dirty pages at 10M rows; written back
    # during the run, the writer's fsync would wait behind the bench's own I/O.
    os.sync()
    return latency_while(db, pause_ms, "migrate", step_at)


def latency_while(db: Path, pause_ms: float, command: str,
                  step: Callable[[list[tuple[float, str]], float], str]) -> Latency:
    """The old service's commit latencies while `mig <command>` runs on db's project;
    `step` names what mig was doing at the worst one, from its progress lines."""
    name = db.parent.name
    lat_file, stop, ready = (db.parent.parent / f"{name}.{ext}" for ext in ("lat", "stop", "ready"))
    for f in (lat_file, stop, ready):
        f.unlink(missing_ok=True)
    w = subprocess.Popen(writer_cmd(db, "--until", str(stop), "--ready", str(ready),
                                    "--pause-ms", str(pause_ms), "--latencies", str(lat_file)),
                         stdout=subprocess.PIPE, text=True)
    while not ready.exists():
        if w.poll() is not None:
            raise SystemExit("writer died before its first commit")
        time.sleep(0.01)
    time.sleep(1.0)  # latencies before mig runs, for reference
    t0 = time.monotonic()
    run = run_mig(command, "--dir", str(db.parent))
    t1 = time.monotonic()
    time.sleep(0.3)
    stop.touch()
    w.communicate(timeout=120)
    raw = array.array("d")
    with open(lat_file, "rb") as fh:
        raw.frombytes(fh.read())
    pairs = list(zip(raw[0::2], raw[1::2]))
    during = [(start, lat) for start, lat in pairs if start + lat >= t0 and start <= t1]
    before = [lat for start, lat in pairs if start + lat < t0]
    lats = [lat for _, lat in during]
    worst_start = max(during, key=lambda p: p[1])[0] if during else t0
    return Latency(max(lats, default=float("nan")) * 1000, percentile(lats, 99) * 1000,
                   len(lats), percentile(before, 99) * 1000, run.seconds,
                   f"{step(run.steps, worst_start)} at {worst_start - t0:.1f} s")


def drain_step_at(steps: list[tuple[float, str]], when: float) -> str:
    """What drain was doing at `when`: catching up while writes go on, or the tail."""
    current = "start-up and checks"
    for t, line in steps:
        if t > when:
            break
        if line.startswith(("catch-up", "replay")):
            current = line.split(":")[0]
    return current


def step_at(steps: list[tuple[float, str]], when: float) -> str:
    """What migrate was doing at `when`, from its progress lines: the data checks
    before the first, a table's copy while its lines come, the indexes after the last."""
    copies = [(t, line) for t, line in steps if line.startswith("copy ")]
    current = "start-up and data checks"
    for t, line in copies:
        if t > when:
            break
        current = line.split(":")[0]
    if copies and when > copies[-1][0] and "done" in copies[-1][1]:
        current = "indexes"
    return current


# ---------------------------------------------------------------- what users see: the write-unavailability window

COMMITTED, REFUSED, OTHER_INTEGRITY, OTHER_ERROR, NO_ROW = 0, 1, 2, 3, 4


@dataclass
class Attempt:
    start: float
    end: float
    # COMMITTED, REFUSED ("writes are blocked"), OTHER_INTEGRITY, OTHER_ERROR, or NO_ROW:
    # committed, but its UPDATE or DELETE found no row. No trigger fired, so mig's
    # blocking triggers could not refuse it and it wrote nothing: the windows count it
    # neither as a write that went through nor as one refused (blocked_stretches, where
    # only locks block, as a commit).
    outcome: int


class LiveWriter:
    """`bench/writer.py` on db with --events: every attempt's start, end and outcome."""

    def __init__(self, db: Path, pause_ms: float, seed: int = 1) -> None:
        self.db = db
        base = db.parent.parent / f"{db.parent.name}-writer"
        self.events, self.stop_file, self.ready = (base.with_suffix(s) for s in (".events", ".stop", ".ready"))
        for f in (self.events, self.stop_file, self.ready):
            f.unlink(missing_ok=True)
        self.proc = subprocess.Popen(writer_cmd(db, "--until", str(self.stop_file), "--ready", str(self.ready),
                                                "--pause-ms", str(pause_ms), "--events", str(self.events),
                                                "--seed", str(seed)),
                                     stdout=subprocess.PIPE, text=True)
        while not self.ready.exists():
            if self.proc.poll() is not None:
                raise SystemExit("writer died before its first commit")
            time.sleep(0.01)

    def stop(self) -> tuple[list[Attempt], dict[str, str]]:
        self.stop_file.touch()
        out, _ = self.proc.communicate(timeout=120)
        import json
        messages = json.loads(out).get("messages", {}) if out.strip() else {}
        raw = array.array("d")
        with open(self.events, "rb") as fh:
            raw.frombytes(fh.read())
        return ([Attempt(s, e, int(o)) for s, e, o in zip(raw[0::3], raw[1::3], raw[2::3])],
                {str(k): v for k, v in messages.items()})


class ReadyPoller(threading.Thread):
    """Reads `_migration_status` of the new database every ~1 ms through a read-only
    connection (as the new service would see it) and notes when it first reads `ready`.

    A read in WAL mode takes no lock a writer waits for, so polling never delays
    cutover's commit. The time noted is the end of the first read that saw `ready`:
    at most one poll (~1.1 ms) after the commit."""

    def __init__(self, new_db: Path) -> None:
        super().__init__(daemon=True)
        self.new_db = new_db
        self.ready_at: float | None = None
        self.polls = 0
        self.halt = threading.Event()
        self.conn = sqlite3.connect(f"file:{new_db}?mode=ro", uri=True, isolation_level=None,
                                    check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout=1000")

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                row = self.conn.execute("SELECT status FROM _migration_status").fetchone()
                self.polls += 1
                if row is not None and row[0] == "ready":
                    self.ready_at = time.monotonic()
                    return
                time.sleep(0.001)
        finally:
            self.conn.close()


def has_one_step() -> bool:
    """Whether this mig's `drain` takes `--cutover` (drain and cutover in one process)."""
    out = subprocess.run(mig_cmd() + ["drain", "--help"], capture_output=True, text=True, cwd=REPO).stdout
    return "--cutover" in out


def new_db_of(old: Path) -> Path:
    """The new database migrate built beside old (`<dir>/<dir>-<schema hash>.sqlite`)."""
    found = [p for p in old.parent.glob("*.sqlite") if p != old]
    if len(found) != 1:
        raise SystemExit(f"expected one new database beside {old}, found {found}")
    return found[0]


@dataclass
class Window:
    seconds: float  # first refused write (its start) -> `ready` read on the new database
    detail: str


def window_run(db: Path, pause_ms: float, steps: list[list[str]]) -> Window:
    """The write-unavailability window as the old service sees it: a live writer on
    db (WAL), the mig commands of `steps` run back to back as subprocesses, a poller
    on the new database. From the start of the first write that failed after the
    writer's last commit (a refused write: its wait for a lock counts) to the first
    read of `ready`."""
    new = new_db_of(db)
    os.sync()  # the bench's own copies are not written back during the window
    writer = LiveWriter(db, pause_ms)
    poller = ReadyPoller(new)
    exits: list[tuple[str, float, float]] = []
    said = ""
    try:
        time.sleep(0.5)  # the service writing steadily before drain starts
        poller.start()
        for args in steps:
            t = time.monotonic()
            out = run_mig(*args, "--dir", str(db.parent)).stdout
            exits.append((" ".join(args), t, time.monotonic()))
            for label in ("Writes refused for", "Writes blocked for"):  # mig's own account, if it gives one
                m = re.search(rf"^{label}: ([0-9.]+ s)", out, re.M)
                if m:
                    said = f"; mig says {label[0].lower()}{label[1:]} {m.group(1)}"
                    break
        poller.join(timeout=10)
        time.sleep(0.1)  # a few refused writes after ready, to show none got in
    finally:
        poller.halt.set()
        attempts, messages = writer.stop()
    ready = poller.ready_at
    if ready is None:
        raise SystemExit(f"{new} never read 'ready' after {' then '.join(' '.join(s) for s in steps)}")
    committed = [a for a in attempts if a.outcome == COMMITTED]
    failed = failed_until(attempts, ready)
    last_ok = max((a.end for a in committed if a.end <= ready), default=exits[0][1])
    resumed = [a for a in committed if a.end > ready]
    if resumed:
        raise SystemExit(f"{len(resumed)} writes committed on the old database after the new one was ready")
    kinds, others = tally(failed, messages)
    t0 = exits[0][1]
    ends = ", ".join(f"{name} exited {(end - t0) * 1000:,.0f}" for name, _, end in exits)
    before = [a.end - a.start for a in committed if t0 <= a.end <= last_ok]
    if not failed:  # the whole switch fell between two of the writer's attempts
        return Window(0.0, f"no write refused ({len(attempts):,} attempts); {ends} ms after drain started")
    first = failed[0].start
    if failed[0].outcome != REFUSED:
        others = f"the first failure was no refusal; {others}"
    return Window(ready - first,
                  f"{kinds[REFUSED]:,} writes refused; first at {(first - t0) * 1000:,.0f}, ready read at "
                  f"{(ready - t0) * 1000:,.0f}, {ends} ms after drain started; worst commit before "
                  f"{max(before, default=0) * 1000:.0f} ms{said}" + (f"; {others}" if others else ""))


# The new service writes this long after cutover before `mig revert` runs, as the old
# one writes before drain in window_run.
REVERT_AFTER_S = 0.5


class ReopenPoller(threading.Thread):
    """Tries one small write on the old database every ~1 ms (`BEGIN IMMEDIATE`, one
    user's score, `COMMIT`: a request of the old service once traffic is back) and notes
    the end of the first that commits: when the old database took a write again.

    busy_timeout 0: an attempt that meets revert's write lock fails at once and the
    next comes ~1 ms later, so the poller never sleeps in SQLite's busy handler (up to
    100 ms between tries) and is late by at most one interval and one commit (~1.5 ms).
    Until then its attempts are refused by the old database's guards ("writes are
    blocked") or meet revert's lock ("database is locked")."""

    def __init__(self, old_db: Path) -> None:
        super().__init__(daemon=True)
        self.reopened_at: float | None = None
        self.attempts = self.refused = self.busy = self.other = 0
        self.message = ""
        self.halt = threading.Event()
        self.conn = sqlite3.connect(old_db, isolation_level=None, timeout=0, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout=0")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.users = self.conn.execute("SELECT max(id) FROM users").fetchone()[0]

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                self.attempts += 1
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    self.conn.execute("UPDATE users SET score = coalesce(score, 0) + 1 WHERE id = ?",
                                      (1 + self.attempts % self.users,))
                    self.conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    text = str(exc)
                    if "writes are blocked" in text:
                        self.refused += 1
                    elif "locked" in text:
                        self.busy += 1
                    else:
                        self.other += 1
                        self.message = self.message or text
                    time.sleep(0.001)
                    continue
                self.reopened_at = time.monotonic()
                return
        finally:
            self.conn.close()


def revert_run(db: Path, pause_ms: float) -> Window:
    """Revert's write-unavailability window as the users see it, on a project cut over
    by the runbook path: the writer of window_run writes on the NEW database for
    REVERT_AFTER_S, then `mig revert` runs as a subprocess while it goes on writing, and
    a ReopenPoller tries writes on the old database (revert_window measures)."""
    new = new_db_of(db)
    os.sync()  # the cutover's pages are not written back during the window
    # Another seed than the old service's: with the same one it would send the drain run's
    # requests again, and its deletes would find the rows already gone.
    writer = LiveWriter(new, pause_ms, seed=2)
    poller = ReopenPoller(db)
    try:
        time.sleep(REVERT_AFTER_S)  # the new service writing since cutover, its writes logged
        poller.start()
        t0 = time.monotonic()
        out = run_mig("revert", "--dir", str(db.parent), "--json").stdout
        t1 = time.monotonic()
        poller.join(timeout=10)
        time.sleep(0.1)  # a few refused writes on the new database after the old one reopened
    finally:
        poller.halt.set()
        attempts, messages = writer.stop()
    if poller.reopened_at is None:
        raise SystemExit(f"{db} took no write after `mig revert` ({poller.attempts:,} tries, "
                         f"{poller.refused:,} refused, {poller.busy:,} locked, {poller.other:,} other: "
                         f"{poller.message[:80]})")
    import json
    said = json.loads(out)

    def said_(key: str, form: str) -> str:  # revert's --json report, as far as this mig gives it
        return format(said[key], form) if isinstance(said.get(key), (int, float)) else "?"
    context = (f"revert exited {(t1 - t0) * 1000:,.0f} ms after it started; {said_('replayed', ',')} "
               f"entries replayed, {said_('caught_up', ',')} before the block; mig says writes blocked "
               f"for {said_('blocked_seconds', '.3f')} s; poller on the old database: {poller.attempts:,} "
               f"tries, {poller.refused:,} refused, {poller.busy:,} met revert's lock; mig's tables left "
               f"there: {mig_tables_left(db)}")
    return revert_window(attempts, messages, poller.reopened_at, t0, context)


def revert_window(attempts: list[Attempt], messages: dict[str, str], reopened: float, t0: float,
                  context: str) -> Window:
    """From the start of the first write the new database never let through (the first
    failed attempt after the writer's last commit there, as in window_run) to `reopened`,
    the end of the first commit on the old database; `t0`: when revert started."""
    late = [a for a in attempts if a.outcome == COMMITTED and a.end > reopened]
    if late:
        raise SystemExit(f"{len(late)} writes committed on the new database after the old one took a write")
    committed = [a for a in attempts if a.outcome == COMMITTED]
    failed = failed_until(attempts, reopened)
    kinds, others = tally(failed, messages)
    last_ok = max((a.end for a in committed if a.end <= reopened), default=t0)
    before = [a.end - a.start for a in committed if t0 <= a.end <= last_ok]
    if not failed:  # the whole switch fell between two of the writer's attempts
        return Window(0.0, f"no write refused ({len(attempts):,} attempts); old database took a write "
                      f"{(reopened - t0) * 1000:,.0f} ms after revert started; {context}")
    first = failed[0].start
    if failed[0].outcome != REFUSED:
        others = f"the first failure was no refusal; {others}"
    return Window(reopened - first,
                  f"{len(failed):,} writes failed on the new database ({kinds[REFUSED]:,} refused by "
                  f"revert); first at {(first - t0) * 1000:,.0f}, old database took a write at "
                  f"{(reopened - t0) * 1000:,.0f} ms after revert started; worst commit before "
                  f"{max(before, default=0) * 1000:.0f} ms; {context}" + (f"; {others}" if others else ""))


def tally(failed: list[Attempt], messages: dict[str, str]) -> tuple[dict[int, int], str]:
    """How many failed attempts of each kind, and a note on those that were not mig's refusal."""
    kinds = {k: sum(1 for a in failed if a.outcome == k) for k in (REFUSED, OTHER_INTEGRITY, OTHER_ERROR)}
    others = "; ".join(f"{kinds[k]} failed otherwise: {messages.get(str(k), '?')[:80]}"
                       for k in (OTHER_INTEGRITY, OTHER_ERROR) if kinds[k])
    return kinds, others


def mig_tables_left(db: Path) -> str:
    """mig's tables in the old database after a revert ("none", or their names with the
    marker's status): the first revert (32c4b2b) took them out as it reopened the old
    database; since aa95d40 it leaves it recording again (marker `recording`)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name IN "
                                            "('_migration_marker', '_migration_log') ORDER BY name DESC")]
        if "_migration_marker" in names:
            row = conn.execute("SELECT status FROM _migration_marker").fetchone()
            names[0] += f" ({row[0] if row else 'empty'})"
    finally:
        conn.close()
    return ", ".join(names) or "none"


def failed_until(attempts: list[Attempt], ready: float) -> list[Attempt]:
    """The attempts after the writer's last commit before `ready`: the writes that
    never went through. The window starts with the first of them (its start: a
    refused write that first waited for a lock counts from when it was made)."""
    last = max((i for i, a in enumerate(attempts) if a.outcome == COMMITTED and a.end <= ready), default=-1)
    return [a for a in attempts[last + 1:] if a.outcome not in (COMMITTED, NO_ROW) and a.start <= ready]


def blocked_stretches(attempts: list[Attempt]) -> list[tuple[float, float]]:
    """(first attempt, end of the commit that ended it) for each run of attempts that
    ended in a commit: one commit's latency when it went through at once, from the
    first failed or waiting attempt to the next commit otherwise."""
    out: list[tuple[float, float]] = []
    first: float | None = None
    for a in attempts:
        if first is None:
            first = a.start
        if a.outcome in (COMMITTED, NO_ROW):
            out.append((first, a.end))
            first = None
    return out


def sqlite_utils_cmd() -> list[str] | None:
    script = Path(sys.executable).parent / "sqlite-utils"
    return [str(script)] if script.exists() else (
        [shutil.which("sqlite-utils")] if shutil.which("sqlite-utils") else None)  # type: ignore[list-item]


@dataclass
class Blocked:
    seconds: float
    detail: str


def sqlite_utils_blocked(db: Path, pause_ms: float) -> Blocked | None:
    """The longest stretch the same writer cannot write while sqlite-utils makes the
    bench's change in place on db (a copy of the old database, WAL): `add-column
    users bio text` (sqlite-utils' transform has no option to add a column),
    `transform users` (its rebuild: new table, copy, drop, rename, in one
    transaction), `create-index comments created`. None when sqlite-utils is missing."""
    su = sqlite_utils_cmd()
    if su is None:
        return None
    steps = [["add-column", str(db), "users", "bio", "text"],
             ["transform", str(db), "users"],
             ["create-index", str(db), "comments", "created", "--name", "comments_created"]]
    os.sync()
    writer = LiveWriter(db, pause_ms)
    spans: list[tuple[str, float, float]] = []
    try:
        time.sleep(0.5)
        for args in steps:
            t = time.monotonic()
            subprocess.run(su + args, check=True, capture_output=True, cwd=REPO)
            spans.append((args[0], t, time.monotonic()))
        time.sleep(0.3)  # the commit that ends the last stretch
    finally:
        attempts, messages = writer.stop()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(users)")]
    idx = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'comments_created'").fetchone()[0]
    conn.close()
    if "bio" not in cols or not idx:
        raise SystemExit(f"sqlite-utils did not make the change on {db}")
    stretches = blocked_stretches(attempts)
    per_step = []
    for name, s, e in spans:
        over = [b - a for a, b in stretches if b >= s and a <= e]
        per_step.append(f"{name} {max(over, default=0) * 1000:,.0f} ms ({e - s:.2f} s)")
    t0, t1 = spans[0][1], spans[-1][2]
    worst = max(((b - a, a) for a, b in stretches if b >= t0 and a <= t1), default=(0.0, t0))
    failed = sum(1 for a in attempts if a.outcome not in (COMMITTED, NO_ROW))
    return Blocked(worst[0], "longest per command: " + ", ".join(per_step)
                   + (f"; {failed} writes failed: {'; '.join(messages.values())[:80]}" if failed else ""))


def startup_seconds(runs: int = 5) -> float:
    """Interpreter and import start-up of mig as a child: median wall time of `mig --help`."""
    times = sorted(run_mig("--help").seconds for _ in range(runs))
    return times[len(times) // 2]


def indexes_of(db: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = {(r[0], r[1]) for r in conn.execute(
        "SELECT tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        "AND tbl_name NOT LIKE '\\_%' ESCAPE '\\'")}
    conn.close()
    return rows


# ---------------------------------------------------------------- report

def verdict(value: float | None, target: str) -> str:
    if value is None:  # not measured in this run (the detail says why)
        return "n/a"
    if target == "info":  # measured for context; docs/design.md, Targets sets no target for it
        return "-"
    op, num = target.split()[0], float(target.split()[1].rstrip("x"))
    ok = value <= num if op == "<=" else value >= num
    return "PASS" if ok else "MISS"


def ratio(value: float, target: str) -> str:
    """Two decimals, or three where two would round a miss onto its target (0.497 is not 0.50)."""
    shown = f"{value:.2f}"
    if verdict(value, target) == "MISS" and verdict(float(shown), target) == "PASS":
        shown = f"{value:.3f}"
    return shown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows over all tables (100k to 10M)")
    ap.add_argument("--quick", action="store_true", help="20k-row smoke run with 1 s write phases")
    ap.add_argument("--seconds", type=float, default=None, help="each throughput phase (default 5, quick 1)")
    ap.add_argument("--pause-ms", type=float, default=1.5, help="writer pause in the latency runs")
    ap.add_argument("--workdir", default=None, help="where the databases go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--save", action="store_true", help="also write bench/results/<date>-<rows>.txt (-<HHMM> after the first of the day)")
    ap.add_argument("--no-verify", action="store_true", help="skip `mig verify` after drain")
    ap.add_argument("--scale-factor", type=int, default=None,
                    help="the window runs again at this many times --rows (default 10, quick 2)")
    ap.add_argument("--no-scale", action="store_true", help="skip the window runs at 10x --rows")
    ap.add_argument("--mig", default=None, help="the mig executable to run (default: <venv>/bin/mig)")
    ap.add_argument("--latency-only", action="store_true",
                    help="only the old-service write latency during migrate, WAL and rollback journal")
    args = ap.parse_args()
    rows = 20_000 if args.quick else args.rows
    global MIG
    MIG = args.mig
    if args.no_scale:
        args.scale_factor = 0
    elif args.scale_factor is None:
        args.scale_factor = 2 if args.quick else 10
    seconds = args.seconds if args.seconds is not None else (1.0 if args.quick else 5.0)
    if not MIG:
        compile_mig()
    root = Path(args.workdir or tempfile.mkdtemp(prefix="mig-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        if args.latency_only:
            report = latency_report(root, rows, args.pause_ms)
        else:
            report = bench(root, rows, seconds, args.pause_ms, not args.no_verify, args)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(report)
    if args.save:
        kind = "-latency" if args.latency_only else ""
        out = HERE / "results" / f"{datetime.date.today().isoformat()}-{rows}{kind}.txt"
        if out.exists():  # an earlier run of the day keeps its file
            out = out.with_name(f"{out.stem}-{datetime.datetime.now():%H%M}.txt")
        if out.exists():  # and one of the same minute
            out = out.with_name(f"{out.stem}{datetime.datetime.now():%S}.txt")
        out.parent.mkdir(exist_ok=True)
        out.write_text(report + "\n")
        log(f"saved {out}")


def latency_report(root: Path, rows: int, pause_ms: float) -> str:
    """The two write-latency scenarios alone (the slowest part of a big run)."""
    log(f"building {rows:,} rows in {root}")
    base = root / "base.sqlite"
    build_db(base, rows)
    lines = [f"mig bench --latency-only: {rows:,} rows, {datetime.datetime.now():%Y-%m-%d %H:%M}"]
    lines += machine()
    lines.append(f"Command: .venv/bin/python {' '.join(['bench/run.py'] + sys.argv[1:])}")
    for journal, mode in (("WAL", "WAL"), ("DELETE", "rollback")):
        log(f"write latency during migrate, {mode}")
        lat = latency_during_migrate(root, base, journal, pause_ms)
        lines.append(f"write latency during migrate, {mode}: worst {lat.worst_ms:.1f} ms "
                     f"({verdict(lat.worst_ms, '<= 200')}), p99 {lat.p99_ms:.1f} ms; {lat.commits:,} "
                     f"commits during a {lat.mig_s:.1f} s migrate; p99 before {lat.before_p99_ms:.1f} ms; "
                     f"worst during {lat.worst_in}")
    return "\n".join(lines)


def median_blocked(root: Path, base: Path, pause_ms: float, repeats: int) -> Blocked | None:
    """sqlite-utils' blocked time, `repeats` times on fresh copies of the old database
    (it changes the file in place): the median run, its detail listing them all."""
    runs = []
    for i in range(repeats):
        su_db = make_project(root, "su", base, "WAL")  # the old database, not migrated
        log(f"sqlite-utils add-column, transform, create-index beside the writer ({i + 1}/{repeats})")
        blocked = sqlite_utils_blocked(su_db, pause_ms)
        shutil.rmtree(su_db.parent)
        if blocked is None:
            return None
        runs.append(blocked)
    runs.sort(key=lambda b: b.seconds)
    median = runs[len(runs) // 2]
    if repeats == 1:
        return median
    all_ms = ", ".join(f"{b.seconds * 1000:.0f}" for b in runs)
    return replace(median, detail=f"median of {repeats} runs ({all_ms} ms); {median.detail}")


def median_window(runs: list[Window]) -> Window:
    """The median run; its detail lists them all when there are several."""
    runs = sorted(runs, key=lambda w: w.seconds)
    median = runs[len(runs) // 2]
    if len(runs) == 1:
        return median
    all_ms = ", ".join(f"{w.seconds * 1000:.0f}" for w in runs)
    return Window(median.seconds, f"median of {len(runs)} runs ({all_ms} ms); {median.detail}")


def windows_at(root: Path, name: str, base: Path, pause_ms: float, one_step: bool,
               repeats: int) -> tuple[Window, Window | None, Window]:
    """The windows on one migrated copy of base, `repeats` times each from the same
    migrated files put back: `mig drain` then `mig cutover`, `mig revert` on what that
    cutover left (revert_run), and `mig drain --cutover` (when this mig has it). Each
    path's median run counts; its detail lists them all (on two shared cores one run
    can lose 30 ms to the writer or the poller)."""
    db = make_project(root, name, base, "WAL")
    log(f"mig migrate for the window runs ({name})")
    run_mig("migrate", "--dir", str(db.parent))
    snapshot = root / f"{name}-snapshot"
    shutil.copytree(db.parent, snapshot)
    paths = [("runbook", "mig drain then mig cutover", [["drain"], ["cutover"]])]
    if one_step:
        paths.append(("one-step", "mig drain --cutover", [["drain", "--cutover"]]))
    medians: list[Window] = []
    reverts: list[Window] = []
    for label, says, steps in paths:
        runs = []
        for i in range(repeats):
            shutil.rmtree(db.parent)
            shutil.copytree(snapshot, db.parent)  # migrate recorded this directory's paths
            log(f"window, {label} ({i + 1}/{repeats}): {says} beside the writer ({name})")
            runs.append(window_run(db, pause_ms, steps))
            if label == "runbook":
                log(f"window, revert ({i + 1}/{repeats}): mig revert, a writer on the new database ({name})")
                reverts.append(revert_run(db, pause_ms))
        medians.append(median_window(runs))
    shutil.rmtree(db.parent)
    shutil.rmtree(snapshot)
    return medians[0], medians[1] if one_step else None, median_window(reverts)


def bench(root: Path, rows: int, seconds: float, pause_ms: float, verify: bool,
          args: argparse.Namespace) -> str:
    wall0 = time.monotonic()
    log(f"building {rows:,} rows in {root}")
    base = root / "base.sqlite"
    n = build_db(base, rows)
    small_base = root / "small.sqlite"
    build_db(small_base, max(2_000, rows // 10))
    size_mb = base.stat().st_size / 1e6

    # 1. raw baseline, then mig migrate on an identical copy (WAL, no writer)
    db = make_project(root, "copy", base, "WAL")
    os.sync()  # the bench's own copy is not written back during the measurements
    schema_sql = db.parent / "schema.sql"
    log("raw INSERT ... SELECT baseline")
    # Best of two: on a shared machine one slow baseline would flatter every ratio.
    raw_s = min(raw_copy(db, root / f"raw-target-{i}.sqlite", schema_sql) for i in (1, 2))
    os.sync()  # the baselines write with synchronous=OFF: not back during the throughput runs
    log("throughput without recording")
    tp_off = throughput(db, seconds)
    log("mig start-up (mig --help, median of 5)")
    startup_s = startup_seconds()
    log("mig migrate")
    mig = run_mig("migrate", "--dir", str(db.parent))
    copied = int(field(mig.stdout, "Copied rows"))
    raw_idx, mig_idx = indexes_of(root / "raw-target-1.sqlite"), indexes_of(new_db_of(db))
    if raw_idx != mig_idx:
        raise SystemExit(f"the raw baseline's indexes differ from mig's: {sorted(raw_idx ^ mig_idx)}")
    log("throughput while recording")
    tp_on = throughput(db, seconds)
    # Best of two, like the baseline: a second migrate of a fresh copy, no writer.
    again = make_project(root, "copy-again", base, "WAL")
    os.sync()
    log("mig migrate, second run")
    mig_again = run_mig("migrate", "--dir", str(again.parent))
    shutil.rmtree(again.parent)
    copy_s = min(float(field(r.stdout, "Copy time").split()[0]) for r in (mig, mig_again))
    migrate_wall = min(mig.seconds, mig_again.seconds)
    migrate_rss = max(mig.maxrss_mb, mig_again.maxrss_mb)

    # 2. drain a log of rows/2 entries, twice from the same files (best of two, like the baseline)
    log(f"logging {rows // 2:,} updates")
    make_log(db, rows // 2)
    entries, mix = log_entries(db)
    start = root / "drain-start"
    shutil.copytree(db.parent, start)
    drains = []
    for i in (1, 2):
        if i == 2:
            shutil.rmtree(db.parent)
            shutil.copytree(start, db.parent)
        os.sync()  # the bench's own writes are not written back while drain is measured
        log(f"mig drain ({entries:,} entries), run {i}")
        drains.append(run_mig("drain", "--dir", str(db.parent)))
    # 2b. the same drain while the old service writes (its catch-up, then blocked writes)
    shutil.rmtree(db.parent)
    shutil.copytree(start, db.parent)
    os.sync()
    log("mig drain while the old service writes")
    lat_drain = latency_while(db, pause_ms, "drain", drain_step_at)
    shutil.rmtree(start)
    replayed = int(field(drains[0].stdout, "Replayed entries"))
    verified = "skipped"
    if verify:
        log("mig verify")
        checked = run_mig("verify", "--dir", str(db.parent))
        verified = f"ok ({checked.seconds:.1f} s)"
    raw_rate = copied / raw_s
    replay_s = min(float(field(d.stdout, "Replay time").split()[0]) for d in drains)
    replay_rate = replayed / replay_s
    drain_wall = min(d.seconds for d in drains)
    drain_rss = max(d.maxrss_mb for d in drains)
    wall_rate = replayed / drain_wall

    # 3. memory at rows/10
    small = make_project(root, "small", small_base, "WAL")
    log("mig migrate at rows/10")
    small_mig = run_mig("migrate", "--dir", str(small.parent))

    # 4. write latency during migrate, WAL and rollback journal
    log("write latency during migrate, WAL")
    lat_wal = latency_during_migrate(root, base, "WAL", pause_ms)
    log("write latency during migrate, rollback journal")
    lat_del = latency_during_migrate(root, base, "DELETE", pause_ms)

    # 5. what users see: the write-unavailability window (runbook and one-step) at rows
    #    and at factor x rows, and sqlite-utils making the same change in place
    one_step = has_one_step()
    repeats = 1 if args.quick else 3
    su = median_blocked(root, base, pause_ms, repeats)
    win_1 = windows_at(root, "win", base, pause_ms, one_step, repeats)
    win_x: tuple[Window, Window | None, Window] | None = None
    factor = args.scale_factor
    if factor:
        big_rows = rows * factor
        log(f"building {big_rows:,} rows for the {factor}x window runs")
        big = root / "big.sqlite"
        build_db(big, big_rows)
        win_x = windows_at(root, "winx", big, pause_ms, one_step, repeats)
        big.unlink()

    no_flag = "(no --cutover yet): `mig drain --help` does not list --cutover"
    skipped = "(skipped: --no-scale)"
    scale_note = f"{rows * factor:,} rows ({factor}x)" if factor else ""

    def win_row(w: Window | None, why: str, where: str) -> tuple[float | None, str, str]:
        if w is None:
            return None, "n/a", why
        return w.seconds * 1000, f"{w.seconds * 1000:,.0f} ms", f"{where}: {w.detail}"

    def scale_row(a: Window | None, b: Window | None, target: str, why: str) -> tuple[float | None, str, str]:
        if a is None or b is None:
            return None, "n/a", why
        if a.seconds <= 0:
            return None, "n/a", "no write refused at rows"
        r = b.seconds / a.seconds
        return r, ratio(r, target), f"{b.seconds * 1000:,.0f} ms at {scale_note} vs {a.seconds * 1000:,.0f} ms"

    rb_1, os_1, rv_1 = win_1
    rb_x, os_x, rv_x = win_x if win_x else (None, None, None)
    no_os = no_flag if not one_step else ""
    figures: list[tuple[float | None, str, str]] = [
        win_row(os_1, no_flag, f"mig drain --cutover, {rows:,} rows"),
        win_row(os_x, no_os or skipped, f"mig drain --cutover, {scale_note}"),
        win_row(rb_1, "", f"mig drain; mig cutover, {rows:,} rows"),
        win_row(rb_x, skipped, f"mig drain; mig cutover, {scale_note}"),
        win_row(rv_1, "", f"mig revert after that cutover, {rows:,} rows"),
        win_row(rv_x, skipped, f"mig revert after that cutover, {scale_note}"),
        scale_row(rb_1, rb_x, "<= 1.5", skipped),
        scale_row(os_1, os_x, "info", no_os or skipped),
    ]
    if su is None:
        figures.append((None, "n/a", "(sqlite-utils is not installed: pip install -e '.[bench]')"))
        figures.append((None, "n/a", "(sqlite-utils is not installed)"))
    else:
        figures.append((su.seconds * 1000, f"{su.seconds * 1000:,.0f} ms",
                        f"add-column, transform users, create-index, {rows:,} rows; {su.detail}"))
        rb_ratio = f"; runbook window / it: {rb_1.seconds / su.seconds:.2f}" if su.seconds > 0 else ""
        if os_1 is None:
            figures.append((None, "n/a", no_flag + rb_ratio))
        else:
            r = os_1.seconds / su.seconds
            figures.append((r, ratio(r, "<= 0.1"), f"{os_1.seconds * 1000:,.0f} ms vs "
                            f"{su.seconds * 1000:,.0f} ms{rb_ratio}"))
    net = migrate_wall - startup_s
    figures += [
        (net / raw_s, ratio(net / raw_s, TARGETS["migrate wall minus start-up / raw INSERT...SELECT"]),
         f"mig migrate wall {migrate_wall:.2f} s minus start-up {startup_s:.2f} s (mig --help) vs raw "
         f"{raw_s:.2f} s; same {len(raw_idx)} indexes"),
        (copy_s / raw_s, f"{copy_s / raw_s:.2f}", f"mig Copy time {copy_s:.2f} s vs raw {raw_s:.2f} s"),
        (tp_on / tp_off, ratio(tp_on / tp_off, TARGETS["write throughput, recording / not"]), f"{tp_on:,.0f} vs {tp_off:,.0f} commits/s, {seconds:g} s each"),
        (replay_rate / raw_rate, ratio(replay_rate / raw_rate, TARGETS["drain replay rate / raw copy rate"]),
         f"mig Replay time: {replayed:,} entries in {replay_s:.2f} s = {replay_rate:,.0f}/s "
         f"vs raw {raw_rate:,.0f} rows/s"),
        (wall_rate / raw_rate, f"{wall_rate / raw_rate:.2f}",
         f"mig drain wall {drain_wall:.2f} s = {wall_rate:,.0f} entries/s; log: {mix}"),
        (migrate_rss, f"{migrate_rss:.0f} MB", f"max RSS of the `mig migrate` process, {rows:,} rows"),
        (drain_rss, f"{drain_rss:.0f} MB", f"max RSS of the `mig drain` process, {entries:,} entries"),
        (migrate_rss / small_mig.maxrss_mb, f"{migrate_rss / small_mig.maxrss_mb:.2f}x",
         f"{small_mig.maxrss_mb:.0f} MB at {max(2_000, rows // 10):,} rows -> {migrate_rss:.0f} MB"),
    ]
    for lat, mode in ((lat_wal, "WAL"), (lat_del, "rollback")):
        ctx = (f"{lat.commits:,} commits during a {lat.mig_s:.1f} s migrate; "
               f"p99 before migrate {lat.before_p99_ms:.1f} ms; worst during {lat.worst_in}")
        figures.append((lat.worst_ms, f"{lat.worst_ms:.1f} ms", ctx))
        figures.append((lat.p99_ms, f"{lat.p99_ms:.1f} ms", f"{mode} journal, writer pause {pause_ms:g} ms"))
    figures.append((lat_drain.worst_ms, f"{lat_drain.worst_ms:.1f} ms",
                    f"{lat_drain.commits:,} commits during a {lat_drain.mig_s:.1f} s drain (p99 "
                    f"{lat_drain.p99_ms:.1f} ms); worst during {lat_drain.worst_in}"))

    lines = [f"mig bench: {rows:,} rows (" + ", ".join(f"{t} {c:,}" for t, c in n.items())
             + f"), old database {size_mb:,.0f} MB, {datetime.datetime.now():%Y-%m-%d %H:%M}"]
    lines += machine()
    cmd = " ".join(["bench/run.py"] + sys.argv[1:])
    lines.append(f"Command: .venv/bin/python {cmd}")
    lines.append("")
    w1 = max(len(r[0]) for r in ROWS)
    lines.append(f"{'figure':<{w1}}  {'measured':>9}  {'target':>9}  result  detail")
    lines.append("-" * (w1 + 36 + 40))
    misses = targets = unmeasured = 0
    assert len(figures) == len(ROWS)
    for (label, target), (value, shown, detail) in zip(ROWS, figures):
        v = verdict(value, target)
        misses += v == "MISS"
        targets += v in ("PASS", "MISS")
        unmeasured += v == "n/a" and target != "info"
        lines.append(f"{label:<{w1}}  {shown:>9}  {target:>9}  {v:<6}  {detail}")
    lines.append("")
    lines.append(f"mig verify after drain: {verified}; {misses} MISS of {targets} targets measured"
                 + (f", {unmeasured} not measured (n/a)" if unmeasured else "")
                 + f"; bench wall time {time.monotonic() - wall0:.0f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
