-- Bookshop, schema v2: books get a stock count (every existing book starts at 0),
-- `blurb` is renamed `summary`, and an author's books are found by an index.
CREATE TABLE authors (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE books (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id INTEGER NOT NULL REFERENCES authors(id),
    title     TEXT NOT NULL,
    price     REAL NOT NULL,
    summary   TEXT,
    stock     INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX books_by_author ON books (author_id);

-- mig:rename-column books blurb summary
