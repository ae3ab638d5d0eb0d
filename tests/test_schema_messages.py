"""Every DSL error is one line (docs/fsx.md §6), whatever text it echoes.

Schema values may span lines (triple-quoted and verbatim F# strings, Python
strings with ``\\n``); a message that quotes one must still be one line, so
the value's line breaks are shown as ``\\n`` and long values are shortened.
The rule is enforced in one place, ``decl.schema_error``; a source scan
keeps every DSL module building its errors there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mig.errors import SchemaInputError
from mig.schema import decl, fsx, load_schema
from mig.schema.python import loads
from mig.schema.translate import translate

FSX_CASES: list[tuple[str, str, str, list[str]]] = [
    ("Default value", '[<Default("a", """now\n()""")>]\ntype T = { a: string }',
     "1:16", ["Default", "now\\n()"]),
    ("Index column", '[<Index "a\nb">]\ntype T = { a: string }', "1:9", ["not found", "a\\nb"]),
    ("PK field", '[<PK @"i\r\nd">]\ntype T = { id: int64 }', "1:6", ["not found", "i\\nd"]),
    ("PreviousName of a type", '[<PreviousName "old\ntable">]\ntype T = { a: string }',
     "1:16", ["PreviousName", "old\\ntable"]),
    ("PreviousName of a field", 'type T = { [<PreviousName """a\n\nb""">] x: string }',
     "1:27", ["PreviousName", "a\\n\\nb"]),
    ("OrderBy", '[<OrderBy "a\nDESC NULLS">]\ntype T = { a: string }', "1:11", ["OrderBy"]),
    ("Literal joined into a name", '[<Literal>]\nlet L = "a\n"\n[<Unique(L)>]\ntype T = { a: string }',
     "4:10", ["not found", "a\\n"]),
    ("string token in a syntax error", 'type T = { a: string }\n[<PK "x">] "two\nlines"',
     "2:1", ["unexpected", "string \"two…"]),
    ("unicode line separator", '[<Index "a\u2028b">]\ntype T = { a: string }', "1:9", ["a\\nb"]),
]


@pytest.mark.parametrize("case,source,where,fragments", FSX_CASES, ids=[c[0] for c in FSX_CASES])
def test_fsx_messages_are_one_line(case: str, source: str, where: str, fragments: list[str]) -> None:
    with pytest.raises(SchemaInputError) as info:
        translate(fsx.parse(source, "s.fsx"))
    e = info.value
    assert f"{e.line}:{e.col}" == where, str(e)
    assert len(str(e).splitlines()) == 1, repr(str(e))
    for fragment in fragments:
        assert fragment.lower() in e.message.lower(), (fragment, str(e))


PY_CASES: list[tuple[str, str, list[str]]] = [
    ("Default value", '@Default("a", "now\\n()")\nclass T:\n    a: str\n', ["Default", "now\\n()"]),
    ("Index column", '@Index("a\\r\\nb")\nclass T:\n    a: str\n', ["not found", "a\\nb"]),
    ("DropTable", '@DropTable("""old\nstuff""")\nclass T:\n    a: str\n', ["DropTable", "old\\nstuff"]),
    ("exception in the file", 'raise ValueError("two\\nlines")\n', ["ValueError", "two"]),
    ("BaseException of its own", 'class Stop(BaseException):\n    pass\nraise Stop("x")\n', ["Stop: x"]),
    ("view field", '@ViewSql("SELECT 1")\nclass V:\n    x: Annotated[int, PreviousName("a\\nb")]\n',
     ["PreviousName"]),
]


@pytest.mark.parametrize("case,source,fragments", PY_CASES, ids=[c[0] for c in PY_CASES])
def test_python_messages_are_one_line(case: str, source: str, fragments: list[str]) -> None:
    with pytest.raises(SchemaInputError) as info:
        loads("from mig.dsl import *\n" + source, "schema.py")
    e = info.value
    assert len(str(e).splitlines()) == 1, repr(str(e))
    for fragment in fragments:
        assert fragment.lower() in e.message.lower(), (fragment, str(e))


def test_long_values_are_shortened() -> None:
    value = "x " * 200
    with pytest.raises(SchemaInputError) as info:
        translate(fsx.parse(f'[<Default("a", "{value}")>]\ntype T = {{ a: string }}', "s.fsx"))
    assert "x x x" in info.value.message and len(info.value.message) < 250


def test_one_line_and_echo() -> None:
    assert decl.one_line("a\nb\r\nc\rd\x0be\x85f\u2029g") == "a\\nb\\nc\\nd\\ne\\nf\\ng"
    assert decl.echo("abc") == "abc"
    assert decl.echo("y" * 100, limit=10) == "y" * 10 + "…"
    e = decl.schema_error(decl.Pos("f", 2, 3), "bad\nvalue")
    assert str(e) == "f:2:3: bad\\nvalue" and (e.line, e.col) == (2, 3)


DSL_MODULES = sorted((Path(decl.__file__).parent).glob("fsx*.py")) + [
    Path(decl.__file__).parent / name for name in ("pydecl.py", "python.py")
] + sorted((Path(decl.__file__).parent / "translate").glob("*.py"))


@pytest.mark.parametrize("path", DSL_MODULES, ids=lambda p: p.name)
def test_dsl_modules_build_errors_through_schema_error(path: Path) -> None:
    """One place makes the one-line rule hold; no module constructs the error itself."""
    assert not re.search(r"\bSchemaInputError\(", path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize("source", [
    "class A:\n    x: int\na = A(x=" + "1+" * 3000 + "1)\n",  # past Python's compiler recursion
    "class A:\n    x: int\na = " + "[" * 300 + "]" * 300 + "\n",  # past Python's parser nesting
])
def test_python_schema_nested_too_deeply_is_a_one_line_error(source: str) -> None:
    with pytest.raises(SchemaInputError) as info:
        loads("from mig.dsl import *\n" + source, "schema.py")
    assert len(str(info.value).splitlines()) == 1
    assert "nested" in info.value.message.lower()


def test_a_view_sqlite_cannot_read_is_a_schema_error(tmp_path: Path) -> None:
    """SQLite creates such a view and fails only when it is read: by the new service."""
    path = tmp_path / "schema.py"
    path.write_text('from mig.dsl import *\n\n\n@AutoIncPK("id")\nclass Region:\n    id: int\n    name: str\n\n\n'
                    '@ViewSql("SELECT nosuch FROM region")\nclass Names:\n    nosuch: str\n')
    with pytest.raises(SchemaInputError, match="cannot read view names: no such column: nosuch"):
        load_schema(path)
