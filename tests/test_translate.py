"""Translation rules (docs/fsx.md §3–§5) and every meaning error (§6 T*, A*, U*, V*, D*).

Most cases are small `schema.py` sources, since the Python front end hands
the translator the same declarations the F# parser does; `»` marks where
the error must point. F#-only shapes (`and` groups, `option<T>`, qualified
labels, copy-and-update, unsuffixed ints, bindings by name) are built
directly as declaration IR.
"""

from __future__ import annotations

import textwrap

import pytest

from mig.errors import SchemaInputError
from mig.model import ForeignKey, RenameColumn, RenameTable, SeedRow, snake
from mig.schema import decl
from mig.schema.python import loads
from mig.schema.translate import translate
from mig.sql.text import canonical

HEADER = "from mig.dsl import *\n"
MARK = "»"


def _marked(source: str) -> tuple[str, int, int]:
    text = HEADER + textwrap.dedent(source)
    for n, line in enumerate(text.split("\n"), start=1):
        if MARK in line:
            return text.replace(MARK, "", 1), n, line.index(MARK) + 1
    raise AssertionError("no » in the case")


def _error(source: str) -> tuple[SchemaInputError, int, int]:
    text, line, col = _marked(source)
    with pytest.raises(SchemaInputError) as exc:
        loads(text, "schema.py")
    return exc.value, line, col


TABLE_T = textwrap.indent(textwrap.dedent("""
    @AutoIncPK("id")
    class Team:
        id: int
        name: str
    """), " " * 8)  # indented like the cases it is prepended to

