"""The `.fsx` parser against docs/fsx.md §2 and the syntax errors S1/S2 of §6.

Tables of (source, expected declarations) compared without positions, a
table of positions, and a table of (bad source, "LINE:COL", fragments).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mig.errors import SchemaInputError
from mig.schema.decl import (
    Assign,
    AttrArg,
    Attribute,
    CaseDecl,
    CaseField,
    FieldDecl,
    LetDecl,
    ListLit,
    Lit,
    NameRef,
    NoneLit,
    Pos,
    RecordDecl,
    RecordLit,
    SomeLit,
    TypeExpr,
    UnionDecl,
)
from mig.schema.fsx import parse

P = Pos("t.fsx", 0, 0)


def strip(obj: Any) -> Any:
    """A declaration as nested tuples, without positions."""
    if isinstance(obj, (list, tuple)):
        return tuple(strip(x) for x in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return (type(obj).__name__,) + tuple(
            (f.name, strip(getattr(obj, f.name))) for f in dataclasses.fields(obj)
            if f.name != "pos")
    return obj


def decls(src: str) -> Any:
    return strip(parse(src, "t.fsx").decls)


def T(name: str, *postfix: str, args: tuple[TypeExpr, ...] = (), text: str | None = None,
      kind: str = "named") -> TypeExpr:
    return TypeExpr(name, P, text or " ".join((name,) + postfix), args, tuple(postfix), kind)


def F(name: str, type_: TypeExpr, *attrs: Attribute) -> FieldDecl:
    return FieldDecl(name, type_, P, tuple(attrs))


def A(name: str, *args: str | AttrArg, parens: bool = False) -> Attribute:
    return Attribute(name, tuple(a if isinstance(a, AttrArg) else AttrArg("str", a, P)
                                 for a in args), P, parens)


def R(name: str, *fields: FieldDecl, attrs: tuple[Attribute, ...] = (),
      group: int = 1) -> RecordDecl:
    return RecordDecl(name, fields, P, attrs, group)


def S(value: object, kind: str = "str") -> Lit:
    return Lit(kind, value, P)


def Rec(*assigns: tuple[str, Any], base: str | None = None, qual: str | None = None) -> RecordLit:
    return RecordLit(tuple(Assign(label, value, P, qual if i == 0 else None)
                           for i, (label, value) in enumerate(assigns)), P, base)


X_INT = F("x", T("int64"))

# ---------------------------------------------------------------- records and types

RECORD_CASES = [
    ("type A = { x: int64 }", [R("A", X_INT)]),
    ("type A = { x: int64; y: string; }", [R("A", X_INT, F("y", T("string")))]),
    ("type A =\n  { x: int64\n    y: float }", [R("A", X_INT, F("y", T("float")))]),
    ("type A = {\n  x: int64;\n  y: float\n}", [R("A", X_INT, F("y", T("float")))]),
    ("type A = { x: int64 (* c *) ; y: float // c\n }", [R("A", X_INT, F("y", T("float")))]),
    ("type private A =\n  private\n    { mutable x: int64 }", [R("A", X_INT)]),
    ("type internal A = public { ``type``: string }", [R("A", F("type", T("string")))]),
    ("type A = { [<PreviousName \"old\">] x: int64 }",
     [R("A", F("x", T("int64"), A("PreviousName", "old")))]),
    ("type A =\n  { [<PreviousName \"old\">]\n    x: int64 }",
     [R("A", F("x", T("int64"), A("PreviousName", "old")))]),
]

TYPE_CASES = [
    ("string option", T("string", "option")),
    ("option<string>", T("option", args=(T("string"),), text="option<string>")),
    ("Option<int64>", T("Option", args=(T("int64"),), text="Option<int64>")),
    ("byte[]", T("byte", "[]", text="byte[]")),
    ("byte []", T("byte", "[]", text="byte[]")),
    ("byte array", T("byte", "array")),
    ("byte[] option", T("byte", "[]", "option", text="byte[] option")),
    ("string list", T("string", "list")),
    ("string option option", T("string", "option", "option")),
    ("System.Int64", T("System.Int64")),
    ("Map<string, int64>", T("Map", args=(T("string"), T("int64")), text="Map<string, int64>")),
    ("list<option<A>>", T("list", args=(T("option", args=(T("A"),), text="option<A>"),),
                          text="list<option<A>>")),
    ("(string option) list", T("string", "option", "list", text="(string option) list")),
    ("int64 * string", TypeExpr("*", P, "int64 * string", (T("int64"), T("string")), (),
                                "product")),
    ("int64 -> string", TypeExpr("->", P, "int64 -> string", (T("int64"), T("string")), (),
                                 "function")),
    ("A * B -> C", TypeExpr("->", P, "A * B -> C",
                            (TypeExpr("*", P, "A * B", (T("A"), T("B")), (), "product"), T("C")),
                            (), "function")),
]


@pytest.mark.parametrize("src,expected", RECORD_CASES)
def test_records(src: str, expected: list[Any]) -> None:
    assert decls(src) == strip(expected)


@pytest.mark.parametrize("written,expected", TYPE_CASES)
def test_field_types(written: str, expected: TypeExpr) -> None:
    assert decls(f"type A = {{ f: {written} }}") == strip([R("A", F("f", expected))])


def test_postfix_word_must_be_on_the_same_line() -> None:
    src = "type A =\n  { a: string\n    option: int64 }"
    assert decls(src) == strip([R("A", F("a", T("string")), F("option", T("int64")))])


# ---------------------------------------------------------------- unions and groups

def U(name: str, *cases: CaseDecl, attrs: tuple[Attribute, ...] = (), group: int = 1) -> UnionDecl:
    return UnionDecl(name, cases, P, attrs, group)


def C(name: str, *fields: tuple[str | None, TypeExpr]) -> CaseDecl:
    return CaseDecl(name, tuple(CaseField(n, t, P) for n, t in fields), P)


UNION_CASES = [
    ("type U = | A | B", [U("U", C("A"), C("B"))]),
    ("type U =\n  | A\n  | B", [U("U", C("A"), C("B"))]),
    ("type U = A | B", [U("U", C("A"), C("B"))]),
    ("type U = WithBio of Artist * bio: string",
     [U("U", C("WithBio", (None, T("Artist")), ("bio", T("string"))))]),
    ("type U =\n  | P of M * string // c\n  | Q of owner: M * image: byte[] * int64",
     [U("U", C("P", (None, T("M")), (None, T("string"))),
        C("Q", ("owner", T("M")), ("image", T("byte", "[]", text="byte[]")), (None, T("int64"))))]),
    ("type U = | A of x: string option", [U("U", C("A", ("x", T("string", "option"))))]),
    ("[<RequireQualifiedAccess>]\ntype U = | A",
     [U("U", C("A"), attrs=(A("RequireQualifiedAccess"),))]),
]


@pytest.mark.parametrize("src,expected", UNION_CASES)
def test_unions(src: str, expected: list[Any]) -> None:
    assert decls(src) == strip(expected)


def test_and_groups_share_a_number() -> None:
    src = ("type A = { x: int64 }\nand [<PK \"y\">]\n    B = { y: int64 }\nand C = | K\n"
           "type D = { x: int64 }\ntype E = { x: int64 }")
    got = parse(src, "t.fsx").decls
    assert [(d.name, d.group) for d in got] == [("A", 1), ("B", 1), ("C", 1), ("D", 2), ("E", 3)]
    assert got[1].attrs == (Attribute("PK", (AttrArg("str", "y", Pos("t.fsx", 2, 10)),),
                                      Pos("t.fsx", 2, 7)),)


# ---------------------------------------------------------------- attributes

ATTR_CASES = [
    ('[<PK "id">]', [A("PK", "id")]),
    ('[<PK("id")>]', [A("PK", "id", parens=True)]),
    ('[<PK ("id")>]', [A("PK", "id", parens=True)]),
    ("[<View>]", [A("View")]),
    ("[<View()>]", [A("View", parens=True)]),
    ('[<Unique("a", "b")>]', [A("Unique", "a", "b", parens=True)]),
    ('[<MigLib.Db.PKAttribute("isrc")>]', [A("PK", "isrc", parens=True)]),
    ("[<Attribute>]", [A("Attribute")]),
    ('[<A>][<B "x">]', [A("A"), A("B", "x")]),
    ('[<A>] [<B>]\n[<C>]', [A("A"), A("B"), A("C")]),
    ('[<A; B "x">]', [A("A"), A("B", "x")]),
    ('[<\n  A "a";\n  B ("b", "c")\n>]', [A("A", "a"), A("B", "b", "c", parens=True)]),
    ('[<A;>]', [A("A")]),
    ('[<SelectBy("s", OrderBy = "p ASC, o DESC")>]',
     [A("SelectBy", "s", AttrArg("str", "p ASC, o DESC", P, "OrderBy"), parens=True)]),
    ('[<SelectAll(OrderBy = "x")>]', [A("SelectAll", AttrArg("str", "x", P, "OrderBy"),
                                        parens=True)]),
    ("[<Join(typeof<Book>, typeof<Author>)>]",
     [A("Join", AttrArg("typeof", "Book", P), AttrArg("typeof", "Author", P), parens=True)]),
    ('[<ViewSql "SELECT 1 " + "AS x">]', [A("ViewSql", "SELECT 1 AS x")]),
    ('[<ViewSql("a" +\n   "b" + "c")>]', [A("ViewSql", "abc", parens=True)]),
    ('[<ViewSql """SELECT "q" """>]', [A("ViewSql", 'SELECT "q" ')]),
    ('[<ViewSql @"a ""b""">]', [A("ViewSql", 'a "b"')]),
]


