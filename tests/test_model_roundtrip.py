"""Property: for generated models, introspect(build(render(model))) == model (canonical form)."""

from __future__ import annotations

import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mig.ddl import create_statements
from mig.model import Column, ForeignKey, Index, Schema, Table, View, schema_hash
from mig.sqlite.introspect import introspect

NAMES = ["id", "order", "group", "name", 'we"ird', "sp ace", "Ünïcode", "select", "a1", "x_y",
         "value", "key", "2nd"]
TYPES = ["INTEGER", "TEXT", "REAL", "BLOB", "", "NUMERIC", "VARCHAR(10)", "INT"]
STRICT_TYPES = ["INTEGER", "TEXT", "REAL", "BLOB", "ANY", "INT"]
DEFAULTS = [None, "0", "-7", "1.5", "'it''s'", "X'00FF'", "NULL", "CURRENT_TIMESTAMP",
            "(abs(-3) + 1)"]


@st.composite
def tables(draw: st.DrawFn, name: str, parents: list[Table]) -> Table:
    strict = draw(st.booleans())
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5,
                          unique_by=lambda n: n.lower()))
    cols = []
    for n in names:
        ctype = draw(st.sampled_from(STRICT_TYPES if strict else TYPES))
        default = draw(st.sampled_from(DEFAULTS))
        collation = draw(st.sampled_from([None, None, "NOCASE", "RTRIM"])) if ctype in ("TEXT", "") else None
        cols.append(Column(n, ctype, draw(st.booleans()), default, collation))
    pk_size = draw(st.integers(0, min(2, len(cols))))
    pk = tuple(c.name for c in cols[:pk_size])
    autoinc = pk_size == 1 and cols[0].type == "INTEGER" and draw(st.booleans())
    without_rowid = pk_size > 0 and not autoinc and draw(st.booleans())
    if without_rowid or strict:  # SQLite makes these key columns NOT NULL
        cols = [Column(c.name, c.type, True, c.default, c.collation) if c.name in pk else c for c in cols]
    uniques = tuple(sorted({(c.name,) for c in cols[pk_size:] if draw(st.booleans())}))
    checks = tuple(f'length("{cols[-1].name.replace(chr(34), chr(34) * 2)}") < 100'
                   for _ in range(draw(st.integers(0, 1))))
    fks = []
    for parent in parents:
        if parent.primary_key and len(parent.primary_key) == 1 and draw(st.booleans()):
            child = draw(st.sampled_from([c.name for c in cols]))
            fks.append(ForeignKey((child,), parent.name, parent.primary_key,
                                  "NO ACTION", draw(st.sampled_from(["NO ACTION", "CASCADE", "SET NULL"])),
                                  draw(st.booleans())))
    return Table(name, tuple(cols), pk, autoinc, without_rowid, strict, uniques, checks,
                 tuple(sorted(set(fks))))


@st.composite
def schemas(draw: st.DrawFn) -> Schema:
    n = draw(st.integers(1, 4))
    table_names = draw(st.lists(st.sampled_from(["t", "order", "Group x", 'q"t', "ledger", "é"]),
                                min_size=n, max_size=n, unique_by=lambda s: s.lower()))
    out: list[Table] = []
    for name in table_names:
        out.append(draw(tables(name, list(out))))
    indexes = []
    for i, t in enumerate(out):
        if draw(st.booleans()):
            col = draw(st.sampled_from(t.columns)).name
            term = '"' + col.replace('"', '""') + '"'
            where = draw(st.sampled_from([None, f"{term} IS NOT NULL"]))
            indexes.append(Index(f"ix_{i}", t.name, (term,), draw(st.booleans()), where))
    views = []
    if draw(st.booleans()):
        first = '"' + out[0].name.replace('"', '""') + '"'
        views.append(View("v_all", f"CREATE VIEW v_all AS SELECT * FROM {first}"))
        views.append(View("v_count", "CREATE VIEW v_count AS SELECT count(*) AS n FROM v_all"))
    return Schema(tables=tuple(out), indexes=tuple(indexes), views=tuple(views))


def build(schema: Schema) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    for sql in create_statements(schema):
        conn.execute(sql)
    return conn


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas())
def test_introspect_of_rendered_model_is_the_model(schema: Schema) -> None:
    back = introspect(build(schema))
    assert back.canonical() == schema.canonical()
    assert schema_hash(back) == schema_hash(schema)


@settings(max_examples=50, deadline=None)
@given(schemas())
def test_render_is_stable_under_a_second_round_trip(schema: Schema) -> None:
    once = introspect(build(schema))
    twice = introspect(build(once))
    assert once == twice