ERRORS: list[tuple[str, str, list[str]]] = [
    # ---- T: types and names
    ("T1 bool", """
        @AutoIncPK("id")
        class Subscription:
            id: int
            is_active: »bool
        """, ["unsupported", "bool", "Subscription.is_active"]),
    ("T1 list", """
        class Post:
            tags: »list[str]
        """, ["unsupported", "list[str]", "Post.tags"]),
    ("T1 double option", """
        class Post:
            title: »Optional[str | None]
        """, ["unsupported", "Post.title"]),
    ("T1 dotted", """
        import datetime
        class Post:
            at: »datetime.date
        """, ["unsupported", "datetime.date", "Post.at"]),
    ("T1 union type", """
        class Kind(Union):
            A = Case()
        class Post:
            kind: »Kind
        """, ["unsupported", "Kind", "Post.kind"]),
    ("T1 reference list", TABLE_T + """
        class Post:
            teams: »list[Team]
        """, ["unsupported", "Post.teams"]),
    ("T2 not declared", """
        @AutoIncPK("id")
        class Wallet:
            id: int
            owner: »Account
        """, ["not declared", "Account"]),
    ("T2 in quotes", """
        class Wallet:
            owner: »"Account | None"
        """, ["not declared", "Account"]),
    ("T4 reference without key", """
        class Country:
            code: str
        @AutoIncPK("id")
        class City:
            id: int
            country: »Country
        """, ["primary key", "Country", "City.country"]),
    ("T5 reference to a view", TABLE_T + """
        @ViewSql("SELECT 1 AS x")
        class V:
            x: int
        class Post:
            v: »V
        """, ["view", "V"]),
    ("T5 join of a view", TABLE_T + """
        @ViewSql("SELECT 1 AS x")
        class V:
            x: int
        @View
        @Join(Team, »V)
        class W:
            x: int
        """, ["view", "V", "Join"]),
    ("T5 extension of a view", """
        @ViewSql("SELECT 1 AS x")
        class V:
            x: int
        class Ext(Union):
            WithY = Case(»V, y=int)
        """, ["view", "V"]),
    ("T6 duplicate class", """
        class A:
            x: int
        class »A:
            y: int
        """, ["duplicate", "A"]),
    ("T6 duplicate column", TABLE_T + """
        class Player:
            team: Team
            »team_id: int
        """, ["duplicate", "team_id"]),
    ("T6 duplicate table name", """
        class OrderLine:
            x: int
        class »Order_Line:
            y: int
        """, ["duplicate", "order_line"]),
    ("T6 extension table clashes", TABLE_T + """
        class TeamLogo:
            x: int
        class Ext(Union):
            »WithLogo = Case(Team, image=bytes)
        """, ["duplicate", "team_logo"]),
    ("T6 duplicate extension column", TABLE_T + """
        class Ext(Union):
            WithX = Case(Team, »team_id=int)
        """, ["duplicate", "team_id"]),
    # ---- A: attributes
    ("A2 PK on a view", """
        @»PK("x")
        @ViewSql("SELECT 1 AS x")
        class V:
            x: int
        """, ["PK"]),
    ("A2 View twice", TABLE_T + """
        @View
        @»View
        @Join(Team, Team)
        class V:
            x: int
        """, ["View"]),
    ("A2 Join with strings", TABLE_T + """
        @View
        @»Join("Team", "Team")
        class V:
            x: int
        """, ["Join"]),
    ("A2 PreviousName on a view field", """
        @ViewSql("SELECT 1 AS x")
        class V:
            x: Annotated[int, »PreviousName("y")]
        """, ["PreviousName"]),
    ("A2 Default with a non-string column", """
        @»Default(1, "x")
        class T:
            x: int
        """, ["Default"]),
    ("A3 PK and AutoIncPK", """
        @AutoIncPK("id")
        @Unique("email")
        @»PK("id")
        class Account:
            id: int
            email: str
        """, ["both", "PK", "AutoIncPK"]),
    ("A4 Index column", """
        @AutoIncPK("id")
        @Index(»"emial")
        class Subscriber:
            id: int
            email: str
        """, ["not found", "emial", "Subscriber"]),
    ("A4 PK field", """
        @PK(»"key")
        class T:
            id: int
        """, ["not found", "key", "T"]),
    ("A4 query column", """
        @SelectBy("id", »"nmae")
        class T:
            id: int
            name: str
        """, ["not found", "nmae", "T"]),
    ("A4 OrderBy column", """
        @SelectAll(order_by=»"name, agee DESC")
        class T:
            name: str
            age: int
        """, ["not found", "agee", "T"]),
    ("A5 key on option", """
        @PK(»"code")
        class T:
            code: str | None
        """, ["primary key", "T.code"]),
    ("A5 key on reference", TABLE_T + """
        @PK(»"team")
        class Member:
            team: Team
        """, ["primary key", "Member.team"]),
    ("A5 AutoIncPK on text", """
        @AutoIncPK(»"code")
        class T:
            code: str
        """, ["primary key", "T.code"]),
    ("A6 delete action on a plain column", TABLE_T + """
        @OnDeleteCascade(»"name")
        class Member:
            name: str
            team: Team
        """, ["foreign key", "name"]),
    ("A7 set null on required", TABLE_T + """
        @AutoIncPK("id")
        @OnDeleteSetNull(»"team")
        class Developer:
            id: int
            team: Team
        """, ["NOT NULL", "team_id"]),
    ("A8 conflicting delete actions", TABLE_T + """
        @OnDeleteCascade("team")
        @OnDeleteSetNull(»"teamId")
        class Member:
            team: Team | None
        """, ["conflicting", "team_id"]),
    ("A8 two defaults", """
        @Default("n", "1")
        @DefaultExpr(»"n", "2 + 2")
        class T:
            n: int
        """, ["more than one", "n"]),
    ("A9 thousands separator", """
        @Default("n", »"1,000")
        class T:
            n: int
        """, ["Default", "1,000", "DefaultExpr"]),
    ("A9 function call", """
        @Default("at", »"now()")
        class T:
            at: str
        """, ["Default", "now()"]),
    ("A9 two words", """
        @Default("s", »"in progress")
        class T:
            s: str
        """, ["Default", "in progress"]),
    ("A9 empty", """
        @Default("s", »"  ")
        class T:
            s: str
        """, ["Default"]),
    ("A9 integer beyond 64 bits", """
        @Default("n", »"9223372036854775808")
        class T:
            n: int
        """, ["Default", "9223372036854775808"]),
    ("A10 three words", """
        @OrderBy(»"name DESC NULLS")
        class T:
            name: str
        """, ["OrderBy"]),
    ("A10 bad direction", """
        @SelectBy("name", order_by=»"name UP")
        class T:
            name: str
        """, ["OrderBy"]),
    ("A11 previous name is the current one", """
        @PreviousName(»"ItemTable")
        class Item_Table:
            x: int
        """, ["PreviousName", "item_table"]),
    ("A11 previous name of another table", """
        class Other:
            x: int
        @PreviousName(»"other")
        class Item:
            x: int
        """, ["PreviousName", "other"]),
    ("A11 column renamed from a column it still has", """
        class Item:
            name: str
            title: Annotated[str, PreviousName(»"name")]
        """, ["PreviousName", "name"]),
    ("A11 inside a quoted annotation", """
        class Item:
            name: str
            title: »"Annotated[str, PreviousName('name')]"
        """, ["PreviousName", "name"]),
    ("A11 column renamed to itself", """
        class Item:
            title: Annotated[str, PreviousName(»"title")]
        """, ["PreviousName", "title"]),
    ("A11 drop a column the table has", """
        @DropColumn(»"fullName")
        class Item:
            full_name: str
        """, ["DropColumn", "full_name"]),
    ("A11 drop a table of the schema", """
        @DropTable(»"Item")
        class Item:
            x: int
        """, ["DropTable", "item"]),
    ("A11 renamed and dropped", """
        @DropTable("legacy_item")
        @PreviousName(»"LegacyItem")
        class Item:
            x: int
        """, ["PreviousName", "legacy_item"]),
    ("A11 dropped twice", """
        @DropColumn("old")
        @DropColumn(»"old")
        class Item:
            x: int
        """, ["DropColumn", "old"]),
    ("A11 not a name", """
        @DropTable(»"old table")
        class Item:
            x: int
        """, ["DropTable", "old table"]),
    ("A12 index name clash", """
        @PK("name")
        class Role:
            name: str
        @Index("role_name")
        class User:
            role_name: str
        @»Index("name")
        class UserRole:
            name: str
        """, ["index", "ix_user_role_name"]),
    # ---- U: unions
    ("U1 extension of a keyless record", """
        class Note:
            text: str
        class Ext(Union):
            WithTag = Case(»Note, tag=str)
        """, ["primary key", "Ext.WithTag"]),
    ("U2 extension field of record type", TABLE_T + """
        class Ext(Union):
            WithBuddy = Case(Team, buddy=»Team)
        """, ["unsupported", "Team"]),
    ("U2 extension field of unsupported type", TABLE_T + """
        class Ext(Union):
            WithFlag = Case(Team, flag=»bool)
        """, ["unsupported", "bool"]),
    ("T2 extension base misspelt", TABLE_T + """
        class Ext(Union):
            WithFlag = Case(»Taem, flag=int)
        """, ["not declared", "Taem"]),
    # ---- V: views
    ("V1 View without Join", """
        @»View
        class V:
            x: int
        """, ["Join", "V"]),
    ("V2 View and ViewSql", TABLE_T + """
        @View
        @Join(Team, Team)
        @»ViewSql("SELECT 1 AS x")
        class V:
            x: int
        """, ["both"]),
    ("V3 Join of a union", TABLE_T + """
        class Kind(Union):
            A = Case()
        @View
        @Join(Team, »Kind)
        class V:
            x: int
        """, ["Join", "Kind"]),
    ("V4 ambiguous join", TABLE_T + """
        @AutoIncPK("id")
        class Game:
            id: int
            home: Team
            away: Team
        @View
        @»Join(Game, Team)
        class V:
            name: str
        """, ["ambiguous", "Game", "Team", "table game", "table team", "home_id and away_id"]),
    ("V4 ambiguous join names tables, not types", """
        @AutoIncPK("id")
        class SalesRep:
            id: int
        @AutoIncPK("id")
        class OrderLine:
            id: int
            seller: SalesRep
            approver: SalesRep
        @View
        @»Join(OrderLine, SalesRep)
        class V:
            id: int
        """, ["ambiguous", "order_line", "sales_rep"]),
    ("V5 no foreign key", TABLE_T + """
        @AutoIncPK("id")
        class Venue:
            id: int
            city: str
        @View
        @»Join(Venue, Team)
        class V:
            city: str
        """, ["foreign key", "Venue", "Team", "tables venue and team"]),
    ("V5 no foreign key names tables, not types", """
        @AutoIncPK("id")
        class SalesRep:
            id: int
        @AutoIncPK("id")
        class OrderLine:
            id: int
        @View
        @»Join(OrderLine, SalesRep)
        class V:
            id: int
        """, ["foreign key", "order_line", "sales_rep"]),
    ("V6 joined twice", TABLE_T + """
        @AutoIncPK("id")
        class Player:
            id: int
            team: Team
        @View
        @Join(Player, Team)
        @»Join(Team, Player)
        class V:
            name: str
        """, ["more than once"]),
    ("V6 disconnected", TABLE_T + """
        @AutoIncPK("id")
        class Player:
            id: int
            team: Team
        @AutoIncPK("id")
        class Venue:
            id: int
        @AutoIncPK("id")
        class Seat:
            id: int
            venue: Venue
        @View
        @Join(Player, Team)
        @»Join(Seat, Venue)
        class V:
            name: str
        """, ["disconnected"]),
    ("V7 unresolved field", """
        @AutoIncPK("id")
        class Customer:
            id: int
            name: str
        @AutoIncPK("id")
        class Order:
            id: int
            customer: Customer
            total: float
        @View
        @Join(Order, Customer)
        class CustomerOrders:
            customer_name: str
            »customer_phone: str
        """, ["resolve", "CustomerOrders.customerPhone"]),
    ("V7 ambiguous field", TABLE_T + """
        @AutoIncPK("id")
        class Player:
            id: int
            name: str
            team: Team
        @View
        @Join(Player, Team)
        class V:
            »name: str
        """, ["ambiguous", "V.name"]),
    ("V8 CREATE VIEW prefix", """
        @ViewSql(»"CREATE VIEW v AS SELECT 1")
        class V:
            x: int
        """, ["ViewSql", "SELECT"]),
    ("V8 two statements", """
        @ViewSql(»"SELECT 1; SELECT 2")
        class V:
            x: int
        """, ["ViewSql", "SELECT"]),
    ("V9 cycle", """
        class T:
            x: int
        @ViewSql("SELECT x FROM b")
        class »A:
            x: int
        @ViewSql("SELECT x FROM a")
        class B:
            x: int
        """, ["cycle"]),
    # ---- D: seed data
    ("D1 list of plain values", TABLE_T + """
        teams = [Team(id=1, name="a"), »5]
        """, ["record"]),
    ("D2 view seeded", """
        @ViewSql("SELECT 1 AS x")
        class V:
            x: int
        v = »V(x=1)
        """, ["record type", "view"]),
    ("D3 missing field", TABLE_T + """
        team = »Team(id=1)
        """, ["missing", "Team.name"]),
    ("D4 unknown label", TABLE_T + """
        team = Team(id=1, name="a", »colour="red")
        """, ["colour"]),
    ("D5 string for int64", """
        @AutoIncPK("id")
        class Shelf:
            id: int
            capacity: int
        shelves = [Shelf(id=1, capacity=40), Shelf(id=2, capacity=»"12")]
        """, ["Shelf.capacity", "int64"]),
    ("D5 None for a non-option", TABLE_T + """
        team = Team(id=1, name=»None)
        """, ["Team.name", "string"]),
    ("D5 bool for int64", TABLE_T + """
        team = Team(id=»True, name="a")
        """, ["Team.id", "int64"]),
    ("D5 int64 out of range", TABLE_T + """
        team = Team(id=»2**63, name="a")
        """, ["Team.id", "int64"]),
    ("D5 plain value for a reference", TABLE_T + """
        @AutoIncPK("id")
        class Player:
            id: int
            team: Team
        p = Player(id=1, team=»1)
        """, ["Player.team", "Team"]),
    ("D7 two rows with one key", TABLE_T + """
        a = Team(id=1, name="a")
        b = »Team(id=1, name="b")
        """, ["conflict", "team"]),
]