@pytest.mark.parametrize("written,expected", ATTR_CASES)
def test_attributes(written: str, expected: list[Attribute]) -> None:
    got = parse(f"{written}\ntype X = {{ x: int64 }}", "t.fsx").decls[0]
    assert strip(got.attrs) == strip(expected)


def test_attributes_between_type_and_name_follow_those_before_type() -> None:
    got = parse('[<A>]\ntype [<B>] X = { x: int64 }', "t.fsx").decls[0]
    assert [a.name for a in got.attrs] == ["A", "B"]


def test_ignored_fsharp_attributes_are_kept_for_the_translator() -> None:
    got = parse("[<CLIMutable>][<NoComparison; NoEquality>][<Struct>]\ntype X = { x: int64 }",
                "t.fsx").decls[0]
    assert [a.name for a in got.attrs] == ["CLIMutable", "NoComparison", "NoEquality", "Struct"]


# ---------------------------------------------------------------- let bindings

def L(name: str, value: Any, annotation: TypeExpr | None = None) -> LetDecl:
    return LetDecl(name, value, P, annotation)


LET_CASES = [
    ('let a = { code = "x"; n = 1L }', [L("a", Rec(("code", S("x")), ("n", S(1, "int64"))))]),
    ("let a =\n  { code = \"x\"\n    n = -1.5 }",
     [L("a", Rec(("code", S("x")), ("n", S(-1.5, "float"))))]),
    ("let xs = [ a; b ]", [L("xs", ListLit((NameRef("a", P), NameRef("b", P)), P))]),
    ("let xs =\n  [ a\n    b ]", [L("xs", ListLit((NameRef("a", P), NameRef("b", P)), P))]),
    ("let xs = [\n  a\n  b\n]", [L("xs", ListLit((NameRef("a", P), NameRef("b", P)), P))]),
    ("let xs = [| a; b; |]", [L("xs", ListLit((NameRef("a", P), NameRef("b", P)), P, True))]),
    ("let xs = []", [L("xs", ListLit((), P))]),
    ("let b = { x = [||]; y = [| |]; z = [| 0uy; 0xFFuy |] }",
     [L("b", Rec(("x", ListLit((), P, True)), ("y", ListLit((), P, True)),
                 ("z", ListLit((S(0, "byte"), S(255, "byte")), P, True))))]),
    ("let y = x", [L("y", NameRef("x", P))]),
    ("let o = { a = None; b = Some \"s\"; c = Some 4L; d = Some (Some 1.0) }",
     [L("o", Rec(("a", NoneLit(P)), ("b", SomeLit(S("s"), P)), ("c", SomeLit(S(4, "int64"), P)),
                 ("d", SomeLit(SomeLit(S(1.0, "float"), P), P))))]),
    ("let q = { Setting.key = \"k\"; value = - 5L }",
     [L("q", Rec(("key", S("k")), ("value", S(-5, "int64")), qual="Setting"))]),
    ("let m = { theme with key = \"motd\" }", [L("m", Rec(("key", S("motd")), base="theme"))]),
    ("let n = { x = 12 }", [L("n", Rec(("x", S(12, "int"))))]),
    ("let n = (5L)", [L("n", S(5, "int64"))]),
    ("let n = -9223372036854775808L", [L("n", S(-2**63, "int64"))]),
    ("let g: Grant list = [ x ]", [L("g", ListLit((NameRef("x", P),), P), T("Grant", "list"))]),
    ("let g: list<Grant> = x",
     [L("g", NameRef("x", P), T("list", args=(T("Grant"),), text="list<Grant>"))]),
    ("let private g: Grant[] = x", [L("g", NameRef("x", P), T("Grant", "[]", text="Grant[]"))]),
    ("let r = { a = { id = 1L }; b = \"c\" }",
     [L("r", Rec(("a", Rec(("id", S(1, "int64")))), ("b", S("c"))))]),
    ('let s = { t = "say \\"hi\\"\\n" }', [L("s", Rec(("t", S('say "hi"\n'))))]),
]


