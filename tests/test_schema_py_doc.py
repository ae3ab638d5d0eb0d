"""docs/schema-py.md is checked by running it.

Every Python block of the page that starts with `from mig.dsl import *` is a
whole, working schema; the complete example builds a database whose views
read what the page says, and its `schema.fsx` twin gives the identical
model, hash and query annotations (the mapping table is not just prose).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dbcompare import build_from_schema, intents_from_schema

from mig.model import canonical_json, schema_hash
from mig.schema import fsx
from mig.schema.python import loads
from mig.schema.translate import translate

DOC = Path(__file__).resolve().parents[1] / "docs" / "schema-py.md"
TEXT = DOC.read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == language]


def complete_example() -> tuple[str, str]:
    section = TEXT[TEXT.index("## A complete example"):]
    return blocks(section, "python")[0], blocks(section, "fsharp")[0]


SCHEMAS = [b for b in blocks(TEXT, "python") if b.startswith("from mig.dsl import *")]


def test_the_page_has_its_examples() -> None:
    assert len(SCHEMAS) >= 9


@pytest.mark.parametrize("n", range(len(SCHEMAS)))
def test_every_python_block_is_a_working_schema(n: int) -> None:
    schema = loads(SCHEMAS[n], f"block{n}.py")
    db = build_from_schema(schema)
    for view in schema.views:
        db.execute(f'SELECT * FROM "{view.name}"').fetchall()


def test_the_complete_example_builds_what_the_page_says() -> None:
    py, _ = complete_example()
    schema = loads(py, "schema.py")
    assert [t.name for t in schema.tables] == ["country", "patron", "book", "loan",
                                               "patron_avatar", "patron_phone"]
    assert intents_from_schema(schema) == {
        ("rename-table", "customer", "patron"), ("rename-column", "patron", "alias", "nickname"),
        ("drop-column", "patron", "fax_number"), ("drop-table", "audit_trail")}
    db = build_from_schema(schema)
    board = db.execute("SELECT * FROM loan_board")
    assert [d[0] for d in board.description] == ["patron_email", "book_title", "due"]
    assert board.fetchall() == [("ana@example.com", "Dune", "2026-02-01")]
    assert db.execute("SELECT * FROM loan_count ORDER BY email").fetchall() == [
        ("ana@example.com", 1), ("bo@example.com", 0)]
    assert db.execute("SELECT count(*) FROM country").fetchone() == (2,)


def test_the_complete_example_and_its_fsx_twin_are_one_schema() -> None:
    py, fs = complete_example()
    from_py = loads(py, "schema.py")
    from_fsx = translate(fsx.parse(fs, "schema.fsx"))
    assert canonical_json(from_py) == canonical_json(from_fsx)
    assert schema_hash(from_py) == schema_hash(from_fsx)
    assert from_py.queries == from_fsx.queries