@pytest.mark.parametrize("case,source,fragments", ERRORS, ids=[c[0] for c in ERRORS])
def test_meaning_errors_point_at_the_culprit(case: str, source: str, fragments: list[str]) -> None:
    error, line, col = _error(source)
    assert (error.line, error.col) == (line, col), str(error)
    for fragment in fragments:
        assert fragment.lower() in error.message.lower(), (fragment, str(error))
    assert str(error).startswith(f"schema.py:{line}:{col}: ")
    assert "\n" not in str(error)


# ---------------------------------------------------------------- IR-built cases

F = "s.fsx"


def P(line: int = 1, col: int = 1) -> decl.Pos:
    return decl.Pos(F, line, col)


def ty(text: str, line: int = 1, col: int = 1) -> decl.TypeExpr:
    """A type as the F# parser gives it: `string option`, `option<int64>`, `byte[]`."""
    if "<" in text:
        name, inner = text.split("<", 1)
        return decl.TypeExpr(name, P(line, col), text, args=(ty(inner.rstrip(">"), line, col),))
    name, *postfix = text.replace("[]", " []").split()
    return decl.TypeExpr(name, P(line, col), text, postfix=tuple(postfix))


def attr(name: str, *args: str, line: int = 1, col: int = 1, typeof: tuple[str, ...] = (),
         **named: str) -> decl.Attribute:
    out = [decl.AttrArg("str", a, P(line, col + 10)) for a in args]
    out += [decl.AttrArg("typeof", t, P(line, col + 20)) for t in typeof]
    out += [decl.AttrArg("str", v, P(line, col + 30), k) for k, v in named.items()]
    return decl.Attribute(name, tuple(out), P(line, col))


