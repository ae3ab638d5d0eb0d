"""The `schema.fsx` parser: tokens to declarations (docs/fsx.md §2, errors S1/S2 of §6).

Hand-written recursive descent rather than a grammar tool such as lark:
- the errors are part of the contract: §6 fixes the position (a token's
  first character, an attribute's first name part, a record's ``{``) and the
  words each message must contain, and one hand-written function per rule is
  the simplest way to say "unexpected `x`" or "… is not supported" exactly
  there, instead of translating a generic parser's expected-token sets;
- line breaks are separators in some places only (between items inside
  ``{ }``, ``[ ]``, ``[| |]``; a postfix type word must be on the same line),
  which a context-free grammar over a token stream cannot say cheaply;
- the subset is small, and mig takes no dependency for it.

The parser produces ``mig.schema.decl`` nodes and resolves ``[<Literal>]``
string constants on the way (they are substituted into later attribute
arguments and string seed values and are not declarations themselves).
Meaning (types, attribute names and arguments, seed values) is checked by
``mig.schema.translate``; attributes F# uses for other purposes
(``CLIMutable`` …) are kept for it to ignore.

Where an F# construct outside the subset is refused (S2), the position is
the first token of the unsupported part: ``<`` of ``type Box<'a>``, ``(`` of
``type C() =``, the aliased type of ``type Email = string``, the case name of
``| Red = 1``, ``with`` of ``… with member …`` (``member`` when it follows
without ``with``), ``rec``/``mutable``/``inline``
of a let, the name of ``let f x``, the function of a call, ``for``/``yield``
of a comprehension, the first value of a range, the ``,`` between list
items, and the keyword of ``namespace``, ``exception``, ``do``, a nested
``module``.
"""

from __future__ import annotations

from typing import NoReturn

from mig.errors import SchemaInputError
from mig.schema.decl import (
    Attribute,
    CaseDecl,
    CaseField,
    FieldDecl,
    LetDecl,
    RecordDecl,
    Script,
    UnionDecl,
    schema_error,
)
from mig.schema.fsx.attrs import parse_attr_lists, parse_str_arg
from mig.schema.fsx.cursor import Cursor, describe
from mig.schema.fsx.lexer import Token, lex
from mig.schema.fsx.types import parse_case_type, parse_type
from mig.schema.fsx.values import parse_value

__all__ = ["parse_script"]

Decl = RecordDecl | UnionDecl | LetDecl

_TOP_LEVEL_UNSUPPORTED = {
    "namespace": "`namespace` is",
    "exception": "`exception` declarations are",
    "do": "`do` bindings are",
}
_CLASS_WORDS = frozenset({"class", "interface", "struct", "delegate", "abstract", "member",
                          "new", "val", "inherit", "static", "default", "override", "begin"})
# What may follow a record or union body in F# to give it members, with or
# without `with` (`… with member …`, or `member …` on the next lines).
_MEMBER_WORDS = frozenset({"member", "static", "override", "abstract", "default", "interface",
                           "val", "new", "inherit"})
_LET_MODIFIERS = {"rec": "`let rec` is", "mutable": "`let mutable` is",
                  "inline": "`let inline` is"}


def parse_script(text: str, file: str) -> Script:
    """Lex, check brackets, parse: the first error of §6's precedence is raised."""
    tokens, warnings = lex(text, file)
    decls = _Parser(Cursor(tokens, file)).script()
    return Script(file, tuple(decls), tuple(warnings))


