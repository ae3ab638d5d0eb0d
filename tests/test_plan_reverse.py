"""Whether a change could be reverted after cutover with nothing lost, planned from the two
schemas alone (issue 19: reversibility is planned, not discovered). Pure, but for the last
test, which reads what `mig plan` prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clihelp import mig_here, project

from mig.plan.compare import compare
from mig.plan.reverse import reversibility
from mig.schema.sql import loads

OLD = """
CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, born TEXT,
                     CHECK (length(name) > 0));
CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES author(id), title TEXT NOT NULL,
                   price NUMERIC, legacy TEXT);
"""


def _back(new: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    old, target = loads(OLD), loads(new)
    result = reversibility(compare(old, target), old, target)
    assert result.reversible == (not result.reasons)
    return result.reasons, result.notes


REVERSIBLE = {
    "the same schema": OLD,
    "a rename, an added column, an added table": OLD.replace("title TEXT NOT NULL", "headline TEXT NOT NULL")
    .replace("legacy TEXT);", "legacy TEXT, pages INTEGER);") + "CREATE TABLE tag (id INTEGER PRIMARY KEY);\n"
    "-- mig:rename-column book title headline\n",
    "a new UNIQUE and a new CHECK: stricter is fine": OLD.replace("born TEXT,", "born TEXT UNIQUE,")
    .replace("legacy TEXT)", "legacy TEXT CHECK (legacy <> ''))"),
    "a dropped nullable column keeps its old values": OLD.replace(", legacy TEXT", "")
    + "-- mig:drop-column book legacy\n",
    "a declared type that keeps the affinity": OLD.replace("born TEXT", "born VARCHAR(10)"),
}


@pytest.mark.parametrize("new", list(REVERSIBLE.values()), ids=list(REVERSIBLE))
def test_a_change_every_write_can_go_back_from_is_reversible(new: str) -> None:
    reasons, _ = _back(new)
    assert reasons == ()


def test_what_a_revert_leaves_behind_is_said() -> None:
    _, notes = _back(REVERSIBLE["a rename, an added column, an added table"])
    assert notes == ("values written to the new column book.pages stay in the new database",
                     "rows written to the new table tag stay in the new database")


IRREVERSIBLE = {
    "a dropped NOT NULL column without a default": (
        OLD.replace(", title TEXT NOT NULL", "") + "-- mig:drop-column book title\n",
        "book.title is dropped, and a row the new service inserts would need a value for it"),
    "NOT NULL loosened": (OLD.replace("name TEXT NOT NULL", "name TEXT"), "author.name takes NULL"),
    "an affinity change": (OLD.replace("price NUMERIC", "price REAL"),
                           "book.price: a REAL value the new service writes would be stored differently"),
    "a renamed column whose affinity changes": (
        OLD.replace("price NUMERIC", "cost TEXT") + "-- mig:rename-column book price cost\n",
        "book.cost (was book.price): a TEXT value"),
    "a conversion": (OLD.replace("price NUMERIC", "cents INTEGER") + "-- mig:convert book cents price * 100\n",
                     "book.price feeds a conversion, which has no way back"),
    "an old UNIQUE dropped": (OLD.replace("email TEXT UNIQUE", "email TEXT"), "author: UNIQUE (email) is not kept"),
    "an old CHECK dropped": (OLD.replace(",\n                     CHECK (length(name) > 0)", ""),
                             "author: CHECK (length(name) > 0) is not kept"),
}


@pytest.mark.parametrize(("new", "says"), list(IRREVERSIBLE.values()), ids=list(IRREVERSIBLE))
def test_a_change_a_write_could_not_go_back_from_is_not_reversible_and_says_why(new: str, says: str) -> None:
    reasons, _ = _back(new)
    assert len(reasons) == 1 and says in reasons[0], reasons


def test_mig_plan_says_it_in_text_and_json(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, OLD.replace("name TEXT NOT NULL", "name TEXT"))
    out = mig_here("plan", cwd=d)
    assert "Reversible after cutover: no\n  not reversible: author.name takes NULL" in out.stdout, out.stdout
    data = json.loads(mig_here("plan", "--json", cwd=d).stdout)
    assert data["reversible"] is False and len(data["irreversible"]) == 1 and data["revert_notes"] == []


INDEXED = OLD + "CREATE UNIQUE INDEX book_title ON book (title);\nCREATE UNIQUE INDEX author_lower ON author (lower(name));\n"
UNIQUE_INDEXES = {
    "the same unique indexes": (INDEXED, ()),
    "a plain one kept as a constraint": (INDEXED.replace("CREATE UNIQUE INDEX book_title ON book (title);", "")
                                         .replace("title TEXT NOT NULL,", "title TEXT NOT NULL UNIQUE,"), ()),
    "a plain one dropped": (INDEXED.replace("CREATE UNIQUE INDEX book_title ON book (title);", ""),
                            ("book: UNIQUE (title) is not kept",)),
    "an expression one dropped": (INDEXED.replace("CREATE UNIQUE INDEX author_lower ON author (lower(name));", ""),
                                  ("author: the unique index author_lower is not kept",)),
    "a plain one under another collation": (INDEXED.replace("title TEXT NOT NULL", "title TEXT NOT NULL COLLATE NOCASE"),
                                            ("book: UNIQUE (title) is not kept",)),
}


@pytest.mark.parametrize(("new", "says"), list(UNIQUE_INDEXES.values()), ids=list(UNIQUE_INDEXES))
def test_an_old_unique_index_counts_as_a_unique(new: str, says: tuple[str, ...]) -> None:
    old, target = loads(INDEXED), loads(new)
    reasons = reversibility(compare(old, target), old, target).reasons
    assert len(reasons) == len(says) and all(s in r for s, r in zip(says, reasons)), reasons


def test_checks_compare_over_the_new_names() -> None:
    old = loads("CREATE TABLE t (id INTEGER PRIMARY KEY, lo INTEGER, hi INTEGER, CHECK (lo <= hi));")
    renamed = loads("CREATE TABLE t (id INTEGER PRIMARY KEY, low INTEGER, hi INTEGER, CHECK (low <= hi));\n"
                    "-- mig:rename-column t lo low\n")
    swapped = loads("CREATE TABLE t (id INTEGER PRIMARY KEY, hi INTEGER, lo INTEGER, CHECK (lo <= hi));\n"
                    "-- mig:rename-column t lo hi\n-- mig:rename-column t hi lo\n")
    assert reversibility(compare(old, renamed), old, renamed).reasons == ()
    reasons = reversibility(compare(old, swapped), old, swapped).reasons
    assert len(reasons) == 1 and "CHECK (lo <= hi) is not kept" in reasons[0], reasons