def rec(name: str, fields: str, *attrs: decl.Attribute, line: int = 1, group: int | None = None) -> decl.RecordDecl:
    """`fields` like "id: int64; name: string option"."""
    fs = []
    for i, part in enumerate(p.strip() for p in fields.split(";")):
        fname, ftype = (x.strip() for x in part.split(":", 1))
        fs.append(decl.FieldDecl(fname, ty(ftype, line, 20 + i), P(line, 10 + i)))
    return decl.RecordDecl(name, tuple(fs), P(line, 6), tuple(attrs), line if group is None else group)


def lit(value: object, kind: str | None = None, line: int = 9, col: int = 1) -> decl.Lit:
    kinds = {str: "str", int: "int64", float: "float"}
    return decl.Lit(kind or kinds[type(value)], value, P(line, col))


def record(*assigns: tuple[str, decl.ValueExpr], base: str | None = None, line: int = 9, col: int = 1,
           qualified: str | None = None) -> decl.RecordLit:
    return decl.RecordLit(tuple(decl.Assign(k, v, P(line, col + 2), qualified) for k, v in assigns),
                          P(line, col), base)


def let(name: str, value: decl.ValueExpr, annotation: str | None = None, line: int = 9) -> decl.LetDecl:
    return decl.LetDecl(name, value, P(line, 5), ty(annotation) if annotation else None)


