"""Declared renames, drops and conversions: mig never guesses them.

Old names go through snake_case, so the old F# name and the old SQL name
both work. Only conflicts inside the schema are checked here (A11); whether
the old names exist in the old database is the plan's business.
"""

from __future__ import annotations

import re

from mig.model import Convert, ConvertBack, DropColumn, DropTable, RenameColumn, RenameTable, snake
from mig.schema import decl
from mig.schema.translate.common import Ctx, RecordInfo, fail, named, positional

__all__ = ["Intents", "intents"]

_NAME = re.compile(r"[^\W\d]\w*")

Intents = tuple[list[RenameTable], list[RenameColumn], list[DropTable], list[DropColumn], list[Convert | ConvertBack]]


def _old(attr: decl.Attribute) -> tuple[str, decl.Pos]:
    arg = positional(attr)[0]
    if not _NAME.fullmatch(arg.value):
        fail(arg.pos, f"{attr.name} needs an old name (letters, digits, _), got `{decl.echo(arg.value)}`")
    return snake(arg.value), arg.pos


def _at(pos: decl.Pos) -> tuple[str, int, int]:
    return pos.file, pos.line, pos.col


def intents(ctx: Ctx, current: set[str]) -> Intents:
    """`current`: lower-cased names of every table and view of the new schema."""
    renames: list[RenameTable] = []
    drops: list[DropTable] = []
    col_renames: list[RenameColumn] = []
    col_drops: list[DropColumn] = []
    conversions: list[Convert | ConvertBack] = []
    claimed: dict[str, str] = {}  # old table name -> the attribute that claimed it
    attrs_of = {r.type_name: r.attrs for r in ctx.records.values()}
    for u in ctx.unions.values():
        attrs_of[u.name] = tuple(a for a in u.attrs if a.name == "DropTable")
    for type_name in sorted(attrs_of, key=lambda n: ctx.index[n]):
        rec = ctx.records.get(type_name)
        for attr in attrs_of[type_name]:
            if attr.name == "PreviousName" and rec is not None:
                old, pos = _old(attr)
                _claim(claimed, old, attr, pos, current, rec.name)
                renames.append(RenameTable(old, rec.name, at=_at(pos)))
            elif attr.name == "DropTable":
                old, pos = _old(attr)
                _claim(claimed, old, attr, pos, current, None)
                drops.append(DropTable(old, at=_at(pos)))
        if rec is not None and not rec.is_view:
            _columns(rec, col_renames, col_drops)
            conversions += _conversions(rec)
    return renames, col_renames, drops, col_drops, conversions


def _claim(claimed: dict[str, str], old: str, attr: decl.Attribute, pos: decl.Pos,
           current: set[str], new: str | None) -> None:
    if new is not None and old == new.lower():
        fail(pos, f"PreviousName `{old}` is the current name of the table")
    if old in current:
        fail(pos, f"{attr.name} `{old}` names a table or view the schema still declares")
    _once(claimed, old, attr, pos, "table")


def _once(claimed: dict[str, str], old: str, attr: decl.Attribute, pos: decl.Pos, what: str) -> None:
    if old in claimed:
        fail(pos, f"{attr.name} `{old}`: old {what} name already declared by {claimed[old]}")
    claimed[old] = attr.name


def _columns(rec: RecordInfo, renames: list[RenameColumn], drops: list[DropColumn]) -> None:
    claimed: dict[str, str] = {}
    columns = {f.column.lower() for f in rec.fields}
    for f in rec.fields:
        for attr in (a for a in f.decl.attrs if a.name == "PreviousName"):
            old, pos = _old(attr)
            if old == f.column.lower():
                fail(pos, f"PreviousName `{old}` is the current name of {rec.name}.{f.column}")
            if old in columns:
                fail(pos, f"PreviousName `{old}` names another column {rec.name} still has")
            _once(claimed, old, attr, pos, "column")
            renames.append(RenameColumn(rec.name, old, f.column, at=_at(pos)))
    for attr in rec.attrs_named("DropColumn"):
        old, pos = _old(attr)
        if old in columns:
            fail(pos, f"DropColumn `{old}` names a column {rec.name} still has")
        _once(claimed, old, attr, pos, "column")
        drops.append(DropColumn(rec.name, old, at=_at(pos)))


def _conversions(rec: RecordInfo) -> list[Convert | ConvertBack]:
    """`Convert "SQL"` on a field: its value computed from the old row (the SQL names the
    old columns as the old database has them; the plan checks they exist)."""
    out: list[Convert | ConvertBack] = []
    for f in rec.fields:
        for attr in (a for a in f.decl.attrs if a.name == "Convert"):
            arg = positional(attr)[0]
            if any(a.name == "PreviousName" for a in f.decl.attrs):
                fail(arg.pos, f"{rec.name}.{f.column} has PreviousName and Convert: a converted column "
                              "takes its value from the expression, which names the old column itself; "
                              "drop PreviousName")
            if not arg.value.strip():
                fail(arg.pos, "Convert needs an SQL expression over the old row, e.g. Convert \"CAST(price AS REAL)\"")
            out.append(Convert(rec.name, f.column, arg.value.strip(), at=_at(arg.pos)))
            back = named(attr, "back")
            if back is not None:
                if not back.value.strip():
                    fail(back.pos, "Convert's back needs an SQL expression over the new row giving the old "
                                   "column back, e.g. back = \"cents / 100.0\"")
                out.append(ConvertBack(rec.name, "", back.value.strip(), at=_at(back.pos), of=f.column))
    return out
