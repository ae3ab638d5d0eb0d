"""`schema.py`: each corpus file builds the database its `.fsx` twin's `.sql` describes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from dbcompare import build_from_schema, build_from_sql, diff, intents_from_schema, intents_from_sql, introspect

from mig.errors import SchemaInputError
from mig.model import canonical_json, schema_hash
from mig.schema import load_schema
from mig.schema.python import load
from mig.schema.python import loads as loads_py

CORPUS = Path(__file__).resolve().parent / "corpus" / "py"
EXAMPLES = Path(__file__).resolve().parent / "corpus" / "fsx"
PY_FILES = sorted(CORPUS.glob("[0-9]*.py"))


def test_every_fsx_example_has_a_python_twin() -> None:
    fsx = {p.stem for p in EXAMPLES.glob("[0-9]*.fsx")}
    assert fsx == {p.stem for p in PY_FILES}


@pytest.mark.parametrize("path", PY_FILES, ids=lambda p: p.stem)
def test_each_python_schema_builds_the_expected_database(path: Path) -> None:
    sql = (EXAMPLES / f"{path.stem}.sql").read_text()
    schema = load(path, path.name)
    assert diff(introspect(build_from_sql(sql)), introspect(build_from_schema(schema))) == []
    assert intents_from_schema(schema) == intents_from_sql(sql)


BAD_FILES = sorted(CORPUS.glob("bad_*.py"))


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_each_bad_python_schema_fails_at_its_position(path: Path) -> None:
    where, *fragments = path.with_suffix(".expected").read_text().splitlines()
    with pytest.raises(SchemaInputError) as exc:
        load(path, path.name)
    message = str(exc.value)
    assert message.startswith(f"{path.name}:{where}: "), message
    assert "\n" not in message and "Traceback" not in message
    for fragment in fragments:
        assert fragment.lower() in message.lower(), (fragment, message)


@pytest.mark.parametrize("path", PY_FILES, ids=lambda p: p.stem)
def test_fsx_and_python_twins_give_the_identical_model(path: Path) -> None:
    from mig.schema import fsx

    from_fsx = fsx.load(EXAMPLES / f"{path.stem}.fsx")
    from_py = load(path)
    assert canonical_json(from_py) == canonical_json(from_fsx)
    assert schema_hash(from_py) == schema_hash(from_fsx)
    assert from_py.queries == from_fsx.queries  # not hashed, but part of the 1:1 promise


# ---------------------------------------------------------------- the front end itself

def _fails(source: str, tmp_path: Path) -> str:
    path = tmp_path / "schema.py"
    path.write_text(source)
    with pytest.raises(SchemaInputError) as exc:
        load_schema(path)
    return str(exc.value).replace(str(path), "schema.py")


@pytest.mark.parametrize("source,expected", [
    ("from mig.dsl import *\nclass T:\n    x: int\n    y: = 3\n", "schema.py:4:8: SyntaxError: invalid syntax"),
    ("from mig.dsl import *\nclass T:\n    x: int\nn = 1 + (2 // 0)\n", "schema.py:4:10: ZeroDivisionError"),
    ("from mig.dsl import *\n@PK('id')\nclass T:\n    id: int\nrow = T(1)\n",
     "schema.py:5:7: TypeError: T(...) takes keyword arguments only"),
    ("from mig.dsl import *\nclass T:\n    x: int\n    y: str = 'a'\n",
     "schema.py:4:5: field T.y has a value; declare a default with @Default"),
    ("from mig.dsl import *\n@PK('id')\nclass T:\n    pass\n", "schema.py:3:7: class T declares no fields"),
    ("import no_such_module_anywhere\n", "schema.py:1:1: ModuleNotFoundError"),
    ("from mig.dsl import *\nX = 1\n", "schema.py:1:1: no record"),
    ("é = 'é'; import json; json.loads('{')\n", "schema.py:1:23: JSONDecodeError"),
])
def test_errors_in_the_users_file_are_one_line_with_a_position(source: str, expected: str,
                                                               tmp_path: Path) -> None:
    message = _fails(source, tmp_path)
    assert message.startswith(expected), message
    assert "\n" not in message and "Traceback" not in message


def test_loading_writes_nothing_beside_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "schema.py"
    path.write_text((CORPUS / "15_app_schema.py").read_text())
    (tmp_path / "helpers.py").write_text("X = 1\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    schema = load_schema(path)
    assert schema.table("ticket") is not None
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert "__mig_schema__" not in sys.modules


def test_forward_references_in_quotes_and_helper_classes(tmp_path: Path) -> None:
    path = tmp_path / "schema.py"
    path.write_text(
        "from __future__ import annotations\n"
        "from mig.dsl import *\n\n"
        "class Names:  # no fields, no attributes: a helper, not a table\n"
        "    PREFIX = 'x'\n\n"
        "@AutoIncPK('id')\n"
        "class Artist:\n"
        "    id: int\n"
        "    latest: Album | None\n\n"
        "@AutoIncPK('id')\n"
        "class Album:\n"
        "    id: int\n"
        "    artist: 'Artist'\n\n"
        "first = Album(id=1, artist=Artist(id=1, latest=None))\n"
        "Artist(id=9, latest=None)  # not bound to a name: not a seed row\n")
    schema = load_schema(path)
    assert [t.name for t in schema.tables] == ["artist", "album"]
    assert [(s.table, s.values) for s in schema.seeds] == [("album", (1, 1))]


def test_rows_are_readable_python_objects() -> None:
    from mig.dsl import PK, replace

    @PK("code")
    class Country:
        code: str
        name: str

    pt = Country(code="PT", name="Portugal")  # type: ignore[call-arg]
    no = replace(pt, code="NO", name="Norway")
    assert (no.code, no.name, pt.name) == ("NO", "Norway", "Portugal")
    assert repr(pt) == "Country(code='PT', name='Portugal')"


def test_the_dsl_docstring_example_is_a_working_schema() -> None:
    import mig.dsl

    doc = mig.dsl.__doc__ or ""
    start = doc.index("    from mig.dsl import *")
    example = "\n".join(line[4:] for line in doc[start:doc.index("\nTypes:")].splitlines())
    schema = loads_py(example, "doc.py")
    assert [t.name for t in schema.tables] == ["country", "customer", "customer_avatar", "customer_phone"]
    assert [v.name for v in schema.views] == ["customer_country"]
    assert [s.table for s in schema.seeds] == ["country", "customer"]
