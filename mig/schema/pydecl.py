"""Python schema objects to declarations: what `schema.py` declared, as `decl` nodes.

Runtime objects say *what* was declared (which names are table classes,
which markers a class carries, which values a row holds); the syntax tree
says *where* (class names, fields, decorator arguments, keyword labels), so
every error the translator raises points at the user's text. Field and case
types are read from the tree and looked up in the namespace, so a forward
reference in quotes and an undeclared name are both seen for what they are.
No meaning is given here: that is `mig.schema.translate`'s job.
"""

from __future__ import annotations

import ast
import builtins
import re
import typing
from typing import Any

from mig import dsl
from mig.model import snake
from mig.schema import decl
from mig.schema.translate.common import camel
from mig.schema.translate.types import UNSUPPORTED_NAMES, unwrap

__all__ = ["MODULE", "Source", "script_of"]

MODULE = "__mig_schema__"  # the __name__ a schema file runs under

_SCALARS: dict[Any, tuple[str, tuple[str, ...]]] = {
    int: ("int64", ()), str: ("string", ()), float: ("float", ()), bytes: ("byte", ("[]",)),
}


class Source:
    """Positions in the schema text, in code points, 1-based."""

    def __init__(self, source: str, file: str) -> None:
        self.file = file
        self.lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self.text = source
        self.calls: dict[tuple[int, int], ast.Call] = {}

    def index_calls(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self.calls.setdefault((node.lineno, node.col_offset), node)

    def char_col(self, line: int, byte_col: int) -> int:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", "replace")) + 1

    def at(self, node: ast.AST) -> decl.Pos:
        line, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        return decl.Pos(self.file, line, self.char_col(line, col))

    def site(self, site: dsl.Site | None, fallback: decl.Pos) -> decl.Pos:
        if site is None or site[0] != self.file:
            return fallback
        return decl.Pos(self.file, site[1], self.char_col(site[1], site[2]) if site[2] is not None else 1)

    def call_at(self, site: dsl.Site | None) -> ast.Call | None:
        if site is None or site[0] != self.file or site[2] is None:
            return None
        return self.calls.get((site[1], site[2]))

    def segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ast.unparse(node)

    def fail(self, pos: decl.Pos, message: str) -> typing.NoReturn:
        raise decl.schema_error(pos, message)


def script_of(tree: ast.Module, ns: dict[str, Any], source: str, file: str) -> decl.Script:
    src = Source(source, file)
    src.index_calls(tree)
    reader = _Reader(src, ns)
    decls: list[decl.RecordDecl | decl.UnionDecl | decl.LetDecl] = []
    seen: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            if node.name in seen:
                src.fail(reader.class_pos(node), f"duplicate type name {node.name}")
            seen.add(node.name)
            d = reader.type_decl(node)
            if d is not None:
                decls.append(d)
    decls.extend(reader.lets(tree))
    return decl.Script(file, tuple(decls))


class _Reader:
    def __init__(self, src: Source, ns: dict[str, Any]) -> None:
        self.src, self.ns = src, ns
        self.field_types: dict[type, dict[str, decl.TypeExpr]] = {}

    # ------------------------------------------------------------ names

    def is_schema_class(self, obj: Any) -> bool:
        return isinstance(obj, type) and obj.__module__ == MODULE and obj.__qualname__ == obj.__name__

    def evaluate(self, node: ast.expr, fixed: decl.Pos | None = None) -> Any:
        expr = ast.fix_missing_locations(ast.Expression(body=node))
        try:
            return eval(compile(expr, self.src.file, "eval"), self.ns)  # noqa: S307 - the user's own file
        except Exception as exc:
            self.src.fail(fixed or self.src.at(node), f"{type(exc).__name__}: {exc}")

    def lookup(self, node: ast.expr) -> tuple[bool, Any]:
        """(found, value) of a Name or dotted Attribute, without failing on unknown names."""
        if isinstance(node, ast.Name):
            if node.id in self.ns:
                return True, self.ns[node.id]
            return (True, getattr(builtins, node.id)) if hasattr(builtins, node.id) else (False, None)
        if isinstance(node, ast.Attribute):
            found, base = self.lookup(node.value)
            if found and hasattr(base, node.attr):
                return True, getattr(base, node.attr)
        return False, None

    # ------------------------------------------------------------ classes

    def class_pos(self, node: ast.ClassDef) -> decl.Pos:
        line = self.src.lines[node.lineno - 1] if node.lineno <= len(self.src.lines) else ""
        m = re.compile(r"class\s+").search(line, self.src.char_col(node.lineno, node.col_offset) - 1)
        return decl.Pos(self.src.file, node.lineno, m.end() + 1 if m else 1)

    def type_decl(self, node: ast.ClassDef) -> decl.RecordDecl | decl.UnionDecl | None:
        cls = self.ns.get(node.name)
        if not self.is_schema_class(cls):
            return None  # rebound or deleted: not a declaration any more
        assert isinstance(cls, type)
        attrs = tuple(self.attribute(m, self.class_pos(node)) for m in dsl.attrs_of(cls))
        if issubclass(cls, dsl.Union):
            return decl.UnionDecl(node.name, self.cases(node, cls), self.class_pos(node), attrs)
        annotated = [s for s in node.body if isinstance(s, ast.AnnAssign)]
        if not annotated and not attrs:
            return None  # a helper class with no fields and no attributes
        is_view = any(a.name in ("View", "ViewSql") for a in attrs)
        fields = self.fields(node, is_view)
        if not fields:
            self.src.fail(self.class_pos(node), f"class {node.name} declares no fields; "
                                                "a record needs at least one `name: type`")
        self.field_types[cls] = {f.name: f.type for f in fields}
        return decl.RecordDecl(node.name, fields, self.class_pos(node), attrs)

    def fields(self, node: ast.ClassDef, is_view: bool) -> tuple[decl.FieldDecl, ...]:
        out: list[decl.FieldDecl] = []
        for stmt in node.body:
            if not isinstance(stmt, ast.AnnAssign):
                continue
            pos = self.src.at(stmt.target)
            if not isinstance(stmt.target, ast.Name):
                self.src.fail(pos, f"a field of {node.name} is written `name: type`")
            name = stmt.target.id
            if stmt.value is not None:
                self.src.fail(pos, f"field {node.name}.{name} has a value; declare a default "
                                   f'with @Default("{name}", …) on the class')
            if any(f.name == name for f in out):
                self.src.fail(pos, f"duplicate field {name} in {node.name}")
            markers: list[tuple[dsl.Marker, ast.expr, decl.Pos]] = []
            type_expr = self.type_expr(stmt.annotation, markers)
            attrs = tuple(self.attribute(m, p, n, fixed=p != self.src.at(n)) for m, n, p in markers)
            if is_view and snake(camel(name)) == name:
                name = camel(name)  # the view-column rules of §4.8 read camelCase
            out.append(decl.FieldDecl(name, type_expr, pos, attrs))
        return tuple(out)

    # ------------------------------------------------------------ types

    def type_expr(self, node: ast.expr, markers: list[tuple[dsl.Marker, ast.expr, decl.Pos]],
                  fixed: decl.Pos | None = None) -> decl.TypeExpr:
        """A Python annotation as the F# type it stands for.

        `fixed`: inside a quoted annotation, every part is reported at the quote.
        """
        pos = fixed or self.src.at(node)
        text = ast.unparse(node) if fixed else self.src.segment(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                inner = ast.parse(node.value.strip(), mode="eval").body
            except SyntaxError:
                return decl.TypeExpr(node.value, pos, node.value, kind="product")
            return self.type_expr(inner, markers, pos)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self._option([node.left, node.right], text, pos, markers, fixed)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, text, pos, markers, fixed)
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self._named(node, text, pos)
        return decl.TypeExpr(text, pos, text, kind="product")

    def _named(self, node: ast.Name | ast.Attribute, text: str, pos: decl.Pos) -> decl.TypeExpr:
        found, obj = self.lookup(node)
        if not found:
            return decl.TypeExpr(text, pos, text)  # undeclared (T2) or dotted (T1)
        if obj in _SCALARS:
            name, postfix = _SCALARS[obj]
            return decl.TypeExpr(name, pos, text, postfix=postfix)
        if self.is_schema_class(obj):
            return decl.TypeExpr(obj.__name__, pos, text)
        if text in UNSUPPORTED_NAMES:
            return decl.TypeExpr(text, pos, text)
        qual = f"{getattr(obj, '__module__', 'object')}.{getattr(obj, '__qualname__', type(obj).__name__)}"
        return decl.TypeExpr(qual, pos, text)  # a dotted name: unsupported

    def _option(self, parts: list[ast.expr], text: str, pos: decl.Pos,
                markers: list[tuple[dsl.Marker, ast.expr, decl.Pos]], fixed: decl.Pos | None) -> decl.TypeExpr:
        """`X | None`, `Optional[X]`, `Union[X, None]`: X with one more `option`."""
        others = [p for p in parts if not (isinstance(p, ast.Constant) and p.value is None)]
        if len(parts) != 2 or len(others) != 1:
            return decl.TypeExpr(text, pos, text, kind="product")
        inner = self.type_expr(others[0], markers, fixed)
        return decl.TypeExpr("option", pos, text, args=(inner,))  # F#'s option<X>

    def _subscript(self, node: ast.Subscript, text: str, pos: decl.Pos,
                   markers: list[tuple[dsl.Marker, ast.expr, decl.Pos]], fixed: decl.Pos | None) -> decl.TypeExpr:
        _, origin = self.lookup(node.value)
        items = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if origin is typing.Optional and len(items) == 1:
            return self._option([items[0], ast.Constant(None)], text, pos, markers, fixed)
        if origin is typing.Union:
            return self._option(items, text, pos, markers, fixed)
        if origin is typing.Annotated and len(items) >= 2:
            for meta in items[1:]:
                value = self.evaluate(meta, fixed)
                if isinstance(value, dsl.Marker):
                    markers.append((value, meta, fixed or self.src.at(meta)))
            inner = self.type_expr(items[0], markers, fixed)
            return decl.TypeExpr(inner.name, inner.pos, text, inner.args, inner.postfix, inner.kind)
        name = ast.unparse(node.value)
        return decl.TypeExpr(name, pos, text, args=tuple(self.type_expr(i, markers, fixed) for i in items))

    # ------------------------------------------------------------ attributes

    def attribute(self, marker: dsl.Marker, fallback: decl.Pos, call_node: ast.expr | None = None,
                  fixed: bool = False) -> decl.Attribute:
        """`fixed`: written inside a quoted annotation, so everything is reported at `fallback`."""
        call = None if fixed else call_node if isinstance(call_node, ast.Call) \
            else self.src.call_at(marker.site)
        pos = self.src.at(call) if call is not None else \
            fallback if fixed else self.src.site(marker.site, fallback)
        arg_nodes = list(call.args) if call is not None else []
        kw_nodes = {k.arg: k for k in call.keywords} if call is not None else {}
        args = []
        for i, value in enumerate(marker.args):
            node = arg_nodes[i] if i < len(arg_nodes) and not isinstance(arg_nodes[i], ast.Starred) else None
            args.append(self._arg(value, self.src.at(node) if node is not None else pos))
        for key, value in marker.kwargs.items():
            kw = kw_nodes.get(key) or kw_nodes.get("order_by" if key == "OrderBy" else key)
            args.append(self._arg(value, self.src.at(kw.value) if kw is not None else pos,
                                  "OrderBy" if key in ("OrderBy", "order_by") else key))
        return decl.Attribute(marker.name, tuple(args), pos, parens=call is not None)

    def _arg(self, value: Any, pos: decl.Pos, name: str | None = None) -> decl.AttrArg:
        if isinstance(value, str):
            return decl.AttrArg("str", value, pos, name)
        if isinstance(value, type):
            return decl.AttrArg("typeof", value.__name__, pos, name)
        return decl.AttrArg("value", repr(value), pos, name)

    # ------------------------------------------------------------ unions

    def cases(self, node: ast.ClassDef, cls: type) -> tuple[decl.CaseDecl, ...]:
        out = []
        for stmt in node.body:
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)):
                continue
            name = stmt.targets[0].id
            if not isinstance(cls.__dict__.get(name), dsl.Case):
                continue
            if not isinstance(stmt.value, ast.Call):
                self.src.fail(self.src.at(stmt), f"write the case {cls.__name__}.{name} as "
                                                 f"`{name} = Case(...)`")
            out.append(decl.CaseDecl(name, self.case_fields(stmt.value), self.src.at(stmt.targets[0])))
        return tuple(out)

    def case_fields(self, call: ast.Call) -> tuple[decl.CaseField, ...]:
        out = []
        for arg in call.args:
            name: str | None = None
            type_node = arg
            if isinstance(arg, ast.Tuple) and len(arg.elts) == 2 and isinstance(arg.elts[0], ast.Constant) \
                    and isinstance(arg.elts[0].value, str):
                name, type_node = arg.elts[0].value, arg.elts[1]
            out.append(decl.CaseField(name, self.type_expr(type_node, []), self.src.at(arg)))
        for kw in call.keywords:
            out.append(decl.CaseField(kw.arg, self.type_expr(kw.value, []), self.src.at(kw)))
        return tuple(out)

    # ------------------------------------------------------------ seeds

    def lets(self, tree: ast.Module) -> list[decl.LetDecl]:
        bound: dict[str, tuple[decl.Pos, ast.expr | None]] = {}
        for stmt in tree.body:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else \
                [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
            for t in targets:
                if isinstance(t, ast.Name):
                    bound.setdefault(t.id, (self.src.at(t), getattr(stmt, "value", None)))
        out = []
        for name, value in self.ns.items():
            pos, node = bound.get(name, (decl.Pos(self.src.file, 1, 1), None))
            if dsl.is_row(value):
                out.append(decl.LetDecl(name, self.record(value, pos), pos))
            elif isinstance(value, (list, tuple)) and any(dsl.is_row(v) for v in value):
                written = node.elts if isinstance(node, (ast.List, ast.Tuple)) else []
                at = [self.src.at(n) for n in written] if len(written) == len(value) else [pos] * len(value)
                items = tuple(self.value(v, None, p) for v, p in zip(value, at))
                out.append(decl.LetDecl(name, decl.ListLit(items, pos), pos))
        return out

    def record(self, row: Any, fallback: decl.Pos) -> decl.RecordLit:
        site = dsl.record_site(row)
        pos = self.src.site(site, fallback)
        call = self.src.call_at(site)
        keywords = {k.arg: k for k in call.keywords} if call is not None else {}
        types = self.field_types.get(type(row), {})
        assigns = []
        for label, value in dsl.record_values(row).items():
            kw = keywords.get(label)
            label_pos = self.src.at(kw) if kw is not None else pos
            value_pos = self.src.at(kw.value) if kw is not None else pos
            field = camel(label) if label not in types and camel(label) in types else label
            assigns.append(decl.Assign(field, self.value(value, types.get(field), value_pos), label_pos))
        return decl.RecordLit(tuple(assigns), pos, type_name=type(row).__name__)

    def value(self, v: Any, t: decl.TypeExpr | None, pos: decl.Pos) -> decl.ValueExpr:
        """A Python value as the literal F# would need for a field of type `t`."""
        shape = unwrap(t) if t is not None else None
        if v is None:
            return decl.NoneLit(pos)
        if shape is not None and shape[1][-1:] == ("option",):
            inner = decl.TypeExpr(shape[0].name, pos, shape[0].text, postfix=_postfix(shape[1][:-1]))
            return decl.SomeLit(self.value(v, inner, pos), pos)
        if dsl.is_row(v):
            return self.record(v, pos)
        if isinstance(v, bool):
            return decl.Lit("bool", v, pos)
        if isinstance(v, int):
            as_float = shape is not None and shape[0].name in ("float", "double")
            return decl.Lit("float", float(v), pos) if as_float else decl.Lit("int64", v, pos)
        if isinstance(v, float):
            return decl.Lit("float", v, pos)
        if isinstance(v, str):
            return decl.Lit("str", v, pos)
        if isinstance(v, (bytes, bytearray)):
            return decl.ListLit(tuple(decl.Lit("byte", b, pos) for b in v), pos, array=True)
        if isinstance(v, (list, tuple)):
            return decl.ListLit(tuple(self.value(x, None, pos) for x in v), pos)
        return decl.Lit(type(v).__name__, repr(v), pos)


def _postfix(wraps: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("[]" if w == "array" else w for w in wraps)