@pytest.mark.parametrize("src,expected", LET_CASES)
def test_let_bindings(src: str, expected: list[Any]) -> None:
    assert decls(src) == strip(expected)


def test_literal_constants_are_substituted_not_declared() -> None:
    src = ('[<Literal>]\nlet Cur = "EUR"\n[<Literal>] let Sql = "SELECT " +\n  "1 AS x" + ""\n'
           "[<Literal>]\nlet Both = Cur + Sql\n"
           '[<Default("c", Cur); ViewSql Sql; X(Both, N = Cur)>]\ntype A = { c: string }\n'
           "let a = { c = Cur }\n"
           "let Cur = { c = \"x\" }\nlet b = { c = Cur }")
    got = parse(src, "t.fsx").decls
    assert strip(got) == strip([
        R("A", F("c", T("string")), attrs=(
            A("Default", "c", "EUR", parens=True), A("ViewSql", "SELECT 1 AS x"),
            A("X", "EURSELECT 1 AS x", AttrArg("str", "EUR", P, "N"), parens=True))),
        L("a", Rec(("c", S("EUR")))),
        L("Cur", Rec(("c", S("x")))),
        L("b", Rec(("c", NameRef("Cur", P)))),  # the binding shadows the constant
    ])


def test_top_level_skips_open_module_and_directives() -> None:
    src = ("#r \"nuget: MigLib\"\nmodule internal Catalogue.Schema\nopen MigLib.Db\n"
           "open type System.Math\n#nowarn \"40\"\ntype A = { x: int64 }\nopen X")
    assert decls(src) == strip([R("A", X_INT)])


