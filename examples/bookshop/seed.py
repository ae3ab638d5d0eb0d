"""Create the bookshop's v1 database with realistic rows, named the way `mig` infers it.

    python examples/bookshop/seed.py DIR [--books N]

writes `DIR/<dir name>-<v1 schema hash>.sqlite` (WAL mode) and prints its
path; `DIR` must not hold one already. Copy `v2/schema.sql` into DIR and
`mig migrate --dir DIR` finds both.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
from pathlib import Path

from mig.model import schema_hash
from mig.schema.sql import loads

HERE = Path(__file__).resolve().parent
AUTHORS = ["Tove Jansson", "Ōe Kenzaburō", "Chimamanda Ngozi Adichie", "Olga Tokarczuk",
           "Gabriel García Márquez", "Wisława Szymborska", "Naguib Mahfouz", "Halldór Laxness"]
WORDS = ["summer", "river", "ghost", "ledger", "kōan", "night", "garden", "mirror", "señal", "ßtraße"]


def seed(directory: Path, books: int) -> Path:
    v1 = (HERE / "v1" / "schema.sql").read_text()
    path = directory / f"{directory.name}-{schema_hash(loads(v1))}.sqlite"
    if path.exists():
        raise SystemExit(f"seed: {path} already exists")
    rng = random.Random(5)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(v1)
    conn.executemany("INSERT INTO authors (name) VALUES (?)", ((a,) for a in AUTHORS))
    conn.executemany(
        "INSERT INTO books (author_id, title, price, blurb) VALUES (?, ?, ?, ?)",
        ((rng.randint(1, len(AUTHORS)), " ".join(rng.sample(WORDS, 3)).title(),
          round(rng.uniform(3, 60), 2), rng.choice([None, "", "A classic ✓", "新装版"]))
         for _ in range(books)))
    conn.commit()
    conn.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--books", type=int, default=1000)
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)
    print(seed(args.directory, args.books))


if __name__ == "__main__":
    main()
