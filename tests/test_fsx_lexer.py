"""The `.fsx` lexer against docs/fsx.md §1 and the lexical errors L1–L4 of §6.

Tables of (source, expected tokens) and (bad source, "LINE:COL", fragments).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mig.errors import SchemaInputError
from mig.schema.fsx.lexer import KEYWORDS, Token, lex, tokenize


def toks(src: str) -> list[tuple[str, object]]:
    tokens, _ = tokenize(src, "t.fsx")
    assert tokens[-1].kind == "eof"
    return [(t.kind, t.value) for t in tokens[:-1]]


def one(src: str) -> Token:
    tokens, _ = tokenize(src, "t.fsx")
    assert len(tokens) == 2, tokens
    return tokens[0]


def lex_error(src: str) -> SchemaInputError:
    with pytest.raises(SchemaInputError) as info:
        lex(src, "t.fsx")
    return info.value


def check_error(src: str, where: str, fragments: tuple[str, ...]) -> None:
    e = lex_error(src)
    assert f"{e.line}:{e.col}" == where, str(e)
    for frag in fragments:
        assert frag.lower() in e.message.lower(), (frag, str(e))
    assert str(e).startswith(f"t.fsx:{where}: ")


# ---------------------------------------------------------------- tokens

TOKEN_CASES = [
    ("type A = { x: int64 }",
     [("kw", "type"), ("name", "A"), ("sym", "="), ("sym", "{"), ("name", "x"), ("sym", ":"),
      ("name", "int64"), ("sym", "}")]),
    ("[<PK \"id\">]", [("sym", "[<"), ("name", "PK"), ("str", "id"), ("sym", ">]")]),
    ("[| |] [||] [ ] ( )",
     [("sym", "[|"), ("sym", "|]"), ("sym", "[|"), ("sym", "|]"), ("sym", "["), ("sym", "]"),
      ("sym", "("), ("sym", ")")]),
    ("< > : ; , = | * . + -", [("sym", c) for c in "< > : ; , = | * . + -".split()]),
    ("typeof<A>)>]", [("name", "typeof"), ("sym", "<"), ("name", "A"), ("sym", ">"),
                      ("sym", ")"), ("sym", ">]")]),
    ("a.b.C", [("name", "a"), ("sym", "."), ("name", "b"), ("sym", "."), ("name", "C")]),
    ("_x1 x_Y café", [("name", "_x1"), ("name", "x_Y"), ("name", "café")]),
    ("``type`` ``my_name2``", [("name", "type"), ("name", "my_name2")]),
    ("None Some option array list typeof",
     [("name", n) for n in "None Some option array list typeof".split()]),
    ("1L..3L", [("int64", 1), ("sym", ".."), ("int64", 3)]),
    ("(*) x", [("sym", "("), ("sym", "*"), ("sym", ")"), ("name", "x")]),
    ("'a", [("tyvar", "'a")]),
    ("A->B", [("name", "A"), ("sym", "-"), ("sym", ">"), ("name", "B")]),
]


@pytest.mark.parametrize("src,expected", TOKEN_CASES)
def test_tokens(src: str, expected: list[tuple[str, object]]) -> None:
    assert toks(src) == expected


@pytest.mark.parametrize("word", sorted(KEYWORDS))
def test_every_keyword_is_a_keyword_unless_backticked(word: str) -> None:
    assert toks(word) == [("kw", word)]
    assert toks(f"``{word}``") == [("name", word)]


def test_keyword_list_is_the_contracts() -> None:
    doc = Path(__file__).resolve().parents[2] / "shared" / "fsx-dsl.md"
    if doc.is_file():
        m = re.search(r"not names unless backticked:\n`(.*?)`\.", doc.read_text(), re.S)
        assert m is not None and set(m.group(1).split()) == KEYWORDS
    for word in ("typeof", "None", "Some", "option", "array", "list"):
        assert word not in KEYWORDS


# ---------------------------------------------------------------- positions

POSITION_CASES = [
    ("a\n  b", [(1, 1), (2, 3)]),
    ("a\r\n  b", [(1, 1), (2, 3)]),
    ("a\r  b", [(1, 1), (2, 3)]),
    ("\ufeffa b", [(1, 1), (1, 3)]),
    ("\ta\t\tb", [(1, 2), (1, 5)]),
]


@pytest.mark.parametrize("src,expected", POSITION_CASES)
def test_positions(src: str, expected: list[tuple[int, int]]) -> None:
    tokens, _ = tokenize(src, "t.fsx")
    assert [(t.line, t.col) for t in tokens[:-1]] == expected


def test_columns_count_code_points() -> None:
    tokens, _ = tokenize('"😀é" x', "t.fsx")
    assert (tokens[1].line, tokens[1].col) == (1, 6)


def test_multi_line_token_records_its_last_line() -> None:
    tok = one('"a\nb\r\nc"')
    assert (tok.line, tok.col, tok.end_line, tok.value) == (1, 1, 3, "a\nb\nc")


def test_eof_token_position() -> None:
    tokens, _ = tokenize("a\nbc", "t.fsx")
    assert (tokens[-1].kind, tokens[-1].line, tokens[-1].col) == ("eof", 2, 3)


# ---------------------------------------------------------------- strings

STRING_CASES = [
    (r'"plain"', "plain"),
    (r'"\n\t\b\r\a\f\v\\\"\'\0"', "\n\t\b\r\a\f\v\\\"'\0"),
    (r'"\u00e9\U0001F600\x41"', "é😀A"),
    (r'"\065\255"', "A\xff"),
    (r'"\256"', "\\256"),  # above 255: the backslash stays
    (r'"\d\q"', "\\d\\q"),
    (r'"\u00g1"', "\\u00g1"),
    (r'"\uD83D\uDE00"', "😀"),  # a UTF-16 pair, as .NET holds it
    ('"a\\\n     b"', "ab"),  # backslash-newline drops the break and leading blanks
    ('"a\\\r\n\t b"', "ab"),
    ('"a\nb"', "a\nb"),
    ('"a\r\nb"', "a\nb"),
    ('"a\rb"', "a\nb"),
    ('"(* not a comment *) // nor this"', "(* not a comment *) // nor this"),
    ('@"C:\\tools\\x"', "C:\\tools\\x"),
    ('@"say ""hi"""', 'say "hi"'),
    ('@"a\r\nb"', "a\nb"),
    ('"""a "quoted" \\n b"""', 'a "quoted" \\n b'),
    ('"""\r\n  SELECT 1;\r\n"""', "\n  SELECT 1;\n"),
    ('""""""', ""),
    ('""', ""),
]