def script(*decls: decl.RecordDecl | decl.UnionDecl | decl.LetDecl) -> decl.Script:
    return decl.Script(F, decls)


def ir_error(*decls: decl.RecordDecl | decl.UnionDecl | decl.LetDecl) -> SchemaInputError:
    with pytest.raises(SchemaInputError) as exc:
        translate(script(*decls))
    return exc.value


ROLE = rec("Role", "id: int64; name: string", attr("PK", "id"), line=1)


def test_fsx_type_spellings_give_one_column_each() -> None:
    schema = translate(script(rec("T", "a: option<string>; b: Option<int64>; c: byte array; "
                                       "d: byte[] option; e: double; f: float option")))
    cols = [(c.name, c.type, c.notnull) for c in schema.tables[0].columns]
    assert cols == [("a", "TEXT", False), ("b", "INTEGER", False), ("c", "BLOB", True),
                    ("d", "BLOB", False), ("e", "REAL", True), ("f", "REAL", False)]


@pytest.mark.parametrize("text,fragment", [
    ("int", "int"), ("string list", "string list"), ("System.Int64", "System.Int64"),
    ("string option option", "string option option"), ("byte", "byte"), ("int64[]", "int64[]"),
])
def test_unsupported_fsx_types(text: str, fragment: str) -> None:
    error = ir_error(rec("T", f"x: {text}", line=3))
    assert (error.line, error.col) == (3, 20)
    assert "unsupported" in error.message and fragment in error.message and "T.x" in error.message


def test_product_type_is_unsupported() -> None:
    product = decl.TypeExpr("*", P(4, 8), "int64 * string", kind="product")
    d = decl.RecordDecl("T", (decl.FieldDecl("x", product, P(4, 5)),), P(3, 6))
    error = ir_error(d)
    assert (error.line, error.col) == (4, 8) and "int64 * string" in error.message


def test_forward_reference_needs_an_and_group() -> None:
    order = rec("Order", "id: int64; customer: Customer", attr("AutoIncPK", "id"), line=5)
    customer = rec("Customer", "id: int64", attr("AutoIncPK", "id"), line=9)
    error = ir_error(order, customer)
    assert (error.line, error.col) == (5, 21) and "before" in error.message and "Customer" in error.message
    grouped = translate(script(rec("Order", "id: int64; customer: Customer", attr("AutoIncPK", "id"), group=1),
                               rec("Customer", "id: int64", attr("AutoIncPK", "id"), group=1)))
    assert grouped.tables[0].foreign_keys == (ForeignKey(("customer_id",), "customer", ("id",)),)


def test_self_reference_is_allowed() -> None:
    schema = translate(script(rec("Node", "id: int64; parent: Node option", attr("PK", "id"))))
    assert schema.tables[0].foreign_keys == (ForeignKey(("parent_id",), "node", ("id",)),)


def test_no_record_is_an_error_at_1_1() -> None:
    error = ir_error(decl.UnionDecl("U", (decl.CaseDecl("A", (), P(2, 3)),), P(1, 6)))
    assert (error.line, error.col) == (1, 1) and "no record" in error.message


def test_unknown_attribute_and_ignored_ones() -> None:
    error = ir_error(rec("T", "x: int64", attr("Frobnicate", line=2, col=3)))
    assert (error.line, error.col) == (2, 3) and "unknown attribute" in error.message
    assert "Frobnicate" in error.message
    ok = translate(script(rec("T", "x: int64", attr("CLIMutable"), attr("Struct"), attr("NoEquality"))))
    assert ok.tables[0].name == "t"
    error = ir_error(rec("T", "x: int64", attr("Literal", line=2, col=3)))
    assert (error.line, error.col) == (2, 3) and "Literal" in error.message


@pytest.mark.parametrize("bad", [
    attr("PK", "a", "b", line=2, col=3),
    attr("Index", line=2, col=3),
    attr("SelectBy", "x", line=2, col=3, Order="x"),
    attr("SelectAll", line=2, col=3, OrderBy="x"),  # fine: not an error, checked below
])
def test_wrong_arguments_name_the_attribute(bad: decl.Attribute) -> None:
    if bad.name == "SelectAll":
        assert translate(script(rec("T", "x: int64", bad))).queries[0].order_by == "x"
        return
    error = ir_error(rec("T", "x: int64", bad))
    assert bad.name in error.message and error.line == 2