class _Parser:
    def __init__(self, cur: Cursor) -> None:
        self.cur = cur
        self.literals: dict[str, str] = {}
        self.group = 0
        self.module_allowed = True

    # ------------------------------------------------------------ top level
    def script(self) -> list[Decl]:
        decls: list[Decl] = []
        cur = self.cur
        while not cur.at_eof():
            if cur.at("open"):
                self.open_()
            elif cur.at("module"):
                self.module()
            elif cur.at("[<") or cur.at("type") or cur.at("let"):
                decls.extend(self.declaration())
            else:
                raise self.top_level_error(cur.peek())
        return decls

    def top_level_error(self, tok: Token) -> SchemaInputError:
        if tok.kind == "kw" and tok.text in _TOP_LEVEL_UNSUPPORTED:
            return self.cur.unsupported(tok, _TOP_LEVEL_UNSUPPORTED[tok.text])
        if tok.kind in ("kw", "sym", "eof"):
            return self.cur.unexpected(tok, "expected `type`, `let`, `open` or attributes")
        return self.cur.error(tok, f"unexpected {describe(tok)}: top-level expressions are not "
                                   "supported in schema.fsx (only `type`, `let`, `open`, "
                                   "`module` and directives)")

    def open_(self) -> None:
        self.cur.next()
        if self.cur.at("type"):
            self.cur.next()
        self.cur.dotted(self.cur.expect_name("a namespace or module name after `open`"))

    def module(self) -> None:
        tok = self.cur.next()
        self.cur.skip_access()
        self.cur.dotted(self.cur.expect_name("a module name"))
        if self.cur.at("="):
            raise self.cur.unsupported(tok, "nested modules (`module X =`) are")
        if not self.module_allowed:
            raise self.cur.unsupported(tok, "`module` after a declaration, or a second "
                                            "`module`, is")
        self.module_allowed = False

    def declaration(self) -> list[Decl]:
        start = self.cur.peek()
        attrs = parse_attr_lists(self.cur, self.literals)
        self.module_allowed = False
        if self.cur.at("type"):
            return self.type_group(attrs)
        if self.cur.at("let"):
            let = self.let(attrs)
            return [let] if let is not None else []
        raise self.cur.unexpected(start, "an attribute list must be followed by `type` or `let` "
                                         f"(found {describe(self.cur.peek())})")

    # ------------------------------------------------------------ types
    def type_group(self, attrs: tuple[Attribute, ...]) -> list[Decl]:
        self.group += 1
        self.cur.next()
        decls: list[Decl] = [self.type_def(attrs)]
        while self.cur.at("and"):
            self.cur.next()
            decls.append(self.type_def(()))
        return decls

    def type_def(self, attrs: tuple[Attribute, ...]) -> RecordDecl | UnionDecl:
        cur = self.cur
        attrs = attrs + parse_attr_lists(cur, self.literals)
        cur.skip_access()
        name_tok = cur.expect_name("a type name")
        if cur.at("<"):
            raise cur.unsupported(cur.peek(), "generic types are")
        if cur.at("("):
            raise cur.unsupported(cur.peek(), "classes (`type C(…) =`) are")
        cur.expect("=", "expected `=` after the type name")
        cur.skip_access()
        decl = self.type_body(name_tok, attrs)
        if cur.at("with"):
            raise cur.unsupported(cur.peek(), "members (`with member …`) are")
        tok = cur.peek()
        if tok.kind == "kw" and tok.text in _MEMBER_WORDS:
            raise cur.unsupported(tok, f"members (`{tok.text} …` in a type) are")
        return decl

    def type_body(self, name_tok: Token, attrs: tuple[Attribute, ...]) -> RecordDecl | UnionDecl:
        cur = self.cur
        tok = cur.peek()
        if cur.at("{"):
            return self.record(name_tok, attrs)
        if cur.at("|") or (cur.at_name() and (cur.at("of", 1) or cur.at("|", 1))):
            return self.union(name_tok, attrs)
        if cur.at("[<"):
            self.union_case_attribute()
        if tok.kind == "kw" and tok.text in _CLASS_WORDS:
            raise cur.unsupported(tok, f"classes, interfaces and structs (`{tok.text}`) are")
        if tok.kind in ("name", "tyvar") or cur.at("("):
            raise cur.unsupported(tok, f"type abbreviations (`type {name_tok.value} = "
                                       f"{tok.text} …`) are")
        if tok.kind in ("int64", "int"):
            raise cur.unsupported(tok, "enums are")
        raise cur.unexpected(tok, "expected a record `{ … }` or a union `| Case …`")

    def record(self, name_tok: Token, attrs: tuple[Attribute, ...]) -> RecordDecl:
        open_tok = self.cur.next()
        fields = self.cur.items("}", self.field, "fields")
        if not fields:
            raise self.cur.error(open_tok, f"a record without fields ({name_tok.value}) "
                                           "is not supported")
        return RecordDecl(str(name_tok.value), tuple(fields), self.cur.pos(name_tok), attrs,
                          self.group)

    def field(self) -> FieldDecl:
        cur = self.cur
        attrs = parse_attr_lists(cur, self.literals)
        if cur.at("mutable"):
            cur.next()
        name_tok = cur.expect_name("a field name")
        cur.expect(":", "expected `:` and the field's type")
        return FieldDecl(str(name_tok.value), parse_type(cur), cur.pos(name_tok), attrs)

    def union(self, name_tok: Token, attrs: tuple[Attribute, ...]) -> UnionDecl:
        cur = self.cur
        if cur.at("|"):
            cur.next()
        cases = [self.case()]
        while cur.at("|"):
            cur.next()
            cases.append(self.case())
        return UnionDecl(str(name_tok.value), tuple(cases), cur.pos(name_tok), attrs, self.group)

    def case(self) -> CaseDecl:
        cur = self.cur
        if cur.at("[<"):
            self.union_case_attribute()
        tok = cur.expect_name("a union case name")
        if cur.at("="):
            raise cur.unsupported(tok, f"enums (`| {tok.value} = …`) are")
        fields: list[CaseField] = []
        if cur.at("of"):
            cur.next()
            fields.append(self.case_field())
            while cur.at("*"):
                cur.next()
                fields.append(self.case_field())
        return CaseDecl(str(tok.value), tuple(fields), cur.pos(tok))

    def case_field(self) -> CaseField:
        cur = self.cur
        name = None
        first = cur.peek()
        if cur.at_name() and cur.at(":", 1):
            name = str(cur.next().value)
            cur.next()
        return CaseField(name, parse_case_type(cur), cur.pos(first))

    def union_case_attribute(self) -> NoReturn:
        a = parse_attr_lists(self.cur, self.literals)[0]
        raise _attr_error(a, f"attribute `{a.name}` on a union case is not supported: "
                             "attributes on union cases are an error")

    # ------------------------------------------------------------ let
    def let(self, attrs: tuple[Attribute, ...]) -> LetDecl | None:
        cur = self.cur
        cur.next()
        literal = self.let_attributes(attrs)
        if cur.peek().kind == "kw" and cur.peek().text in _LET_MODIFIERS:
            raise cur.unsupported(cur.peek(), _LET_MODIFIERS[cur.peek().text])
        cur.skip_access()
        if cur.at("(") or cur.peek().kind in ("str", "int64", "int", "float", "byte"):
            raise cur.unsupported(cur.peek(), "patterns in `let` are")
        name_tok = cur.expect_name("a name after `let`")
        self.check_plain_binding(name_tok)
        annotation = None
        if cur.at(":"):
            cur.next()
            annotation = parse_type(cur)
        cur.expect("=", "expected `=` in the let binding")
        name = str(name_tok.value)
        if literal:
            self.literal(name)
            return None
        value = parse_value(cur, self.literals)
        self.literals.pop(name, None)  # a later binding shadows the constant
        return LetDecl(name, value, cur.pos(name_tok), annotation)

    def let_attributes(self, attrs: tuple[Attribute, ...]) -> bool:
        for i, a in enumerate(attrs):
            if a.name != "Literal":
                raise _attr_error(a, f"attribute `{a.name}` is not allowed on `let` "
                                     "(only [<Literal>])")
            if a.args:
                raise _attr_error(a, "attribute `Literal` takes no arguments")
            if i > 0:
                raise _attr_error(a, "attribute `Literal` is given more than once on one `let`")
        return bool(attrs)

    def check_plain_binding(self, name_tok: Token) -> None:
        cur = self.cur
        if name_tok.value == "_":
            raise cur.unsupported(name_tok, "patterns in `let` (`_`) are")
        if cur.at(",") or cur.at("as") or cur.at("|"):
            raise cur.unsupported(cur.peek(), "patterns in `let` are")
        if not (cur.at(":") or cur.at("=")) and cur.same_line():
            raise cur.unsupported(name_tok, f"functions (`let {name_tok.value} …`) are")

    def literal(self, name: str) -> None:
        cur = self.cur
        tok = cur.peek()
        if tok.kind != "str" and not (tok.kind == "name" and tok.value in self.literals):
            raise cur.unsupported(tok, "[<Literal>] constants other than strings are")
        value, _ = parse_str_arg(cur, self.literals, "Literal")
        self.literals[name] = value




def _attr_error(a: Attribute, message: str) -> SchemaInputError:
    return schema_error(a.pos, message)
