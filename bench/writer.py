"""The old service, simulated: single-row write transactions against the old database.

Run as a subprocess by `bench/run.py`:

    python bench/writer.py DB --seconds 5            # throughput: as fast as it can
    python bench/writer.py DB --until STOPFILE --pause-ms 1.5 --latencies OUT
    python bench/writer.py DB --until STOPFILE --pause-ms 1.5 --events OUT

Each transaction is `BEGIN IMMEDIATE; <one row written>; COMMIT` on its own
connection, like a request handler's. The mix: 40 % update a post, 35 %
insert a comment, 15 % update a user, 10 % delete a comment. A commit's
latency is measured from BEGIN to the end of COMMIT, so it includes any wait
for a lock held by mig. With --latencies, `(start, latency)` pairs in seconds
(CLOCK_MONOTONIC, comparable across processes on Linux) are written as a
binary array of doubles. With --events, every attempt, committed or not, is
written as `(start, end, outcome)` doubles: outcome 0 committed, 1 refused by
mig (the error says "writes are blocked"), 2 another IntegrityError, 3 any
other sqlite3 error (a busy or locked database, a missing table), 4 committed
but changed no row (an UPDATE or DELETE of a key that is gone: no trigger
fires, so a database mig blocks with triggers lets it through, and it wrote
nothing; it still counts as a commit in the summary and the latencies). A failed
attempt is rolled back and followed by the same pause as a commit, as a
service retrying its request would. A JSON summary goes to stdout, with the
first message of each kind of error.
"""

from __future__ import annotations

import argparse
import array
import json
import os
import random
import sqlite3
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--seconds", type=float, default=None, help="stop after this long")
    ap.add_argument("--until", default=None, help="stop once this file exists")
    ap.add_argument("--ready", default=None, help="create this file once the first write committed")
    ap.add_argument("--pause-ms", type=float, default=0.0, help="sleep between transactions")
    ap.add_argument("--latencies", default=None, help="write (start, latency) doubles here")
    ap.add_argument("--events", default=None, help="write (start, end, outcome) doubles here")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    conn = sqlite3.connect(args.db, isolation_level=None, timeout=60.0)
    conn.execute("PRAGMA busy_timeout=60000")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    n_users = conn.execute("SELECT max(id) FROM users").fetchone()[0]
    n_posts = conn.execute("SELECT max(id) FROM posts").fetchone()[0]
    n_comments = conn.execute("SELECT max(id) FROM comments").fetchone()[0]
    rng = random.Random(args.seed)
    samples = array.array("d")
    events = array.array("d")
    messages: dict[str, str] = {}
    commits = errors = attempts = 0
    pause = args.pause_ms / 1000.0
    started = time.monotonic()
    deadline = started + args.seconds if args.seconds is not None else None

    while True:
        if deadline is not None and time.monotonic() >= deadline:
            break
        if args.until is not None and attempts % 16 == 0 and os.path.exists(args.until):
            break
        attempts += 1
        pick = rng.random()
        if pick < 0.40:
            sql = "UPDATE posts SET rating = ?, title = ? WHERE id = ?"
            params: tuple[object, ...] = (rng.random() * 5, f"edited {rng.random():.6f}",
                                          rng.randint(1, n_posts))
        elif pick < 0.75:
            sql = "INSERT INTO comments (post_id, user_id, body, votes, created) VALUES (?, ?, ?, ?, ?)"
            params = (rng.randint(1, n_posts), rng.randint(1, n_users), "new comment " * 4,
                      0, int(time.time()))
        elif pick < 0.90:
            sql = "UPDATE users SET score = ? WHERE id = ?"
            params = (rng.random() * 100, rng.randint(1, n_users))
        else:
            sql = "DELETE FROM comments WHERE id = ?"
            params = (rng.randint(1, n_comments),)
        t0 = time.monotonic()
        try:
            conn.execute("BEGIN IMMEDIATE")
            changed = conn.execute(sql, params).rowcount
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            t1 = time.monotonic()
            errors += 1
            text = str(exc)
            outcome = (1 if "writes are blocked" in text else
                       2 if isinstance(exc, sqlite3.IntegrityError) else 3)
            messages.setdefault(str(outcome), text)
            if args.events is not None:
                events.extend((t0, t1, float(outcome)))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if pause:
                time.sleep(pause)
            continue
        t1 = time.monotonic()
        commits += 1
        if args.events is not None:
            events.extend((t0, t1, 0.0 if changed else 4.0))
        if args.latencies is not None:
            samples.append(t0)
            samples.append(t1 - t0)
        if commits == 1 and args.ready:
            open(args.ready, "w").close()
        if pause:
            time.sleep(pause)

    elapsed = time.monotonic() - started
    conn.close()
    if args.latencies is not None:
        with open(args.latencies, "wb") as fh:
            samples.tofile(fh)
    if args.events is not None:
        with open(args.events, "wb") as fh:
            events.tofile(fh)
    print(json.dumps({"commits": commits, "errors": errors, "seconds": elapsed, "messages": messages}))


if __name__ == "__main__":
    main()