def test_join_base_aliases_and_output_columns() -> None:
    warehouse = rec("Warehouse", "id: int64; name: string", attr("AutoIncPK", "id"))
    bin_ = rec("Bin", "id: int64; code: string; warehouse: Warehouse", attr("AutoIncPK", "id"))
    box = rec("Box", "id: int64; label: string; bin: Bin", attr("AutoIncPK", "id"))
    view = rec("BinBoxes", "warehouseName: string; binCode: string; boxLabel: string",
               attr("View"), attr("Join", typeof=("Box", "Bin")), attr("Join", typeof=("Bin", "Warehouse")))
    schema = translate(script(warehouse, bin_, box, view))
    # Generated text quotes every identifier; its meaning is what counts here.
    assert canonical(schema.views[0].sql) == (
        "CREATE VIEW bin_boxes AS SELECT w.name AS warehouse_name, b.code AS bin_code, "
        "b2.label AS box_label FROM bin AS b JOIN box AS b2 ON b2.bin_id = b.id "
        "JOIN warehouse AS w ON b.warehouse_id = w.id")


def test_view_order_follows_dependencies_not_declaration() -> None:
    t = rec("T", "x: int64")
    top = rec("Top", "x: int64", attr("ViewSql", 'SELECT x FROM "middle"'))
    middle = rec("Middle", "x: int64", attr("ViewSql", "SELECT x FROM [bottom] -- reads top? no"))
    bottom = rec("Bottom", "x: int64", attr("ViewSql", "SELECT x FROM t WHERE 'top' <> ''"))
    assert [v.name for v in translate(script(t, top, middle, bottom)).views] == ["bottom", "middle", "top"]


@pytest.mark.parametrize("text,body", [
    ("\n  select x from t ;;\n", "select x from t"),
    ("SELECT Name AS Last, name||'!' FROM t", "SELECT Name AS Last, name||'!' FROM t"),
    ('SELECT "hello"  AS g\n  FROM t -- note', 'SELECT "hello"  AS g\n  FROM t -- note'),
    ("with a as (select 1 as x) select x from a;", "with a as (select 1 as x) select x from a"),
])
def test_viewsql_text_is_kept_as_written_trimmed_without_its_semicolon(text: str, body: str) -> None:
    schema = translate(script(rec("T", "x: int64"), rec("V", "x: int64", attr("ViewSql", text))))
    assert schema.views[0].sql == f'CREATE VIEW "v" AS {body}'


# The model keeps a default as it is emitted (§4.4), never in canonical form:
# `Schema.canonical()` alone normalizes, for comparisons and the hash.
@pytest.mark.parametrize("value,sql", [
    ("42", "42"), ("+7", "7"), ("-3", "-3"), (" 007 ", "7"), ("0.5", "0.5"), ("1e3", "1e3"),
    ("-2.", "-2."), (".5", ".5"), ("'it''s'", "'it''s'"), ("X'00ff'", "X'00ff'"), ("null", "NULL"),
    ("current_timestamp", "CURRENT_TIMESTAMP"), ("Current_Date", "CURRENT_DATE"), ("TRUE", "TRUE"),
    ("false", "FALSE"), ("active", "'active'"), ("draft_v2", "'draft_v2'"), ("  queued ", "'queued'"),
])
def test_default_values(value: str, sql: str) -> None:
    schema = translate(script(rec("T", "x: string", attr("Default", "x", value))))
    assert schema.tables[0].columns[0].default == sql


@pytest.mark.parametrize("text,sql", [
    ("datetime('now','localtime')", "datetime('now','localtime')"),
    ("  abs(-1) ", "abs(-1)"),
    ("CAST(0 AS TEXT)", "CAST(0 AS TEXT)"),
    ("replace('a-b','-','_')", "replace('a-b','-','_')"),
    ("strftime('%s',\n  'now')", "strftime('%s',\n  'now')"),
    ("(1+2)", "(1+2)"),
])
def test_default_expr_is_kept_as_written(text: str, sql: str) -> None:
    schema = translate(script(rec("T", "x: string", attr("DefaultExpr", "x", text))))
    assert schema.tables[0].columns[0].default == sql


