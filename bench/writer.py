"""The old service, simulated: single-row write transactions against the old database.

Run as a subprocess by `bench/run.py`:

    python bench/writer.py DB --seconds 5            # throughput: as fast as it can
    python bench/writer.py DB --until STOPFILE --pause-ms 1.5 --latencies OUT

Each transaction is `BEGIN IMMEDIATE; <one row written>; COMMIT` on its own
connection, like a request handler's. The mix: 40 % update a post, 35 %
insert a comment, 15 % update a user, 10 % delete a comment. A commit's
latency is measured from BEGIN to the end of COMMIT, so it includes any wait
for a lock held by mig. With --latencies, `(start, latency)` pairs in seconds
(CLOCK_MONOTONIC, comparable across processes on Linux) are written as a
binary array of doubles. A JSON summary goes to stdout.
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
    commits = errors = 0
    pause = args.pause_ms / 1000.0
    started = time.monotonic()
    deadline = started + args.seconds if args.seconds is not None else None

    while True:
        if deadline is not None and time.monotonic() >= deadline:
            break
        if args.until is not None and commits % 16 == 0 and os.path.exists(args.until):
            break
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
            conn.execute(sql, params)
            conn.execute("COMMIT")
        except sqlite3.Error:
            errors += 1
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            continue
        t1 = time.monotonic()
        commits += 1
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
    print(json.dumps({"commits": commits, "errors": errors, "seconds": elapsed}))


if __name__ == "__main__":
    main()