@pytest.mark.parametrize("src,value", STRING_CASES)
def test_strings(src: str, value: str) -> None:
    tok = one(src)
    assert (tok.kind, tok.value) == ("str", value)


def test_triple_quoted_ends_at_first_triple_quote() -> None:
    assert toks('"""a"""" x"') == [("str", "a"), ("str", " x")]
    assert toks('"""say ""hi"" """') == [("str", 'say ""hi"" ')]


# ---------------------------------------------------------------- numbers

NUMBER_CASES = [
    ("42L", "int64", 42),
    ("0x1FL", "int64", 31),
    ("1_000_000L", "int64", 1000000),
    ("9223372036854775807L", "int64", 2**63 - 1),
    ("0xFFFFFFFFFFFFFFFFL", "int64", -1),
    ("0o17L", "int64", 15),
    ("0b101L", "int64", 5),
    ("1.0", "float", 1.0),
    ("1.", "float", 1.0),
    ("2.5e-3", "float", 2.5e-3),
    ("1e3", "float", 1000.0),
    ("6.02E+23", "float", 6.02e23),
    ("1_0.2_5", "float", 10.25),
    ("7uy", "byte", 7),
    ("0xFFuy", "byte", 255),
    ("42", "int", 42),
    ("0x10", "int", 16),
]


@pytest.mark.parametrize("src,kind,value", NUMBER_CASES)
def test_numbers(src: str, kind: str, value: object) -> None:
    tok = one(src)
    assert (tok.kind, tok.value, tok.text) == (kind, value, src)


def test_minus_is_a_separate_token_and_allows_int64_min() -> None:
    assert toks("-5L") == [("sym", "-"), ("int64", 5)]
    assert toks("- 0.5") == [("sym", "-"), ("float", 0.5)]
    assert toks("-9223372036854775808L") == [("sym", "-"), ("int64", 2**63)]


# ---------------------------------------------------------------- comments, directives

SKIPPED_CASES = [
    ("// line comment\nx", [("name", "x")]),
    ("/// doc comment\nx", [("name", "x")]),
    ("x // y z", [("name", "x")]),
    ("(* a *) x", [("name", "x")]),
    ("(* a (* nested *) still *) x", [("name", "x")]),
    ('(* "a *) inside a string" *) x', [("name", "x")]),
    ('(* @"verbatim *)" """triple *)""" *) x', [("name", "x")]),
    ("(* (*) is not an opener *) x", [("name", "x")]),
    ("(**) x", [("name", "x")]),
    ("(* multi\nline\r\n*) x", [("name", "x")]),
    ("#r \"nuget: MigLib\"\nx", [("name", "x")]),
    ("#r @\"C:\\tools\\MigLib.dll\"\nx", [("name", "x")]),
    ("  #I \"../lib\"\nx", [("name", "x")]),
    ("#nowarn \"40\"\n#light\n#time \"on\"\nx", [("name", "x")]),
    ("#!/usr/bin/env dotnet fsi\nx", [("name", "x")]),
]


