"""Model to SQL: the DDL that builds a schema, and the statements that apply its seeds.

The order of statements is part of the contract with the migrate phase:
tables first (no indexes, so the bulk copy writes one b-tree per table),
then indexes, then views in dependency order; triggers separately, because
cutover creates them last so copied and replayed rows never fire them.
Pure code: strings out, nothing executed here.
"""

from __future__ import annotations

from mig.model import (
    Column,
    ForeignKey,
    Index,
    Schema,
    SeedRow,
    Table,
    view_order,
)
from mig.sql.defaults import KEYWORD_DEFAULTS, canonical_default, default_is_literal
from mig.sql.text import quote_ident as q

__all__ = [
    "create_table_sql",
    "create_index_sql",
    "create_statements",
    "table_statements",
    "index_statements",
    "view_statements",
    "trigger_statements",
    "seed_statements",
    "upsert_seed_sql",
    "seed_row_match_sql",
    "default_sql",
    "default_value_sql",
]


def _column_sql(col: Column, table: Table) -> str:
    parts = [q(col.name)]
    if col.type:
        parts.append(col.type)
    if len(table.primary_key) == 1 and table.primary_key[0] == col.name:
        parts.append("PRIMARY KEY")
        if table.autoincrement:
            parts.append("AUTOINCREMENT")
    if col.notnull:
        parts.append("NOT NULL")
    if col.default is not None:
        parts.append(f"DEFAULT {default_sql(col.default)}")
    if col.collation:
        parts.append(f"COLLATE {col.collation}")
    if col.generated is not None:
        kind = "STORED" if col.generated_stored else "VIRTUAL"
        parts.append(f"GENERATED ALWAYS AS ({col.generated}) {kind}")
    return " ".join(parts)


def default_sql(text: str) -> str:
    """Constants as written; anything else needs parentheses in a DEFAULT clause."""
    bare = canonical_default(text)
    if bare is not None and (default_is_literal(bare) or bare in KEYWORD_DEFAULTS):
        return text
    return f"({text})"


def default_value_sql(text: str) -> str:
    """An expression with the default's value, for a SELECT (`DEFAULT "x"` means the string 'x')."""
    bare = canonical_default(text)
    if bare is not None and (default_is_literal(bare) or bare in KEYWORD_DEFAULTS):
        return bare
    return f"({text})"


def _fk_sql(fk: ForeignKey) -> str:
    sql = (f"FOREIGN KEY ({', '.join(map(q, fk.columns))}) REFERENCES {q(fk.ref_table)}"
           + (f" ({', '.join(map(q, fk.ref_columns))})" if fk.ref_columns else ""))
    if fk.on_update != "NO ACTION":
        sql += f" ON UPDATE {fk.on_update}"
    if fk.on_delete != "NO ACTION":
        sql += f" ON DELETE {fk.on_delete}"
    if fk.deferred:
        sql += " DEFERRABLE INITIALLY DEFERRED"
    return sql


def create_table_sql(table: Table, name: str | None = None) -> str:
    """CREATE TABLE for `table`, optionally under another name."""
    items = [_column_sql(c, table) for c in table.columns]
    if len(table.primary_key) > 1:
        items.append(f"PRIMARY KEY ({', '.join(map(q, table.primary_key))})")
    items += [f"UNIQUE ({', '.join(map(q, u))})" for u in table.uniques]
    items += [f"CHECK ({c})" for c in table.checks]
    items += [_fk_sql(fk) for fk in table.foreign_keys]
    options = [o for o, on in (("WITHOUT ROWID", table.without_rowid), ("STRICT", table.strict)) if on]
    body = ",\n  ".join(items)
    return f"CREATE TABLE {q(name or table.name)} (\n  {body}\n){' ' + ', '.join(options) if options else ''}"


def create_index_sql(index: Index) -> str:
    unique = "UNIQUE " if index.unique else ""
    where = f" WHERE {index.where}" if index.where else ""
    return f"CREATE {unique}INDEX {q(index.name)} ON {q(index.table)} ({', '.join(index.columns)}){where}"


def table_statements(schema: Schema) -> list[str]:
    return [create_table_sql(t) for t in schema.tables]


def index_statements(schema: Schema) -> list[str]:
    return [create_index_sql(i) for i in schema.indexes]


def view_statements(schema: Schema) -> list[str]:
    return [v.sql for v in view_order(schema.views)]


def trigger_statements(schema: Schema) -> list[str]:
    return [t.sql for t in schema.triggers]


def create_statements(schema: Schema) -> list[str]:
    """Everything but seeds, in a valid creation order."""
    return (table_statements(schema) + index_statements(schema)
            + view_statements(schema) + trigger_statements(schema))


def upsert_seed_sql(table: Table, row: SeedRow) -> str:
    """Upsert by primary key; in a keyless table insert unless an identical row exists.

    ON CONFLICT on the key, not INSERT OR REPLACE: a clash on another UNIQUE
    must fail, not silently delete the row that holds the value.
    """
    cols = ", ".join(map(q, row.columns))
    marks = ", ".join("?" for _ in row.columns)
    if table.primary_key:
        key = {k.lower() for k in table.primary_key}
        sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in row.columns if c.lower() not in key)
        action = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
        return (f"INSERT INTO {q(table.name)} ({cols}) VALUES ({marks}) "
                f"ON CONFLICT ({', '.join(map(q, table.primary_key))}) {action}")
    return (f"INSERT INTO {q(table.name)} ({cols}) SELECT {marks} "
            f"WHERE NOT EXISTS (SELECT 1 FROM {q(table.name)} WHERE {seed_row_match_sql(row)})")


def seed_row_match_sql(row: SeedRow) -> str:
    """A row identical to the seed row, given its values as parameters: the same
    bytes, so under a NOCASE column 'x' is not a row 'X'."""
    return " AND ".join(f"{q(c)} IS ? COLLATE BINARY" for c in row.columns)


def seed_statements(schema: Schema) -> list[tuple[str, tuple[object, ...]]]:
    """(sql, params) per seed row, parents first, rows in declaration order.

    Run them in one transaction with `PRAGMA defer_foreign_keys=ON` so
    self-references and cycles among seeded tables work.
    """
    out: list[tuple[str, tuple[object, ...]]] = []
    for table_name in _seed_table_order(schema):
        table = schema.table(table_name)
        assert table is not None, f"seed rows for unknown table {table_name}"
        for row in schema.seeds_of(table_name):
            params = tuple(row.values)
            if not table.primary_key:
                params = params + params
            out.append((upsert_seed_sql(table, row), params))
    return out


def _seed_table_order(schema: Schema) -> list[str]:
    """Seeded tables ordered by references among them, then first appearance."""
    first: list[str] = []
    for row in schema.seeds:
        if row.table not in first:
            first.append(row.table)
    parents = {
        name: {fk.ref_table for fk in (schema.table(name) or Table(name, ())).foreign_keys
               if fk.ref_table in first and fk.ref_table != name}
        for name in first
    }
    done: list[str] = []
    while len(done) < len(first):
        ready = next((n for n in first if n not in done and parents[n] <= set(done)), None)
        if ready is None:  # a cycle: deferred FK checks make any order work
            ready = next(n for n in first if n not in done)
        done.append(ready)
    return done
