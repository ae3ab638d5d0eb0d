"""Properties of the `.fsx` front end: what is written is what is read.

- any string, written in each string form that can hold it, reads back as
  itself; any int64, float and byte reads back as its value;
- any small schema, laid out in any of the ways §2 allows (``;`` or line
  breaks, comments, attribute lists split or joined, string forms), parses
  to the same declarations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from mig.schema.decl import LetDecl, Lit, RecordDecl, RecordLit
from mig.schema.fsx import parse
from mig.schema.fsx.lexer import KEYWORDS, tokenize

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def regular(s: str) -> str:
    out = []
    for c in s:
        if c in '\\"':
            out.append("\\" + c)
        elif c == "\r":
            out.append("\\r")
        elif not c.isprintable() and c != "\n":
            out.append(f"\\U{ord(c):08X}" if ord(c) > 0xFFFF else f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def read_string(written: str) -> object:
    tokens, _ = tokenize(written, "t.fsx")
    assert [t.kind for t in tokens] == ["str", "eof"], tokens
    return tokens[0].value


@given(TEXT)
def test_regular_strings_round_trip(s: str) -> None:
    assert read_string(regular(s)) == s


@given(TEXT.filter(lambda s: "\r" not in s))
def test_verbatim_strings_round_trip(s: str) -> None:
    assert read_string('@"' + s.replace('"', '""') + '"') == s


@given(TEXT.filter(lambda s: "\r" not in s and '"""' not in s and not s.endswith('"')))
def test_triple_quoted_strings_round_trip(s: str) -> None:
    assert read_string('"""' + s + '"""') == s


def seed_value(written: str) -> tuple[str, object]:
    let = parse(f"let r = {{ v = {written} }}", "t.fsx").decls[0]
    assert isinstance(let, LetDecl) and isinstance(let.value, RecordLit)
    lit = let.value.assigns[0].value
    assert isinstance(lit, Lit)
    return lit.kind, lit.value


@given(st.integers(-2**63, 2**63 - 1), st.booleans())
def test_int64_round_trip(n: int, spaced: bool) -> None:
    written = f"{'-' if n < 0 else ''}{' ' if spaced and n < 0 else ''}{abs(n)}L"
    assert seed_value(written) == ("int64", n)
    if n >= 0:
        assert seed_value(f"0x{n:X}L") == ("int64", n)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_round_trip(x: float) -> None:
    kind, value = seed_value(repr(x))
    assert kind == "float" and isinstance(value, float)
    assert value == x and math.copysign(1, value) == math.copysign(1, x)


@given(st.integers(0, 255), st.booleans())
def test_byte_round_trip(n: int, hexa: bool) -> None:
    assert seed_value(f"0x{n:02X}uy" if hexa else f"{n}uy") == ("byte", n)


# ---------------------------------------------------------------- schemas

NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s not in KEYWORDS and s != "_")
TYPES = st.sampled_from(["int64", "string", "float", "byte[]", "string option",
                         "option<int64>", "byte[] option", "Other", "Other option"])
ARG = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)


@dataclass
class Field:
    name: str
    type: str
    previous: str | None


@dataclass
class Record:
    name: str
    fields: list[Field]
    attrs: list[tuple[str, list[str]]]


FIELDS = st.builds(Field, NAME, TYPES, st.none() | ARG)
ATTRS = st.lists(st.tuples(st.sampled_from(["PK", "Unique", "Index", "SelectBy"]),
                           st.lists(ARG, min_size=1, max_size=3)), max_size=4)
RECORDS = st.lists(st.builds(Record, NAME, st.lists(FIELDS, min_size=1, max_size=5), ATTRS),
                   min_size=1, max_size=4)


def write_str(s: str, form: int) -> str:
    if form == 1 and "\r" not in s:
        return '@"' + s.replace('"', '""') + '"'
    if form == 2 and '"' not in s:
        return '"""' + s + '"""'
    return regular(s)


def write_attr(name: str, args: list[str], draw: st.DrawFn) -> str:
    written = [write_str(a, draw(st.integers(0, 2))) for a in args]
    if len(written) == 1 and draw(st.booleans()):
        return f"{name} {written[0]}"
    space = " " if draw(st.booleans()) else ""
    return f"{name}{space}({', '.join(written)})"


def write_attrs(attrs: list[tuple[str, list[str]]], draw: st.DrawFn) -> str:
    parts = [write_attr(n, a, draw) for n, a in attrs]
    if not parts:
        return ""
    if draw(st.booleans()):
        return "[<" + "; ".join(parts) + ">]\n"
    joiner = draw(st.sampled_from(["\n", "", " ", " // c\n", " (* c *) "]))
    return joiner.join(f"[<{p}>]" for p in parts) + "\n"


def write_field(f: Field, draw: st.DrawFn) -> str:
    attr = f"[<PreviousName {write_str(f.previous, 0)}>] " if f.previous is not None else ""
    return f"{attr}{f.name}: {f.type}"


def write_record(r: Record, draw: st.DrawFn) -> str:
    fields = [write_field(f, draw) for f in r.fields]
    seps = [draw(st.sampled_from(["; ", ";\n    ", "\n    ", " (* x *)\n    ", " // x\n    "]))
            for _ in fields[1:]]
    body = fields[0] + "".join(s + f for s, f in zip(seps, fields[1:]))
    trailing = draw(st.sampled_from(["", ";", " ", "\n  "]))
    head = draw(st.sampled_from([" ", "\n  "]))
    return f"{write_attrs(r.attrs, draw)}type {r.name} ={head}{{ {body}{trailing} }}\n\n"


@st.composite
def scripts(draw: st.DrawFn) -> tuple[list[Record], str]:
    records = draw(RECORDS)
    text = "#r \"nuget: MigLib\"\nopen MigLib.Db\n\n" + "".join(
        write_record(r, draw) for r in records)
    return records, text


@settings(max_examples=150, deadline=None)
@given(scripts())
def test_any_layout_parses_to_the_same_declarations(case: tuple[list[Record], str]) -> None:
    records, text = case
    decls = parse(text, "t.fsx").decls
    assert len(decls) == len(records)
    for d, r in zip(decls, records):
        assert isinstance(d, RecordDecl)
        assert d.name == r.name
        assert [(a.name, [x.value for x in a.args]) for a in d.attrs] == r.attrs
        assert [(f.name, f.type.text) for f in d.fields] == [(f.name, f.type) for f in r.fields]
        assert [tuple(a.args[0].value for a in f.attrs) for f in d.fields] == \
            [(() if f.previous is None else (f.previous,)) for f in r.fields]