def test_union_extension_naming_and_columns() -> None:
    member = rec("Member", "id: int64", attr("AutoIncPK", "id"))
    cases = (
        decl.CaseDecl("WithAvatar", (decl.CaseField("owner", ty("Member"), P()),
                                      decl.CaseField(None, ty("byte[]"), P()),
                                      decl.CaseField("Item3", ty("int64 option"), P())), P()),
        decl.CaseDecl("Withdrawal", (decl.CaseField(None, ty("Member"), P()),
                                      decl.CaseField("amount", ty("float"), P())), P()),
        decl.CaseDecl("Cash", (decl.CaseField(None, ty("float"), P()),
                                decl.CaseField(None, ty("string"), P())), P()),
    )
    schema = translate(script(member, decl.UnionDecl("Ext", cases, P(3, 6))))
    avatar, drawal = schema.tables[1:]
    assert avatar.name == "member_avatar" and drawal.name == "member_drawal"
    assert [(c.name, c.type, c.notnull) for c in avatar.columns] == [
        ("member_id", "INTEGER", True), ("value_1", "BLOB", True), ("value_2", "INTEGER", False)]
    assert avatar.primary_key == ("member_id",) and not avatar.autoincrement
    assert avatar.foreign_keys == (ForeignKey(("member_id",), "member", ("id",)),)


def test_renames_and_drops_become_intents() -> None:
    client = rec("Client", "id: int64", attr("AutoIncPK", "id"), attr("PreviousName", "Customer"),
                 attr("DropColumn", "faxNumber"), attr("DropTable", "audit_trail"))
    field = decl.FieldDecl("owner", ty("Client"), P(), (attr("PreviousName", "buyerId"),))
    purchase = decl.RecordDecl("Purchase", (field,), P())
    schema = translate(script(client, purchase))
    assert schema.rename_tables == (RenameTable("customer", "client"),)
    assert schema.rename_columns == (RenameColumn("purchase", "buyer_id", "owner_id"),)
    assert [d.name for d in schema.drop_tables] == ["audit_trail"]
    assert [(d.table, d.column) for d in schema.drop_columns] == [("client", "fax_number")]


# ---------------------------------------------------------------- seeds from IR

def test_seed_typing_rules_qualified_label_copy_and_update_and_names() -> None:
    setting = rec("Setting", "key: string; value: string option", attr("PK", "key"))
    other = rec("Other", "key: string; value: string option", attr("PK", "key"))
    theme = let("theme", record(("key", lit("theme")), ("value", decl.SomeLit(lit("dark"), P())),
                                qualified="Setting"))
    motd = let("motd", record(("key", lit("motd")), ("value", decl.NoneLit(P())), base="theme"))
    both = let("both", decl.ListLit((decl.NameRef("theme", P()), decl.NameRef("motd", P())), P()))
    again = let("again", decl.NameRef("both", P()))
    typed = let("typed", decl.ListLit((record(("key", lit("x")), ("value", decl.NoneLit(P()))),), P()),
                annotation="Other list")
    schema = translate(script(setting, other, theme, motd, both, again, typed))
    assert list(schema.seeds) == [SeedRow("setting", ("key", "value"), ("theme", "dark")),
                                  SeedRow("setting", ("key", "value"), ("motd", None)),
                                  SeedRow("other", ("key", "value"), ("x", None))]


def test_nested_reference_literal_gives_the_key_and_is_not_a_row() -> None:
    user = rec("User", "name: string; role: Role")
    row = let("u", record(("name", lit("ana")), ("role", record(("id", lit(7)), ("name", lit("admin"))))))
    assert translate(script(ROLE, user, row)).seeds == (SeedRow("user", ("name", "role_id"), ("ana", 7)),)


def test_unsuffixed_int_asks_for_L() -> None:
    error = ir_error(ROLE, let("r", record(("id", lit(12, "int", col=30)), ("name", lit("x")))))
    assert (error.line, error.col) == (9, 30) and "Role.id" in error.message and "int64" in error.message
    assert "12L" in error.message


def test_int64_literal_for_a_float_field() -> None:
    t = rec("Price", "amount: float")
    error = ir_error(t, let("p", record(("amount", lit(5, col=12)))))
    assert (error.line, error.col) == (9, 12) and "Price.amount" in error.message and "float" in error.message


def test_byte_array_values() -> None:
    t = rec("Blob", "data: byte[]")
    good = let("b", record(("data", decl.ListLit((lit(0, "byte"), lit(255, "byte")), P(), array=True))))
    assert translate(script(t, good)).seeds[0].values == (b"\x00\xff",)
    bad = let("b", record(("data", decl.ListLit((lit(0, "byte"),), P(9, 8), array=False))))
    assert "Blob.data" in ir_error(t, bad).message