def test_load_warning_is_returned() -> None:
    script = parse('#load "other.fsx"\ntype A = { x: int64 }', "s.fsx")
    assert script.warnings == ("s.fsx:1:1: warning: #load is skipped; the types of the loaded "
                               "file are not read",)
    assert script.file == "s.fsx"


# ---------------------------------------------------------------- positions

def test_positions() -> None:
    src = ('[<MigLib.Db.PK "id">]\n'
           'type  Acc =\n'
           '  { id: int64\n'
           '    owner: User option }\n'
           '[<Join(typeof<A>, typeof<B>); S("x", OrderBy = "y")>]\n'
           'type V = | W of  User * n: string\n'
           'let xs = [ { Acc.id = -1L; owner = None } ]\n')
    rec, union, let = parse(src, "t.fsx").decls
    assert isinstance(rec, RecordDecl) and isinstance(union, UnionDecl)
    assert isinstance(let, LetDecl) and isinstance(let.value, ListLit)
    at = lambda p: (p.line, p.col)  # noqa: E731
    assert at(rec.pos) == (2, 7)
    assert at(rec.attrs[0].pos) == (1, 3)
    assert at(rec.attrs[0].args[0].pos) == (1, 16)
    assert at(rec.fields[1].pos) == (4, 5)
    assert at(rec.fields[1].type.pos) == (4, 12)
    join, s = union.attrs
    assert [at(a.pos) for a in join.args] == [(5, 15), (5, 26)]
    assert [at(a.pos) for a in s.args] == [(5, 33), (5, 48)]
    assert at(union.cases[0].pos) == (6, 12)
    assert [at(f.pos) for f in union.cases[0].fields] == [(6, 18), (6, 25)]
    assert at(union.cases[0].fields[1].type.pos) == (6, 28)
    assert at(let.pos) == (7, 5)
    assert at(let.value.pos) == (7, 10)
    lit = let.value.items[0]
    assert isinstance(lit, RecordLit)
    assert at(lit.pos) == (7, 12)
    assert [at(a.pos) for a in lit.assigns] == [(7, 18), (7, 28)]
    assert [at(a.value.pos) for a in lit.assigns] == [(7, 23), (7, 36)]
    assert at(rec.pos) != at(P)
    assert rec.pos.file == "t.fsx"


