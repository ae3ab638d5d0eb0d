"""Views (docs/fsx.md §4.8, §4.9): SELECTs synthesized from View + Join, ViewSql
text, and the creation order.

The synthesized SQL quotes every identifier (the original did not, so a table
named `order` broke its views). A ViewSql text is stored exactly as written
(trimmed, trailing `;` dropped): reformatting it would change what SQLite
names the output columns (`Name AS Last`, `name||'!'`) and could even change
its meaning (`"hello"` is a string when no column has that name). Only
`Schema.canonical()` normalizes view SQL, for comparisons and the hash.
Errors V1–V9, T5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from mig.model import View, snake, view_reads
from mig.schema import decl
from mig.schema.translate.common import Ctx, FieldInfo, RecordInfo, camel, fail, positional
from mig.sql.text import quote_ident as q
from mig.sql.text import tokenize

__all__ = ["build_views"]


@dataclass(frozen=True)
class _Join:
    attr: decl.Attribute
    left: RecordInfo
    right: RecordInfo


def build_views(ctx: Ctx) -> list[View]:
    """Every view record, in the dependency order of §4.9."""
    bodies: list[tuple[RecordInfo, str]] = []
    for rec in ctx.views():
        sql_attr = rec.attrs_named("ViewSql")
        body = _sql_body(rec, sql_attr[0]) if sql_attr else _join_body(ctx, rec)
        bodies.append((rec, body))
    return [View(rec.name, f"CREATE VIEW {q(rec.name)} AS {body}") for rec, body in _ordered(bodies)]


# ---------------------------------------------------------------- ViewSql

def _sql_body(rec: RecordInfo, attr: decl.Attribute) -> str:
    arg = positional(attr)[0]
    text = arg.value.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    toks = tokenize(text)
    if not toks or not toks[0].is_word("SELECT", "WITH", "VALUES"):
        fail(arg.pos, f"ViewSql of {rec.type_name} must be a query starting with SELECT, WITH "
                      "or VALUES (mig writes the CREATE VIEW itself)")
    if any(t.kind == "op" and t.text == ";" for t in toks):
        fail(arg.pos, f"ViewSql of {rec.type_name} must be one SELECT statement, not several")
    return text


# ---------------------------------------------------------------- View + Join

def _join_body(ctx: Ctx, rec: RecordInfo) -> str:
    joins = [_join(ctx, rec, a) for a in rec.attrs_named("Join")]
    if not joins:
        view_attr = rec.attrs_named("View")[0]
        fail(view_attr.pos, f"view {rec.type_name} has View but no Join(typeof<A>, typeof<B>); "
                            "add the joins, or use ViewSql")
    base = _base(joins)
    aliases = {base.type_name: _alias(base.name, set())}
    clauses = _join_clauses(rec, joins, base, aliases)
    tables = [ctx.records[name] for name in aliases]
    columns = [_output_column(rec, f, tables, aliases) for f in rec.fields]
    return (f"SELECT {', '.join(columns)} FROM {q(base.name)} AS {q(aliases[base.type_name])}"
            + "".join(clauses))


def _join(ctx: Ctx, rec: RecordInfo, attr: decl.Attribute) -> _Join:
    sides = []
    for arg in positional(attr):
        target = ctx.records.get(arg.value)
        if target is not None and target.is_view:
            fail(arg.pos, f"Join on {rec.type_name}: {arg.value} is a view; only table records "
                          "can be joined")
        if target is None:
            fail(arg.pos, f"Join on {rec.type_name}: {arg.value} is not a table record of this script")
        sides.append(target)
    return _Join(attr, sides[0], sides[1])


def _base(joins: list[_Join]) -> RecordInfo:
    """The table occurring most often over all pairs; a tie goes to the first seen."""
    seen: list[RecordInfo] = []
    counts: dict[str, int] = {}
    for j in joins:
        for side in (j.left, j.right):
            if side.type_name not in counts:
                seen.append(side)
            counts[side.type_name] = counts.get(side.type_name, 0) + 1
    return max(seen, key=lambda r: (counts[r.type_name], -seen.index(r)))


def _alias(table: str, taken: set[str]) -> str:
    stem = "".join(p[0] for p in table.split("_") if p) or "t"
    alias, n = stem, 2
    while alias.lower() in taken:
        alias, n = f"{stem}{n}", n + 1
    return alias


def _join_clauses(rec: RecordInfo, joins: list[_Join], base: RecordInfo,
                  aliases: dict[str, str]) -> list[str]:
    remaining = list(joins)
    clauses = []
    while remaining:
        j = next((j for j in remaining if (j.left.type_name in aliases) != (j.right.type_name in aliases)),
                 None)
        if j is None:
            _stuck(rec, remaining, aliases)
        remaining.remove(j)
        old, new = (j.left, j.right) if j.left.type_name in aliases else (j.right, j.left)
        aliases[new.type_name] = _alias(new.name, {a.lower() for a in aliases.values()})
        clauses.append(f" JOIN {q(new.name)} AS {q(aliases[new.type_name])} ON "
                       + _condition(rec, j, old, new, aliases))
    return clauses


def _stuck(rec: RecordInfo, remaining: list[_Join], aliases: dict[str, str]) -> NoReturn:
    twice = next((j for j in remaining if j.left.type_name in aliases and j.right.type_name in aliases),
                 None)
    if twice is not None:
        fail(twice.attr.pos, f"Join({twice.left.type_name}, {twice.right.type_name}) on {rec.type_name}: "
                             f"{twice.right.type_name} would be joined more than once")
    j = remaining[0]
    fail(j.attr.pos, f"Join({j.left.type_name}, {j.right.type_name}) on {rec.type_name} is "
                     f"disconnected: neither table is joined to {', '.join(aliases)} by an earlier Join")


def _condition(rec: RecordInfo, j: _Join, old: RecordInfo, new: RecordInfo,
               aliases: dict[str, str]) -> str:
    for src, dst in ((old, new), (new, old)):
        refs = [f for f in src.fields if f.ref == dst.type_name]
        if len(refs) > 1:
            fail(j.attr.pos, f"Join({j.left.type_name}, {j.right.type_name}) on {rec.type_name} is "
                             f"ambiguous: table {src.name} ({src.type_name}) references table "
                             f"{dst.name} ({dst.type_name}) through "
                             + " and ".join(f.column for f in refs))
        if refs:
            assert dst.key is not None
            a, b = aliases[src.type_name], aliases[dst.type_name]
            return f"{q(a)}.{q(refs[0].column)} = {q(b)}.{q(dst.key.column)}"
    fail(j.attr.pos, f"Join({j.left.type_name}, {j.right.type_name}) on {rec.type_name}: no foreign "
                     f"key between tables {j.left.name} and {j.right.name} (in either direction)")


def _output_column(rec: RecordInfo, f: FieldInfo, tables: list[RecordInfo],
                   aliases: dict[str, str]) -> str:
    """`<alias>.<column> AS <snake(f)>`: prefixed candidates first, then direct ones."""
    prefixed: list[tuple[RecordInfo, str]] = []
    for t in tables:
        for prefix in dict.fromkeys((camel(t.name), camel(t.name.split("_")[-1]))):
            if len(f.name) > len(prefix) and f.name.lower().startswith(prefix.lower()):
                rest = f.name[len(prefix):]
                hit = t.column(snake(rest[0].lower() + rest[1:]))
                if hit is not None and (t, hit.column) not in prefixed:
                    prefixed.append((t, hit.column))
    direct = [(t, c.column) for t in tables if (c := t.column(snake(f.name))) is not None]
    where = f"{rec.type_name}.{f.name}"
    for candidates in (prefixed, direct):
        if len(candidates) > 1:
            fail(f.decl.pos, f"view field {where} is ambiguous: it matches "
                             + " and ".join(f"{t.name}.{c}" for t, c in candidates))
        if candidates:
            t, col = candidates[0]
            return f"{q(aliases[t.type_name])}.{q(col)} AS {q(f.column)}"
    available = ", ".join(f"{t.name}.{c.column}" for t in tables for c in t.fields)
    fail(f.decl.pos, f"cannot resolve view field {where} to a column of the joined tables; "
                     f"available: {available}")


# ---------------------------------------------------------------- order

def _ordered(bodies: list[tuple[RecordInfo, str]]) -> list[tuple[RecordInfo, str]]:
    """Repeatedly the first declared view whose dependencies exist (V9 on a cycle)."""
    deps = {rec.name: {other.name for other, _ in bodies
                       if other is not rec and view_reads(body, other.name)}
            for rec, body in bodies}
    pending, out = list(bodies), []
    done: set[str] = set()
    while pending:
        ready = next((item for item in pending if deps[item[0].name] <= done), None)
        if ready is None:
            stuck = {rec.name for rec, _ in pending}
            first = next(rec for rec, _ in pending if _in_cycle(rec.name, deps, stuck))
            fail(first.decl.pos, f"view {first.type_name} is in a dependency cycle of views: "
                                 + ", ".join(sorted(stuck)))
        out.append(ready)
        done.add(ready[0].name)
        pending.remove(ready)
    return out


def _in_cycle(start: str, deps: dict[str, set[str]], among: set[str]) -> bool:
    frontier, seen = list(deps[start] & among), set()
    while frontier:
        name = frontier.pop()
        if name == start:
            return True
        if name not in seen:
            seen.add(name)
            frontier.extend(deps[name] & among)
    return False
