"""The contract's `.fsx` examples (tests/corpus/fsx) through mig's whole path.

(a) every ``bad_*.fsx`` fails with one ``SchemaInputError`` at the position of
its ``.expected`` file, containing every listed fragment; (b) every positive
pair builds the same database from the ``.fsx`` (parse → translate → render →
seed) as SQLite builds from the ``.sql``, and declares the same renames and
drops as the ``.sql``'s directive comments. How the databases are compared is
the corpus README's, implemented once in ``tests/dbcompare.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mig.errors import SchemaInputError
from mig.schema import fsx

EXAMPLES = Path(__file__).resolve().parent / "corpus" / "fsx"

from dbcompare import build_from_schema, build_from_sql, diff, intents_from_schema, intents_from_sql, introspect  # noqa: E402

BAD = sorted(EXAMPLES.glob("bad_*.fsx"))
GOOD = sorted(p for p in EXAMPLES.glob("[0-9]*.fsx"))


def test_the_corpus_is_there() -> None:
    assert len(BAD) >= 10 and len(GOOD) >= 19


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_example_reports_its_error(path: Path) -> None:
    where, *fragments = path.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    warnings: list[str] = []
    with pytest.raises(SchemaInputError) as info:
        fsx.load(path, path.name, warn=warnings.append)
    e = info.value
    assert f"{e.line}:{e.col}" == where.strip(), str(e)
    for frag in filter(None, (f.strip() for f in fragments)):
        assert frag.lower() in e.message.lower(), f"{frag!r} not in {str(e)!r}"
    assert str(e).startswith(f"{path.name}:{where.strip()}: ")
    assert "\n" not in str(e)
    assert warnings == []


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_example_builds_the_database_of_its_sql(path: Path) -> None:
    sql = path.with_suffix(".sql").read_text(encoding="utf-8")
    schema = fsx.load(path, path.name, warn=lambda message: None)
    expected = introspect(build_from_sql(sql))
    actual = introspect(build_from_schema(schema))
    assert expected == actual, "\n".join(diff(expected, actual))
    assert intents_from_schema(schema) == intents_from_sql(sql)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_example_parses_without_warnings(path: Path) -> None:
    script = fsx.parse(path.read_text(encoding="utf-8"), path.name)
    assert script.decls and script.warnings == ()