# ---------------------------------------------------------------- errors

ERROR_CASES = [
    # separators
    ("type A = { x: int64 y: string }", "1:21", ("unexpected", "`y`")),
    ("type A =\n  { x: int64; y: string z: float }", "2:25", ("unexpected", "`z`")),
    ("let xs = [ 1L 2L ]", "1:15", ("unexpected", "`2L`")),
    ("let a = { x = 1L y = 2L }", "1:18", ("unexpected", "`y`")),
    ("let xs = [ a;; b ]", "1:14", ("unexpected", "`;`")),
    # ... also when F# would read a call: the second item is the error (§2)
    ("let xs = [ a b ]", "1:14", ("unexpected", "`b`")),
    ("let xs = [| a \"s\" |]", "1:15", ("unexpected", "string")),
    ("let xs = [ Some a b ]", "1:19", ("unexpected", "`b`")),
    ("let xs = [ { a = 1L } b ]", "1:23", ("unexpected", "`b`")),
    ('let x = { country = pt name = "x" }', "1:24", ("unexpected", "`name`")),
    ('let x = { Office.country = pt Office.name = "x" }', "1:31", ("unexpected", "`Office`")),
    ('let x = {\n  a = pt\n  b = x c = 1L }', "3:9", ("unexpected", "`c`")),
    # S1: tokens that do not fit
    ("type A = { x int64 }", "1:14", ("unexpected", "`int64`")),
    ("type A { x: int64 }", "1:8", ("unexpected", "`{`")),
    ("type = { x: int64 }", "1:6", ("unexpected", "`=`")),
    ("type A = { type: string }", "1:12", ("unexpected", "`type`", "``type``")),
    ("type A = { x: int64, y: string }", "1:20", ("unexpected", "`,`")),
    ("type A = { }", "1:10", ("without fields",)),
    ("type A = { x: }", "1:15", ("unexpected", "`}`")),
    ("type A = | B of", "1:16", ("unexpected", "end of file")),
    ("and B = { x: int64 }", "1:1", ("unexpected", "`and`")),
    ("type A = { x: int64 }\n;;", "2:1", ("unexpected", "`;`")),
    ("[<PK \"id\">]", "1:1", ("unexpected", "`[<`", "end of file")),
    ("[<PK \"id\">]\nopen X", "1:1", ("unexpected", "`[<`", "`open`")),
    ("let x = { }", "1:11", ("unexpected", "`}`")),
    ("let x = -\"a\"", "1:10", ("unexpected",)),
    ("let x = { a = 1L; a.b.c = 2L }", "1:22", ("unexpected", "`.`")),
    ('[<A "x" "y">]\ntype X = { x: int64 }', "1:9", ("unexpected",)),
    ("[<A(typeof<B>>]\ntype X = { x: int64 }", "1:14", ("unexpected", ">]")),
    ("type A = { x: List<int64 }", "1:26", ("unexpected", "`}`")),
    ("let 5L = x", "1:5", ("not supported",)),
    ('"hi"', "1:1", ("unexpected", '"hi"')),
    # S2: F# constructs outside the subset
    ("namespace Shop", "1:1", ("not supported", "namespace")),
    ("exception Oops of string", "1:1", ("not supported", "exception")),
    ("do printfn \"hi\"", "1:1", ("not supported", "do")),
    ('printfn "hi"', "1:1", ("not supported", "printfn")),
    ("module A\nmodule B =\n  type X = { x: int64 }", "2:1", ("not supported", "module")),
    ("module A\nmodule B", "2:1", ("not supported", "module")),
    ("type A = { x: int64 }\nmodule M", "2:1", ("not supported", "module")),
    ("type Box<'a> = { v: 'a }", "1:9", ("not supported", "generic")),
    ("type A = { v: 'a }", "1:15", ("not supported",)),
    ("type C() = class end", "1:7", ("not supported", "class")),
    ("type C =\n  class\n  end", "2:3", ("not supported", "class")),
    ("type I =\n  interface\n  end", "2:3", ("not supported", "interface")),
    ("type I =\n  abstract M: int64", "2:3", ("not supported",)),
    ("type C =\n  member x.M = 1L", "2:3", ("not supported",)),
    ("type S = struct val x: int64 end", "1:10", ("not supported",)),
    ("type Email = string", "1:14", ("not supported", "abbreviation")),
    ("type Pair = (int64 * string)", "1:13", ("not supported", "abbreviation")),
    ("type Id = System.Int64", "1:11", ("not supported", "abbreviation")),
    ("type Colour = | Red = 1 | Green = 2", "1:17", ("not supported", "enum")),
    ("type Colour =\n  | Red\n  | Green = 2", "3:5", ("not supported", "enum")),
    ("type A = { x: int64 } with\n  member this.X = 1L", "1:23", ("not supported", "member")),
    ("type U = | A | B\n  with member this.X = 1L", "2:3", ("not supported", "member")),
    ("type A =\n  { x: int64 }\n  member this.Y = 1", "3:3", ("not supported", "member")),
    ("type A = { x: int64 }\n  static member Z = 1L", "2:3", ("not supported", "static")),
    ("type U =\n  | P\n  | Q\n  override this.ToString() = \"\"", "4:3", ("not supported", "override")),
    ("type A = { x: int64 }\nand B =\n  { y: int64 }\n  interface I", "4:3", ("not supported", "member")),
    ("let f x = 5L", "1:5", ("not supported", "function")),
    ("let f () = 5L", "1:5", ("not supported", "function")),
    ("let rec x = 5L", "1:5", ("not supported", "rec")),
    ("let mutable x = 5L", "1:5", ("not supported", "mutable")),
    ("let inline x = 5L", "1:5", ("not supported", "inline")),
    ("let (a, b) = (1L, 2L)", "1:5", ("not supported", "pattern")),
    ("let a, b = 1L, 2L", "1:6", ("not supported", "pattern")),
    ("let xs = List.map f ys", "1:10", ("not supported",)),
    ("let x = f 5L", "1:9", ("not supported", "call")),
    ("let x = { a = string 5L }", "1:15", ("not supported", "call")),
    ("let x = [ { a = f x } ]", "1:17", ("not supported", "call")),
    ("let x = [ (f x) ]", "1:12", ("not supported", "call")),
    ("let x = Some f x", "1:14", ("not supported", "call")),
    ("let xs = [ for i in 1L .. 3L -> i ]", "1:12", ("not supported", "comprehension")),
    ("let xs = [ yield 1L ]", "1:12", ("not supported", "comprehension")),
    ("let xs = [ 1L .. 3L ]", "1:12", ("not supported", "range")),
    ("let xs = [ 1..3 ]", "1:12", ("not supported", "range")),
    ("let xs = [ 1L, 2L ]", "1:14", ("not supported", "`,`")),
    ("let xs = [\n  { a = 1L },\n  { a = 2L } ]", "2:13", ("not supported", "`,`")),
    ("let x = (1L, 2L)", "1:12", ("not supported", "tuple")),
    ("let x = { a = true }", "1:15", ("not supported", "true")),
    ("let x = { a = false }", "1:15", ("not supported", "false")),
    ("let x = null", "1:9", ("not supported", "null")),
    ("let x = ()", "1:9", ("not supported",)),
    ("let x = fun y -> y", "1:9", ("not supported", "fun")),
    ("let x = if a then b else c", "1:9", ("not supported", "if")),
    ("let x = -3uy", "1:9", ("not supported", "byte")),
    ("let _ = x", "1:5", ("not supported", "pattern")),
    # attributes the parser can already refuse
    ("type U = | [<PK \"x\">] A", "1:14", ("PK", "union case")),
    ("type U =\n  | A\n  | [<Obsolete>] B of string", "3:7", ("Obsolete", "union case")),
    ('[<PK "id">]\nlet x = { a = 1L }', "1:3", ("PK", "let")),
    ('[<Literal "x">]\nlet x = "a"', "1:3", ("Literal",)),
    ('[<Literal; Literal>]\nlet x = "a"', "1:12", ("Literal", "more than once")),
    ('[<Literal>]\n[<Literal>]\nlet x = "a"', "2:3", ("Literal", "more than once")),
    ("[<Literal>]\nlet n = 5L", "2:9", ("not supported", "Literal")),
    ("[<Literal>]\nlet s = \"a\" + Undefined", "2:15", ("Undefined", "Literal")),
    # A2, wrong arguments: at the attribute's name (§6), not at the argument
    ('[<PK id>]\ntype A = { id: int64 }', "1:3", ("`id`", "PK", "Literal")),
    ('[<Default("c", 5L)>]\ntype A = { c: int64 }', "1:3", ("Default", "5L", "string")),
    ('[<PK 5L>]\ntype A = { c: int64 }', "1:3", ("PK", "5L", "string")),
    ('[<PK -5L>]\ntype A = { c: int64 }', "1:3", ("PK", "-5L is not a string")),
    ('[<PK(- 0.5)>]\ntype A = { c: int64 }', "1:3", ("PK", "-0.5 is not a string")),
    ('[<Unique("x", 5L)>]\ntype A = { x: int64 }', "1:3", ("Unique", "5L", "string")),
    ('[<Index("x", "y" + 7uy)>]\ntype A = { x: int64 }', "1:3", ("Index", "7uy", "string")),
    ('[<PK(X.y)>]\ntype A = { id: int64 }', "1:3", ("PK", "not supported")),
    ('[<SelectBy(OrderBy = "id", "id")>]\ntype A = { id: int64 }', "1:3", ("SelectBy", "named")),
    ('[<S(OrderBy = "a", "b")>]\ntype A = { a: int64 }', "1:3", ("S", "named")),
    ('[<S(Other.Name)>]\ntype A = { a: int64 }', "1:3", ("S", "not supported")),
    ('[<A; MigLib.Db.PK 5L>]\ntype A = { a: int64 }', "1:6", ("PK", "string")),
    ('[<A>]\n[<B(\n  "x",\n  nope)>]\ntype A = { a: int64 }', "2:3", ("B", "`nope`", "Literal")),
]


