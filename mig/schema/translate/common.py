"""What every translation rule shares: the error helper, the naming rules of
docs/fsx.md §5, and the facts gathered about each record before any rule runs.

Rules live in sibling modules (tables, unions, views, seeds, intents,
queries); they all read the same `Ctx`, so a rule never re-derives what
another one already decided (a record's kind, its columns, its key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

from mig.model import snake
from mig.schema.decl import AttrArg, Attribute, FieldDecl, Pos, RecordDecl, Script, UnionDecl, echo, schema_error

__all__ = [
    "fail",
    "camel",
    "FieldInfo",
    "RecordInfo",
    "Ctx",
    "resolve_column",
    "positional",
    "named",
]


def fail(pos: Pos, message: str) -> NoReturn:
    raise schema_error(pos, message)


def camel(name: str) -> str:
    """camel of §5.1, used only for matching: `order_line` -> `orderLine`."""
    first, *rest = name.split("_")
    return first + "".join(p[:1].upper() + p[1:] for p in rest)


@dataclass
class FieldInfo:
    """One field of a record, with the column it gives."""

    decl: FieldDecl
    column: str
    scalar: str | None  # int64 | string | float | bytes; None for a reference
    ref: str | None  # the referenced record's type name
    nullable: bool
    sql_type: str = ""  # references get theirs once keys are known

    @property
    def name(self) -> str:
        return self.decl.name

    def keys(self) -> set[str]:
        """The names a column argument may use for this field (§5.3), lower-cased."""
        s = snake(self.name)
        return {k.lower() for k in (self.name, s, camel(s), self.column, camel(self.column))}


@dataclass
class RecordInfo:
    """A record: a table, or a view when it carries View or ViewSql."""

    decl: RecordDecl
    index: int  # position among all declarations
    is_view: bool
    name: str  # the table or view name
    attrs: tuple[Attribute, ...]  # meaningful attributes, as written
    fields: list[FieldInfo] = field(default_factory=list)
    key: FieldInfo | None = None
    autoinc: bool = False

    @property
    def type_name(self) -> str:
        return self.decl.name

    def attrs_named(self, *names: str) -> list[Attribute]:
        return [a for a in self.attrs if a.name in names]

    def field(self, name: str) -> FieldInfo | None:
        return next((f for f in self.fields if f.name == name), None)

    def column(self, name: str) -> FieldInfo | None:
        low = name.lower()
        return next((f for f in self.fields if f.column.lower() == low), None)


@dataclass
class Ctx:
    """Everything declared in one script, by type name, in declaration order."""

    script: Script
    records: dict[str, RecordInfo]
    unions: dict[str, UnionDecl]
    index: dict[str, int]  # type name -> declaration position
    group: dict[str, int]  # type name -> `and` group

    @property
    def file(self) -> str:
        return self.script.file

    def tables(self) -> list[RecordInfo]:
        return [r for r in self.records.values() if not r.is_view]

    def views(self) -> list[RecordInfo]:
        return [r for r in self.records.values() if r.is_view]


def positional(attr: Attribute) -> list[AttrArg]:
    return [a for a in attr.args if a.name is None]


def named(attr: Attribute, name: str) -> AttrArg | None:
    return next((a for a in attr.args if a.name == name), None)


def resolve_column(rec: RecordInfo, text: str, pos: Pos) -> FieldInfo:
    """A column argument (§5.3): field name, snake, camel, column name, ignoring case."""
    want = text.lower()
    hits = [f for f in rec.fields if want in f.keys()]
    if not hits:
        known = ", ".join(f.column for f in rec.fields)
        fail(pos, f"column `{echo(text)}` not found in {rec.type_name}; its columns are: {known}")
    if len(hits) > 1:
        both = " and ".join(f"{rec.type_name}.{f.name}" for f in hits)
        fail(pos, f"column `{echo(text)}` is ambiguous in {rec.type_name}: it matches {both}")
    return hits[0]
