"""The bookshop's HTTP answers, in process (Flask's test client on a real SQLite file):
503 + Retry-After only for the migration's two errors, 500 for other library errors, 400 for
bad input. tests/test_service_e2e.py runs the same service as a real process."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flask")

from bookshop_example import BOOKSHOP, seed, service  # noqa: E402

from mig import commands, runtime  # noqa: E402


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Path, Any]:
    project = tmp_path / "bookshop"
    project.mkdir()
    old = seed.seed(project, 5)
    return old, service.create_app(str(old), "v1").test_client()


def _count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM books").fetchone()[0])
    finally:
        conn.close()


GOOD = {"title": "Moominland Midwinter", "author": "Tove Jansson", "price": 9.5}


@pytest.mark.parametrize("change", [
    {"price": "cheap"}, {"price": True}, {"price": -1}, {"price": None}, {"price": [1]},
    {"author": None}, {"author": ""}, {"author": 7}, {"title": ["a", "list"]}, {"title": "  "},
    {"description": 3}, {"stock": 1.5}, {"stock": "many"}, {"stock": -2}, {"stock": False},
], ids=lambda change: ",".join(f"{k}={v!r}" for k, v in change.items()))
def test_bad_input_is_400_and_stores_nothing(shop: tuple[Path, Any], change: dict[str, Any]) -> None:
    old, client = shop
    before = _count(old)
    answer = client.post("/books", json={**GOOD, **change})
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["kind"] == "BadInput"
    assert _count(old) == before


def test_a_good_book_is_stored(shop: tuple[Path, Any]) -> None:
    old, client = shop
    answer = client.post("/books", json={**GOOD, "description": None, "stock": 3})
    assert answer.status_code == 201
    assert client.get(f"/books/{answer.get_json()['id']}").get_json()["author"] == "Tove Jansson"
    assert client.get("/books?limit=-1").status_code == 200


def test_other_library_errors_are_500_not_503(shop: tuple[Path, Any]) -> None:
    """Only WritesBlocked and NotReady mean "retry later"; a nested transaction or a missing
    file is a fault that a Retry-After would hide."""
    old, client = shop
    app = client.application

    @app.get("/nested")
    def nested() -> str:
        with runtime.connect(old) as db, db.transaction(), db.read():
            return "unreachable"

    answer = client.get("/nested")
    assert answer.status_code == 500 and "Retry-After" not in answer.headers
    assert "already open" in answer.get_json()["error"]
    gone = service.create_app(str(old.with_name("moved.sqlite")), "v1").test_client()
    answer = gone.get("/books/1")
    assert answer.status_code == 500 and answer.get_json()["kind"] == "DatabaseNotFound"


def test_draining_then_retired_old_service_refuses_writes_serves_reads(
        shop: tuple[Path, Any]) -> None:
    old, client = shop
    project = old.parent
    shutil.copy(BOOKSHOP / "v2" / "schema.sql", project / "schema.sql")
    commands.migrate_command(commands.Inputs(project))
    assert client.post("/books", json=GOOD).status_code == 201  # recording: writes go on
    commands.drain_command(commands.Inputs(project))
    assert client.get("/books/1").status_code == 200  # the pooled connection sees draining
    commands.cutover_command(commands.Inputs(project))
    commands.cleanup_old_command(commands.Inputs(project, old=old))
    before = _count(old)
    answer = client.post("/books", json=GOOD)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.get_json()["kind"] == "WritesBlocked" and "retired" in answer.get_json()["error"]
    assert client.get("/books/1").status_code == 200 and _count(old) == before
