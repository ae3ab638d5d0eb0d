"""The schema model: what every front end produces and everything downstream reads.

One frozen dataclass per SQLite concept. SQL fragments (defaults, CHECKs,
index terms, view and trigger statements) are kept as written, so the new
database reads like the schema its author wrote; ``Schema.canonical()`` puts
them in the canonical text of ``mig.sql.text.canonical`` so that formatting
and comments never change a comparison or the hash. Pure code: no I/O, no
sqlite3.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from typing import Any, Iterable, Union

from mig.sql.defaults import canonical_default
from mig.sql.text import canonical, canonical_type, tokenize, unquote_ident
from mig.sql.values import Value, encode_value

__all__ = [
    "Value",
    "Column",
    "ForeignKey",
    "Table",
    "Index",
    "View",
    "Trigger",
    "SeedRow",
    "RenameTable",
    "RenameColumn",
    "DropTable",
    "DropColumn",
    "Convert",
    "ConvertBack",
    "QueryAnnotation",
    "Schema",
    "canonical_type",
    "schema_hash",
    "canonical_json",
    "view_order",
    "snake",
]


FK_ACTIONS = ("NO ACTION", "RESTRICT", "SET NULL", "SET DEFAULT", "CASCADE")


@dataclass(frozen=True)
class Column:
    name: str
    type: str = ""  # declared type, canonical upper-case ("" when none)
    notnull: bool = False
    default: str | None = None  # SQL of the DEFAULT clause, without DEFAULT
    collation: str | None = None
    generated: str | None = None  # expression of a generated column
    generated_stored: bool = False


@dataclass(frozen=True, order=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    on_update: str = "NO ACTION"
    on_delete: str = "NO ACTION"
    deferred: bool = False  # DEFERRABLE INITIALLY DEFERRED


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    autoincrement: bool = False
    without_rowid: bool = False
    strict: bool = False
    uniques: tuple[tuple[str, ...], ...] = ()
    checks: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()

    def column(self, name: str) -> Column | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def stored_columns(self) -> tuple[Column, ...]:
        """Columns that hold written data (generated ones are computed)."""
        return tuple(c for c in self.columns if c.generated is None)

    @property
    def rowid_alias(self) -> str | None:
        """The INTEGER PRIMARY KEY column that is the rowid, if any."""
        if self.without_rowid or len(self.primary_key) != 1:
            return None
        col = self.column(self.primary_key[0])
        return col.name if col is not None and col.type == "INTEGER" else None


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    columns: tuple[str, ...]  # SQL of each indexed term (a quoted name, or an expression)
    unique: bool = False
    where: str | None = None


@dataclass(frozen=True)
class View:
    name: str
    sql: str  # the CREATE VIEW statement


@dataclass(frozen=True)
class Trigger:
    name: str
    table: str
    sql: str  # the CREATE TRIGGER statement


@dataclass(frozen=True)
class SeedRow:
    table: str
    columns: tuple[str, ...]
    values: tuple[Value, ...]

    def as_dict(self) -> dict[str, Value]:
        return dict(zip(self.columns, self.values))


# Where a declared intent was written, (file, line, col): not part of its meaning (never
# compared or hashed), kept so that a rename naming nothing can be reported at its line.
Declared = Union[tuple[str, int, int], None]


@dataclass(frozen=True, order=True)
class RenameTable:
    old: str
    new: str
    at: Declared = field(default=None, compare=False)


@dataclass(frozen=True, order=True)
class RenameColumn:
    table: str  # the table's name in the new schema
    old: str
    new: str
    at: Declared = field(default=None, compare=False)


@dataclass(frozen=True, order=True)
class DropTable:
    name: str
    at: Declared = field(default=None, compare=False)


@dataclass(frozen=True, order=True)
class DropColumn:
    table: str  # the table's name in the new schema
    column: str
    at: Declared = field(default=None, compare=False)


@dataclass(frozen=True, order=True)
class Convert:
    """The new column's value, computed from the old row at copy and at replay alike."""

    table: str  # the table's name in the new schema
    column: str  # the new column
    expr: str  # SQL over the old row's columns, by their old names
    at: Declared = field(default=None, compare=False)


