"""`schema.py`: each corpus file builds the database its `.fsx` twin's `.sql` describes."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbcompare import build_from_schema, build_from_sql, diff, intents_from_schema, intents_from_sql, introspect
from mig.schema.python import load

CORPUS = Path(__file__).resolve().parent / "corpus" / "py"
EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "fsx-examples"
PY_FILES = sorted(CORPUS.glob("[0-9]*.py"))


def test_every_fsx_example_has_a_python_twin() -> None:
    if not EXAMPLES.is_dir():
        pytest.skip("shared/fsx-examples not beside the repository")
    fsx = {p.stem for p in EXAMPLES.glob("[0-9]*.fsx")}
    assert fsx == {p.stem for p in PY_FILES}


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="shared/fsx-examples not beside the repository")
@pytest.mark.parametrize("path", PY_FILES, ids=lambda p: p.stem)
def test_each_python_schema_builds_the_expected_database(path: Path) -> None:
    sql = (EXAMPLES / f"{path.stem}.sql").read_text()
    schema = load(path, path.name)
    assert diff(introspect(build_from_sql(sql)), introspect(build_from_schema(schema))) == []
    assert intents_from_schema(schema) == intents_from_sql(sql)
