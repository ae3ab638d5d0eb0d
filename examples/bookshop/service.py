"""The bookshop: a small Flask service that runs through a hot migration without a code path for it.

It opens its database with `mig.runtime` and maps the library's two
migration errors, WritesBlocked and NotReady, to HTTP 503 with `Retry-After`,
in one error handler: while the old database drains (and after, once it is
retired), writes are refused and reads go on; while the new database is being
built, every request is refused. Any other MigRuntimeError (a missing file, a
nested transaction) is a fault, not a migration: 500. Bad input is 400.
Nothing else in the service knows about migrations. The HTTP API is the same for schema v1 and v2 (a book's
`description` is the column `blurb` in v1 and `summary` in v2; v2 adds
`stock`), which is what lets traffic move from the old service to the new one.

    python examples/bookshop/service.py --db PATH --schema v1|v2 [--port 0]

It prints `listening on http://HOST:PORT` once the socket is bound (port 0
picks a free one).
"""

from __future__ import annotations

import argparse
import logging
import math
import queue
import sqlite3
from contextlib import contextmanager
from typing import Any, Iterator

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

from mig import runtime

DESCRIPTION_COLUMN = {"v1": "blurb", "v2": "summary"}


class Pool:
    """Reuse connections across requests (werkzeug runs each request in a new thread)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._idle: queue.SimpleQueue[runtime.Database] = queue.SimpleQueue()

    @contextmanager
    def database(self) -> Iterator[runtime.Database]:
        try:
            db = self._idle.get_nowait()
        except queue.Empty:
            db = runtime.connect(self.path, role="auto", check_same_thread=False)
        try:
            yield db
        finally:
            self._idle.put(db)


def _book(row: sqlite3.Row | None, schema: str) -> dict[str, Any] | None:
    if row is None:
        return None
    out = {"id": row["id"], "title": row["title"], "author": row["author"],
           "price": row["price"], "description": row["description"]}
    if schema == "v2":
        out["stock"] = row["stock"]
    return out


def _select(schema: str) -> str:
    extra = ", b.stock" if schema == "v2" else ""
    return (f"SELECT b.id, b.title, a.name AS author, b.price, "
            f"b.{DESCRIPTION_COLUMN[schema]} AS description{extra} "
            "FROM books b JOIN authors a ON a.id = b.author_id")


class BadInput(ValueError):
    """A request the service cannot store: HTTP 400, never a 500 from deep inside SQLite."""


def _text(data: dict[str, Any], key: str, required: bool) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadInput(f"{key} must be a {'non-empty ' if required else ''}string"
                       f"{'' if required else ' or null'}")
    return value


def _number(data: dict[str, Any], key: str, integer: bool) -> float | int:
    value = data.get(key)
    kinds = (int,) if integer else (int, float)
    # bool is an int to Python, and NaN/inf are floats to json: neither is a price or a stock
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or value < 0:
        raise BadInput(f"{key} must be a {'whole ' if integer else ''}number, 0 or more")
    return value


def _book_input(data: Any, schema: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not all(k in data for k in ("title", "author", "price")):
        raise BadInput("need a JSON object with title, author and price")
    book = {"title": _text(data, "title", True), "author": _text(data, "author", True),
            "price": float(_number(data, "price", integer=False)),
            "description": _text(data, "description", False)}
    if "stock" in data:
        stock = _number(data, "stock", integer=True)
        if schema == "v2":  # v1 has no stock column; the API accepts it either way
            book["stock"] = stock
    return book


def _add_book(conn: sqlite3.Connection, schema: str, book: dict[str, Any]) -> int:
    conn.execute("INSERT INTO authors (name) VALUES (?) ON CONFLICT (name) DO NOTHING",
                 (book["author"],))
    author_id = conn.execute("SELECT id FROM authors WHERE name = ?", (book["author"],)).fetchone()[0]
    columns = ["author_id", "title", "price", DESCRIPTION_COLUMN[schema]]
    values = [author_id, book["title"], book["price"], book["description"]]
    if "stock" in book:
        columns.append("stock")
        values.append(book["stock"])
    cur = conn.execute(f"INSERT INTO books ({', '.join(columns)}) VALUES "
                       f"({', '.join('?' for _ in values)})", values)
    assert cur.lastrowid is not None
    return cur.lastrowid


def create_app(db_path: str, schema: str) -> Flask:
    app = Flask("bookshop")
    pool = Pool(db_path)

    @app.errorhandler(runtime.WritesBlocked)
    @app.errorhandler(runtime.NotReady)
    def unavailable(exc: runtime.WritesBlocked | runtime.NotReady) -> tuple[Response, int, dict[str, str]]:
        return (jsonify(error=str(exc), kind=type(exc).__name__), 503,
                {"Retry-After": str(exc.retry_after)})

    @app.errorhandler(runtime.MigRuntimeError)  # Flask picks the most specific handler
    def broken(exc: runtime.MigRuntimeError) -> tuple[Response, int]:
        app.logger.error("bookshop: %s", exc)
        return jsonify(error=str(exc), kind=type(exc).__name__), 500

    @app.errorhandler(BadInput)
    def bad_input(exc: BadInput) -> tuple[Response, int]:
        return jsonify(error=str(exc), kind="BadInput"), 400

    @app.get("/healthz")
    def health() -> Response:
        with pool.database() as db:
            state = db.state()
        return jsonify(schema=schema, marker=state.marker, migration_status=state.migration_status)

    @app.get("/books/<int:book_id>")
    def get_book(book_id: int) -> Any:
        with pool.database() as db, db.read() as conn:
            conn.row_factory = sqlite3.Row
            book = _book(conn.execute(_select(schema) + " WHERE b.id = ?", (book_id,)).fetchone(),
                         schema)
        return (jsonify(book), 200) if book else (jsonify(error="no such book"), 404)

    @app.get("/books")
    def list_books() -> Response:
        after, limit = request.args.get("after", 0, type=int), request.args.get("limit", 20, type=int)
        with pool.database() as db, db.read() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(_select(schema) + " WHERE b.id > ? ORDER BY b.id LIMIT ?",
                                (after, max(1, min(limit, 500)))).fetchall()
        return jsonify([_book(r, schema) for r in rows])

    @app.post("/books")
    def add_book() -> Any:
        book = _book_input(request.get_json(silent=True), schema)
        with pool.database() as db, db.transaction() as conn:
            book_id = _add_book(conn, schema, book)
        return jsonify(id=book_id), 201

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="the SQLite file (never created)")
    parser.add_argument("--schema", choices=sorted(DESCRIPTION_COLUMN), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args()
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        runtime.connect(args.db).close()  # fail at start, in one line, on a wrong path
    except runtime.MigRuntimeError as exc:
        raise SystemExit(f"bookshop: {exc}") from None
    server = make_server(args.host, args.port, create_app(args.db, args.schema), threaded=True)
    print(f"listening on http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