@pytest.mark.parametrize("src,where,fragments", ERROR_CASES)
def test_syntax_errors(src: str, where: str, fragments: tuple[str, ...]) -> None:
    with pytest.raises(SchemaInputError) as info:
        parse(src, "t.fsx")
    e = info.value
    assert f"{e.line}:{e.col}" == where, str(e)
    for frag in fragments:
        assert frag.lower() in e.message.lower(), (frag, str(e))
    assert str(e) == f"t.fsx:{where}: {e.message}"
    assert "\n" not in str(e)


def test_first_syntax_error_in_the_file_wins() -> None:
    with pytest.raises(SchemaInputError) as info:
        parse("type A = { x: int64 y: int64 }\nnamespace X", "t.fsx")
    assert (info.value.line, info.value.col) == (1, 21)


def test_bracket_error_beats_earlier_syntax_error() -> None:
    with pytest.raises(SchemaInputError) as info:
        parse("namespace X\ntype A = { x: int64", "t.fsx")
    assert (info.value.line, info.value.col) == (2, 10)
    assert "unclosed" in info.value.message


# ---------------------------------------------------------------- nesting

DEEP = 300
NESTING_CASES = [
    ("type in parentheses", "type A = { x: " + "(" * DEEP + "int64" + ")" * DEEP + " }"),
    ("type arguments", "type A = { x: " + "option<" * DEEP + "int64" + ">" * DEEP + " }"),
    ("function type", "type A = { x: " + "int64 -> " * DEEP + "int64 }"),
    ("union case type", "type U = | C of " + "(" * DEEP + "int64" + ")" * DEEP),
    ("value in parentheses", "let a = " + "(" * DEEP + "{ x = 1L }" + ")" * DEEP),
    ("Some", "let a = { x = " + "Some " * DEEP + "1L }"),
    ("lists", "let a = " + "[" * DEEP + "]" * DEEP),
    ("records", "let a = " + "{ x = Some " * DEEP + "None" + " }" * DEEP),
]


@pytest.mark.parametrize("case,src", NESTING_CASES, ids=[c[0] for c in NESTING_CASES])
def test_deep_nesting_is_a_one_line_error_not_a_recursion_error(case: str, src: str) -> None:
    with pytest.raises(SchemaInputError) as info:
        parse(src, "t.fsx")
    assert "nested more than 64 levels" in info.value.message and "not supported" in info.value.message
    assert "\n" not in str(info.value)


def test_nesting_within_the_limit_parses() -> None:
    src = "let a = " + "(" * 40 + "{ x = " + "Some " * 20 + "1L }" + ")" * 40
    assert len(parse(src, "t.fsx").decls) == 1