@dataclass(frozen=True, order=True)
class ConvertBack:
    """A conversion's way back, for `mig revert`: an old column's value computed from the new
    row (pgroll's `down`). `column` "" stands for the one old column the conversion of the
    new column `of` reads (the DSLs' `Convert(..., back=...)`)."""

    table: str  # the table's name in the new schema
    column: str  # the old column
    expr: str  # SQL over the new row's columns
    at: Declared = field(default=None, compare=False)
    of: str = ""


@dataclass(frozen=True)
class QueryAnnotation:
    """A query attribute recorded for code generation; never part of the schema."""

    target: str
    kind: str
    columns: tuple[str, ...] = ()
    order_by: str | None = None


@dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...] = ()
    indexes: tuple[Index, ...] = ()
    views: tuple[View, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    seeds: tuple[SeedRow, ...] = ()
    rename_tables: tuple[RenameTable, ...] = ()
    rename_columns: tuple[RenameColumn, ...] = ()
    drop_tables: tuple[DropTable, ...] = ()
    drop_columns: tuple[DropColumn, ...] = ()
    conversions: tuple[Convert, ...] = ()
    conversions_back: tuple[ConvertBack, ...] = ()
    queries: tuple[QueryAnnotation, ...] = field(default=(), compare=False)

    def table(self, name: str) -> Table | None:
        low = name.lower()
        return next((t for t in self.tables if t.name.lower() == low), None)

    def indexes_of(self, table: str) -> tuple[Index, ...]:
        low = table.lower()
        return tuple(i for i in self.indexes if i.table.lower() == low)

    def triggers_of(self, table: str) -> tuple[Trigger, ...]:
        low = table.lower()
        return tuple(t for t in self.triggers if t.table.lower() == low)

    def seeds_of(self, table: str) -> tuple[SeedRow, ...]:
        low = table.lower()
        return tuple(s for s in self.seeds if s.table.lower() == low)

    def without_intents(self) -> "Schema":
        return replace(self, rename_tables=(), rename_columns=(), drop_tables=(),
                       drop_columns=(), conversions=(), conversions_back=(), seeds=(), queries=())

    def canonical(self) -> "Schema":
        """Same meaning, one spelling: sorted sets, canonical SQL, ordered views."""
        return Schema(
            tables=tuple(sorted((_canonical_table(t) for t in self.tables), key=lambda t: t.name)),
            indexes=tuple(sorted((_canonical_index(i) for i in self.indexes), key=lambda i: i.name)),
            views=view_order(replace(v, sql=canonical(v.sql, fold_case=False)) for v in self.views),
            triggers=tuple(sorted((replace(t, table=t.table.lower(), sql=_canonical_trigger(t.sql))
                                   for t in self.triggers), key=lambda t: t.name)),
            seeds=tuple(sorted(self.seeds, key=_seed_key)),
            rename_tables=tuple(sorted(set(self.rename_tables))),
            rename_columns=tuple(sorted(set(self.rename_columns))),
            drop_tables=tuple(sorted(set(self.drop_tables))),
            drop_columns=tuple(sorted(set(self.drop_columns))),
            conversions=tuple(sorted({replace(c, expr=canonical(c.expr, fold_case=False))
                                      for c in self.conversions})),
            conversions_back=tuple(sorted({replace(c, expr=canonical(c.expr, fold_case=False))
                                           for c in self.conversions_back})),
            queries=self.queries,
        )


def _canonical_table(t: Table) -> Table:
    """Column references spelled as their columns are declared; SQLite ignores their case."""
    declared = {c.name.lower(): c.name for c in t.columns}

    def names(cols: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(declared.get(c.lower(), c) for c in cols)

    return replace(
        t,
        columns=tuple(_canonical_column(c) for c in t.columns),
        primary_key=names(t.primary_key),
        uniques=tuple(sorted({names(u) for u in t.uniques})),
        checks=tuple(sorted({canonical(c) for c in t.checks})),
        foreign_keys=tuple(sorted({replace(fk, columns=names(fk.columns), ref_table=fk.ref_table.lower(),
                                           ref_columns=tuple(c.lower() for c in fk.ref_columns))
                                   for fk in t.foreign_keys})),
    )


def _canonical_trigger(sql: str) -> str:
    """`FOR EACH ROW` is the only kind of trigger SQLite has: written or not, one spelling."""
    text = canonical(sql)
    return text.replace(" FOR EACH ROW ", " ")


def _canonical_column(c: Column) -> Column:
    return replace(
        c,
        type=canonical_type(c.type),
        default=canonical_default(c.default),
        collation=c.collation.upper() if c.collation else None,
        generated=canonical(c.generated) if c.generated is not None else None,
    )


def _canonical_index(i: Index) -> Index:
    return replace(
        i,
        table=i.table.lower(),
        columns=tuple(_index_term(c) for c in i.columns),
        where=canonical(i.where) if i.where else None,
    )


def _index_term(term: str) -> str:
    """`x ASC` is `x`: ascending is the default order of an index term."""
    text = canonical(term)
    return text[:-4] if text.endswith(" ASC") else text


def _seed_key(s: SeedRow) -> str:
    return json.dumps([s.table, list(s.columns), [encode_value(v) for v in s.values]])


# ---------------------------------------------------------------- views

def view_reads(sql: str, name: str) -> bool:
    """Does SQL mention `name` as an identifier (bare or quoted, any case)?"""
    low = name.lower()
    for tok in tokenize(sql):
        if tok.kind in ("word", "ident") and unquote_ident(tok.text).lower() == low:
            return True
    return False


def view_order(views: Iterable[View]) -> tuple[View, ...]:
    """Dependency order: repeatedly the first view (by name) whose deps exist."""
    pending = sorted(views, key=lambda v: v.name)
    names = {v.name.lower() for v in pending}
    deps = {
        v.name: {w.name.lower() for w in pending if w is not v and view_reads(_view_body(v.sql), w.name)}
        for v in pending
    }
    done: set[str] = set()
    out: list[View] = []
    while pending:
        ready = next((v for v in pending if deps[v.name] <= done), None)
        if ready is None:  # a cycle: keep the rest in name order, SQLite will say
            out.extend(pending)
            break
        out.append(ready)
        done.add(ready.name.lower())
        pending.remove(ready)
    assert names == {v.name.lower() for v in out}
    return tuple(out)


def _view_body(sql: str) -> str:
    """The view's SQL after `AS`, so its own name does not count as a dependency."""
    toks = tokenize(sql)
    for i, tok in enumerate(toks):
        if tok.is_word("AS"):
            return sql[toks[i + 1].start:] if i + 1 < len(toks) else ""
    return sql


# ---------------------------------------------------------------- naming

def snake(name: str) -> str:
    """snake_case of docs/fsx.md §5.1 (shared by the .fsx and .py front ends)."""
    out: list[str] = []
    for i, ch in enumerate(name):
        if ch.isupper() and i > 0:
            prev = name[i - 1]
            nxt = name[i + 1] if i + 1 < len(name) else ""
            if prev.islower() or (prev.isupper() and nxt.islower()):
                out.append("_")
        out.append(ch.lower())
    return "".join(out)


# ---------------------------------------------------------------- hash

def _to_jsonable(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return [_to_jsonable(x) for x in obj]
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: _to_jsonable(getattr(obj, f.name)) for f in fields(obj) if f.compare}
    return obj


def canonical_json(schema: Schema) -> str:
    """Canonical serialization: stable across front ends and formatting."""
    s = schema.canonical()
    data = _to_jsonable(replace(s, seeds=()))
    for key in ("conversions", "conversions_back"):
        if not data[key]:  # absent, as before they existed: the same hashes as then
            del data[key]
    data["seeds"] = [
        {"table": r.table, "columns": list(r.columns), "values": [encode_value(v) for v in r.values]}
        for r in s.seeds
    ]
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def schema_hash(schema: Schema) -> str:
    """First 16 lower-case hex digits of SHA-256 over the canonical serialization."""
    return hashlib.sha256(canonical_json(schema).encode("utf-8")).hexdigest()[:16]
