"""Flask services on mig.runtime, through a real migration, with Flask's test client: the
bookshop (the sqlite3 front) and a Flask + SQLAlchemy service (runtime.create_engine) with the
same three-line error handler as docs/runtime.md. Writes answer 503 + Retry-After while the
old database drains and reads 200; the new service answers 503 + Retry-After to everything
before cutover and serves reads and writes after it. (tests/test_service_e2e.py runs the
bookshop as real processes; tests/test_bookshop.py its 400 and 500 answers.)"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

pytest.importorskip("flask")
pytest.importorskip("sqlalchemy")

import sqlalchemy as sa  # noqa: E402
from bookshop_example import BOOKSHOP, seed, service  # noqa: E402
from flask import Flask, Response, jsonify, request  # noqa: E402

from mig import commands, runtime  # noqa: E402

ENGINES: list[sa.Engine] = []


def sqla_shop(path: str, schema: str) -> Flask:
    """A Flask + SQLAlchemy service: the engine from mig.runtime, the 503 from one handler."""
    engine = runtime.create_engine(path)
    ENGINES.append(engine)
    app = Flask("sqla_shop")

    @app.errorhandler(runtime.WritesBlocked)
    @app.errorhandler(runtime.NotReady)
    def unavailable(exc: runtime.WritesBlocked | runtime.NotReady) -> tuple[Response, int, dict[str, str]]:
        return jsonify(error=str(exc), kind=type(exc).__name__), 503, {"Retry-After": str(exc.retry_after)}

    @app.get("/books/<int:book_id>")
    def get_book(book_id: int) -> Any:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT id, title FROM books WHERE id = :id"), {"id": book_id}).first()
        return (jsonify(id=row.id, title=row.title), 200) if row else (jsonify(error="no such book"), 404)

    @app.post("/books")
    def add_book() -> Any:
        data = request.get_json()
        with engine.begin() as conn:
            book_id = conn.execute(sa.text("INSERT INTO books (author_id, title, price) "
                                           "VALUES (1, :title, :price) RETURNING id"), data).scalar_one()
        return jsonify(id=book_id), 201

    return app


APPS: dict[str, Callable[[str, str], Flask]] = {"bookshop": service.create_app, "sqlalchemy": sqla_shop}
BOOK = {"title": "Moominland Midwinter", "author": "Tove Jansson", "price": 9.5}


@pytest.fixture(autouse=True)
def _dispose() -> Iterator[None]:
    yield
    while ENGINES:
        ENGINES.pop().dispose()


def _unavailable(answer: Any, kind: str) -> None:
    assert answer.status_code == 503, answer.get_json()
    assert answer.headers["Retry-After"] == "1"
    assert answer.get_json()["kind"] == kind


@pytest.mark.parametrize("app", sorted(APPS))
def test_a_migration_through_a_flask_service(tmp_path: Path, app: str) -> None:
    create = APPS[app]
    project = tmp_path / "bookshop"
    project.mkdir()
    old = seed.seed(project, 5)
    shutil.copy(BOOKSHOP / "v2" / "schema.sql", project / "schema.sql")
    old_service = create(str(old), "v1").test_client()
    new = Path(commands.migrate_command(commands.Inputs(project)).new)
    assert old_service.post("/books", json=BOOK).status_code == 201  # recording: captured

    commands.drain_command(commands.Inputs(project))
    _unavailable(old_service.post("/books", json=BOOK), "WritesBlocked")
    answer = old_service.get("/books/6")
    assert answer.status_code == 200 and answer.get_json()["title"] == BOOK["title"]

    new_service = create(str(new), "v2").test_client()
    _unavailable(new_service.get("/books/6"), "NotReady")
    _unavailable(new_service.post("/books", json=BOOK), "NotReady")

    commands.cutover_command(commands.Inputs(project))
    answer = new_service.post("/books", json={**BOOK, "title": "after cutover"})
    assert answer.status_code == 201 and answer.get_json()["id"] == 7
    assert new_service.get("/books/6").get_json()["title"] == BOOK["title"]  # replayed
    assert new_service.get("/books/7").get_json()["title"] == "after cutover"
    _unavailable(old_service.post("/books", json=BOOK), "WritesBlocked")  # the old one stays shut