@pytest.mark.parametrize("annotation", [None, "int64", "string", "Role", "Role list"])
def test_d1_let_of_a_plain_value(annotation: str | None) -> None:
    """D1 at the value, whatever the annotation says (`let n: int64 = 5L`)."""
    error = ir_error(ROLE, let("n", lit(5, col=16), annotation=annotation))
    assert (error.line, error.col) == (9, 16) and "record" in error.message
    error = ir_error(ROLE, let("n", decl.SomeLit(lit("x"), P(9, 16)), annotation=annotation))
    assert (error.line, error.col) == (9, 16) and "record" in error.message


def test_declarations_too_deep_for_python_are_a_one_line_error() -> None:
    """The translator's guard, for IR no parser limited (a front end of the future)."""
    node = rec("Node", "id: int64; parent: Node option", attr("PK", "id"))
    value: decl.ValueExpr = decl.NoneLit(P())
    for i in range(3000):
        value = decl.SomeLit(record(("id", lit(i)), ("parent", value)), P())
    error = ir_error(node, let("n", record(("id", lit(-1)), ("parent", value))))
    assert (error.line, error.col) == (1, 1) and "nested too deeply" in error.message


def test_d2_ambiguous_and_unknown_record_types() -> None:
    a = rec("A", "key: string")
    b = rec("B", "key: string")
    error = ir_error(a, b, let("x", record(("key", lit("k")), col=9)))
    assert (error.line, error.col) == (9, 9) and "ambiguous" in error.message
    error = ir_error(a, let("x", record(("nope", lit("k")), col=9)))
    assert (error.line, error.col) == (9, 9) and "record type" in error.message


def test_d3_missing_field_when_one_type_has_more() -> None:
    error = ir_error(ROLE, let("x", record(("id", lit(1)), col=9)))
    assert (error.line, error.col) == (9, 9) and "missing" in error.message and "Role.name" in error.message


def test_d4_label_given_twice() -> None:
    error = ir_error(ROLE, let("x", record(("id", lit(1)), ("id", lit(2)), ("name", lit("n")), col=4),
                                   annotation="Role"))
    assert error.col == 6 and "id" in error.message


def test_d6_name_that_is_not_an_earlier_binding() -> None:
    user = rec("User", "name: string; role: Role")
    error = ir_error(ROLE, user, let("u", record(("name", lit("a")), ("role", decl.NameRef("admin", P(9, 20))))))
    assert (error.line, error.col) == (9, 20) and "admin" in error.message
    error = ir_error(ROLE, let("rs", decl.ListLit((decl.NameRef("ghost", P(9, 11)),), P())))
    assert (error.line, error.col) == (9, 11) and "ghost" in error.message


def test_identical_rows_count_once_also_without_a_key() -> None:
    link = rec("Link", "a: string; b: string")
    row = record(("a", lit("x")), ("b", lit("y")))
    schema = translate(script(link, let("l1", row), let("l2", decl.ListLit((row, row), P()))))
    assert schema.seeds == (SeedRow("link", ("a", "b"), ("x", "y")),)


# ---------------------------------------------------------------- naming (§5.1)

@pytest.mark.parametrize("name,expected", [
    ("OrderLine", "order_line"), ("HTTPRequest", "http_request"), ("userID", "user_id"), ("ID", "id"),
    ("Id", "id"), ("IOStream", "io_stream"), ("myURLValue", "my_url_value"), ("address2Line", "address2line"),
    ("OAuth2Token", "o_auth2token"), ("already_snake", "already_snake"), ("Mixed_Case", "mixed_case"),
    ("ABCd", "ab_cd"), ("aB", "a_b"),
])
def test_snake_case_table(name: str, expected: str) -> None:
    assert snake(name) == expected
    assert translate(script(rec(name, "x: int64"))).tables[0].name == expected


def test_column_arguments_match_field_snake_and_camel_forms() -> None:
    owner = rec("Owner", "id: int64", attr("AutoIncPK", "id"))
    for arg in ("owner", "owner_id", "ownerId", "OWNERID"):
        pet = rec("Pet", "owner: Owner", attr("Index", arg))
        assert translate(script(owner, pet)).indexes[0].name == "ix_pet_owner_id"


@pytest.mark.parametrize("value", [None, 0, -7, 2**63 - 1, -2**63, 1.5, -0.25, 1e300, float("inf"),
                                   float("-inf"), "", "it's", "é\u0000x", b"", b"\x00\xff", "NULL"])
def test_a_sample_value_is_written_as_sql_that_reads_back_as_the_same_value(value: object) -> None:
    """Refusal samples show values as SQL, so an operator can paste them into a query."""
    import sqlite3

    from mig.sql.text import sql_literal
    row = sqlite3.connect(":memory:").execute(f"SELECT {sql_literal(value)}, typeof({sql_literal(value)})").fetchone()
    expected_type = {type(None): "null", int: "integer", float: "real", str: "text", bytes: "blob"}[type(value)]
    assert row == (value, expected_type)