@pytest.mark.parametrize("src,expected", SKIPPED_CASES)
def test_comments_and_directives_are_skipped(src: str, expected: list[tuple[str, object]]) -> None:
    assert toks(src) == expected


def test_load_is_skipped_with_a_warning() -> None:
    tokens, warnings = tokenize('x\n  #load "other.fsx"\ny', "dir/s.fsx")
    assert [t.value for t in tokens[:-1]] == ["x", "y"]
    assert len(warnings) == 1
    assert warnings[0].startswith("dir/s.fsx:2:3: warning: ")
    assert "#load" in warnings[0]


# ---------------------------------------------------------------- errors

ERROR_CASES = [
    # L1: unterminated string or comment, at its opener
    ('x = "abc', "1:5", ("unterminated",)),
    ('x\n  @"abc', "2:3", ("unterminated",)),
    ('"""abc""', "1:1", ("unterminated",)),
    ('"abc\\"', "1:1", ("unterminated",)),
    ("x (* a", "1:3", ("unterminated", "(*")),
    ("(* a *)\n(* (* b *)", "2:1", ("unterminated",)),
    ("(* a (* b", "1:6", ("unterminated",)),
    ('(* "a *) *)', "1:4", ("unterminated",)),
    ("``abc", "1:1", ("unterminated",)),
    # L2: unsupported literals, at the literal
    ('x = $"a{b}"', "1:5", ("not supported", "interpolated")),
    ('x = $@"a"', "1:5", ("not supported",)),
    ('x = "abc"B', "1:5", ("not supported", "byte string")),
    ('x = @"abc"B', "1:5", ("not supported",)),
    ("x = 'a'", "1:5", ("not supported", "character")),
    ("x = '\\n'", "1:5", ("not supported",)),
    ("x = '\"'", "1:5", ("not supported",)),
    ("  5u", "1:3", ("not supported", "`u`")),
    ("5UL", "1:1", ("not supported",)),
    ("1.5m", "1:1", ("not supported",)),
    ("1.5f", "1:1", ("not supported",)),
    ("5n", "1:1", ("not supported",)),
    ("5I", "1:1", ("not supported",)),
    ("5y", "1:1", ("not supported",)),
    ("1.0L", "1:1", ("not supported",)),
    ("9223372036854775808L", "1:1", ("not supported", "range")),
    ("0x1FFFFFFFFFFFFFFFFL", "1:1", ("not supported", "range")),
    ("256uy", "1:1", ("not supported", "range")),
    ("1e999", "1:1", ("not supported",)),
    ('"\\uD83D"', "1:1", ("not supported", "surrogate")),
    # directives other than #r #I #nowarn #light #time #load
    ("x\n#if DEBUG\n#endif", "2:1", ("not supported", "#if")),
    ("#define X", "1:1", ("not supported",)),
    ("#quit", "1:1", ("not supported",)),
    # characters outside the DSL, names with a quote, bad backtick names
    ("x # y", "1:3", ("unexpected", "#")),
    ("x ? y", "1:3", ("unexpected", "?")),
    ("x & y", "1:3", ("unexpected",)),
    ("x\u00a0y", "1:2", ("unexpected", "U+00A0")),
    ("é😀", "1:2", ("unexpected",)),
    ("x' = 1", "1:1", ("not supported", "'")),
    ("``a b``", "1:1", ("not supported",)),
    ("``1a``", "1:1", ("not supported",)),
    ("`a`", "1:1", ("unexpected",)),
    # L3: unclosed, at the innermost opener
    ("type A = { x: int64\n\n[<PK \"id\">]\ntype B = { y: int64 }", "1:10", ("unclosed", "{")),
    ("[<A(\"x\">]", "1:8", ("unexpected", ">]", "(")),
    ("let x = [ { a = [| 1uy", "1:17", ("unclosed", "[|")),
    ("f (", "1:3", ("unclosed", "(")),
    ("[<A", "1:1", ("unclosed", "[<")),
    # L4: a closer that does not match, at the closer
    ("x )", "1:3", ("unexpected", ")")),
    ("{ [ }", "1:5", ("unexpected", "}")),
    ("[| ]", "1:4", ("unexpected", "]")),
    ("{ |]", "1:3", ("unexpected", "|]")),
    ("( >]", "1:3", ("unexpected", ">]")),
]


@pytest.mark.parametrize("src,where,fragments", ERROR_CASES)
def test_lexical_errors(src: str, where: str, fragments: tuple[str, ...]) -> None:
    check_error(src, where, fragments)


def test_lexical_error_beats_bracket_error() -> None:
    check_error('{ x = "abc', "1:7", ("unterminated",))


def test_first_lexical_error_wins() -> None:
    check_error("5u\n'a'", "1:1", ("`u`",))
