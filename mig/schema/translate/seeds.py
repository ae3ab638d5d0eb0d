"""Seed data (docs/fsx.md §4.10): let bindings become the rows the new database
must hold once migration completes.

Record literals are typed by the first rule that applies (copy-and-update
base, qualified label or front-end type, annotation, enclosing field, exact
labels), every field is checked against its type, and references become the
referenced record's key. A nested literal only supplies a key; it is never a
row itself. Errors D1–D7.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mig.model import SeedRow
from mig.schema import decl
from mig.schema.translate.common import Ctx, FieldInfo, RecordInfo, fail
from mig.sql.values import Value

__all__ = ["seed_rows"]

_WANT = {"int64": "an int64", "float": "a float (like 5.0)", "string": "a string",
         "bytes": "a byte[]"}
_LIST_POSTFIX = (("list",), ("[]",), ("array",))


@dataclass
class _Row:
    rec: RecordInfo
    values: dict[str, Value]  # by field name
    pos: decl.Pos


@dataclass
class _Binding:
    rec: RecordInfo | None  # None only for an empty, unannotated list
    rows: list[_Row]
    single: bool


def seed_rows(ctx: Ctx) -> list[SeedRow]:
    seeds = _Seeds(ctx)
    for d in ctx.script.decls:
        if isinstance(d, decl.LetDecl):
            seeds.let(d)
    return seeds.model_rows()


class _Seeds:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.bindings: dict[str, _Binding] = {}
        self.rows: list[_Row] = []

    # ------------------------------------------------------------ bindings

    def let(self, d: decl.LetDecl) -> None:
        if d.name in self.bindings:
            fail(d.pos, f"duplicate binding {d.name}")
        v = d.value
        if not isinstance(v, (decl.RecordLit, decl.ListLit, decl.NameRef)):
            # D1 at the value, before the annotation: `let n: int64 = 5L` is a
            # plain value, whatever it is annotated with.
            fail(v.pos, f"seed binding {d.name} must be a record, a list or array of records, "
                        "or an earlier binding; other values are not supported")
        want, single = self._annotation(d.annotation) if d.annotation else (None, None)
        if isinstance(v, decl.RecordLit) and single is not False:
            row = self._record(v, want)
            binding = _Binding(row.rec, [row], True)
        elif isinstance(v, decl.ListLit) and single is not True:
            binding = self._list(v, want)
        elif isinstance(v, decl.NameRef):
            src = self._binding(v.name, v.pos, want, single)
            binding = _Binding(src.rec, list(src.rows), src.single)
        else:
            shape = {None: "a record, a list or array of records, or an earlier binding",
                     True: "one record", False: "a list of records"}[single]
            fail(v.pos, f"seed binding {d.name} must be {shape}")
        self.bindings[d.name] = binding
        self.rows.extend(binding.rows)

    def _annotation(self, t: decl.TypeExpr) -> tuple[RecordInfo, bool]:
        """`T`, `T list`, `list<T>`, `T[]`, `T array`, with T a table record."""
        inner: decl.TypeExpr | None = None
        if t.name == "list" and len(t.args) == 1 and not t.postfix:
            inner, single = t.args[0], False
        elif not t.args and (t.postfix == () or t.postfix in _LIST_POSTFIX):
            inner, single = decl.TypeExpr(t.name, t.pos, t.name), t.postfix == ()
        if inner is None or inner.args or inner.postfix:
            fail(t.pos, f"annotation `{t.text}` must name a table record type: T, T list, "
                        "list<T>, T[] or T array")
        return self._table(inner.name, inner.pos), single

    def _table(self, name: str, pos: decl.Pos) -> RecordInfo:
        rec = self.ctx.records.get(name)
        if rec is None:
            fail(pos, f"record type {name} is not declared")
        if rec.is_view:
            fail(pos, f"record type {name} is a view; views cannot be seeded")
        return rec

    def _binding(self, name: str, pos: decl.Pos, want: RecordInfo | None,
                 single: bool | None) -> _Binding:
        b = self.bindings.get(name)
        if b is None:
            fail(pos, f"`{name}` is not an earlier seed binding")
        if want is not None and b.rec is not None and b.rec is not want:
            fail(pos, f"`{name}` holds {b.rec.type_name} records, not {want.type_name}")
        if single is not None and b.single != single:
            fail(pos, f"`{name}` is {'one record' if b.single else 'a list'}, "
                      f"not {'one record' if single else 'a list'}")
        return b

    def _list(self, v: decl.ListLit, want: RecordInfo | None) -> _Binding:
        rec, rows = want, []
        for item in v.items:
            if isinstance(item, decl.RecordLit):
                row = self._record(item, want)
            elif isinstance(item, decl.NameRef):
                row = self._binding(item.name, item.pos, want, True).rows[0]
            else:
                fail(item.pos, "a list item must be a record literal or the name of an earlier "
                               "single-record binding")
            if rec is not None and row.rec is not rec:
                fail(item.pos, f"record type {row.rec.type_name} in a list of {rec.type_name}: "
                               "a list holds one record type")
            rec = row.rec
            rows.append(row)
        return _Binding(rec, rows, False)

    # ------------------------------------------------------------ records

    def _record(self, lit: decl.RecordLit, hint: RecordInfo | None) -> _Row:
        rec = self._record_type(lit, hint)
        if hint is not None and rec is not hint:
            fail(lit.pos, f"record type {rec.type_name} where a {hint.type_name} is expected")
        values: dict[str, Value] = dict(self.bindings[lit.base].rows[0].values) if lit.base else {}
        seen: set[str] = set()
        for a in lit.assigns:
            if a.type_name is not None and a.type_name != rec.type_name:
                fail(a.pos, f"label {a.type_name}.{a.label} in a {rec.type_name} record")
            f = rec.field(a.label)
            if f is None:
                fail(a.pos, f"{a.label} is not a field of {rec.type_name}")
            if a.label in seen:
                fail(a.pos, f"field {a.label} is given twice")
            seen.add(a.label)
            values[f.name] = self._value(rec, f, a.value)
        missing = [f"{rec.type_name}.{f.name}" for f in rec.fields if f.name not in values]
        if missing:
            fail(lit.pos, f"record literal is missing {', '.join(missing)}")
        return _Row(rec, values, lit.pos)

    def _record_type(self, lit: decl.RecordLit, hint: RecordInfo | None) -> RecordInfo:
        if lit.base is not None:
            base = self._binding(lit.base, lit.pos, None, True)
            assert base.rec is not None
            return base.rec
        qualified = next((a.type_name for a in lit.assigns if a.type_name), None)
        name = lit.type_name or qualified
        if name is not None:
            return self._table(name, lit.pos)
        if hint is not None:
            return hint
        labels = {a.label for a in lit.assigns}
        records = list(self.ctx.records.values())
        exact = [r for r in records if {f.name for f in r.fields} == labels]
        if len(exact) > 1:
            fail(lit.pos, f"ambiguous record literal: record types {' and '.join(r.type_name for r in exact)} "
                          "have exactly these fields; annotate the binding (let x: T = …) or qualify "
                          "a label ({ T.field = … })")
        if exact:
            return self._table(exact[0].type_name, lit.pos)
        wider = [r for r in records if labels < {f.name for f in r.fields}]
        if len(wider) == 1:
            missing = [f"{wider[0].type_name}.{f.name}" for f in wider[0].fields if f.name not in labels]
            fail(lit.pos, f"record literal is missing {', '.join(missing)}")
        fail(lit.pos, f"no record type has exactly the fields {', '.join(sorted(labels))}")

    # ------------------------------------------------------------ values

    def _value(self, rec: RecordInfo, f: FieldInfo, v: decl.ValueExpr) -> Value:
        where = f"{rec.type_name}.{f.name}"
        if f.nullable:
            if isinstance(v, decl.NoneLit):
                return None
            if isinstance(v, decl.SomeLit):
                return self._plain(f, v.value, where)
            fail(v.pos, f"{where} is an option of {self._want(f)}: write None or Some value")
        if isinstance(v, (decl.NoneLit, decl.SomeLit)):
            fail(v.pos, f"{where} is not an option: it needs {self._want(f)}")
        return self._plain(f, v, where)

    def _want(self, f: FieldInfo) -> str:
        if f.ref is not None:
            return f"a {f.ref} record"
        assert f.scalar is not None
        return _WANT[f.scalar]

    def _plain(self, f: FieldInfo, v: decl.ValueExpr, where: str) -> Value:
        if f.ref is not None:
            return self._key_of(self.ctx.records[f.ref], v, where)
        if f.scalar == "bytes" and isinstance(v, decl.ListLit) and v.array:
            return bytes(self._byte(item, where) for item in v.items)
        if isinstance(v, decl.Lit):
            got = _scalar(f.scalar, v)
            if got is not None:
                return got
            if v.kind == "int64" and f.scalar == "int64":
                fail(v.pos, f"{where}: {v.value} is outside the int64 range")
            if v.kind == "int" and f.scalar == "int64":
                fail(v.pos, f"{where} needs an int64: write {v.value}L")
        fail(v.pos, f"{where} needs {self._want(f)}")

    def _byte(self, item: decl.ValueExpr, where: str) -> int:
        if isinstance(item, decl.Lit) and item.kind == "byte" and isinstance(item.value, int) \
                and 0 <= item.value <= 255:
            return item.value
        fail(item.pos, f"{where} needs a byte[]: each item is a byte like 0uy or 0xFFuy")

    def _key_of(self, target: RecordInfo, v: decl.ValueExpr, where: str) -> Value:
        assert target.key is not None
        if isinstance(v, decl.RecordLit):
            return self._record(v, target).values[target.key.name]
        if isinstance(v, decl.NameRef):
            b = self.bindings.get(v.name)
            if b is None or not b.single or b.rec is not target:
                fail(v.pos, f"`{v.name}` is not an earlier binding of one {target.type_name} "
                            f"record ({where} references {target.type_name})")
            return b.rows[0].values[target.key.name]
        fail(v.pos, f"{where} needs a {target.type_name} record: a record literal or the name "
                    f"of an earlier {target.type_name} binding")

    # ------------------------------------------------------------ rows

    def model_rows(self) -> list[SeedRow]:
        """Identical rows count once; two different rows with one key conflict (D7)."""
        out: list[SeedRow] = []
        seen: dict[tuple[str, Any], Any] = {}
        for row in self.rows:
            rec = row.rec
            values = tuple(row.values[f.name] for f in rec.fields)
            ident = _typed(values)
            key = _typed((row.values[rec.key.name],)) if rec.key else ident
            prev = seen.get((rec.name, key))
            if prev is None:
                seen[(rec.name, key)] = ident
                out.append(SeedRow(rec.name, tuple(f.column for f in rec.fields), values))
            elif prev != ident:
                assert rec.key is not None
                fail(row.pos, f"conflict: two different seed rows in table {rec.name} with key "
                              f"{rec.key.column} = {row.values[rec.key.name]!r}")
        return out


def _scalar(kind: str | None, v: decl.Lit) -> Value:
    if kind == "int64" and v.kind == "int64" and isinstance(v.value, int) \
            and -(2**63) <= v.value < 2**63:
        return v.value
    if kind == "float" and v.kind == "float" and isinstance(v.value, (int, float)):
        return float(v.value)
    if kind == "string" and v.kind == "str" and isinstance(v.value, str):
        return v.value
    return None


def _typed(values: tuple[Value, ...]) -> tuple[tuple[str, Value], ...]:
    return tuple((type(x).__name__, x) for x in values)
