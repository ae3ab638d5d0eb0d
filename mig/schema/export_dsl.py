"""A database's schema as a `schema.py` or a `schema.fsx`: for `mig init --format py|fsx`.

The DSL says less than SQLite does: four column types (INTEGER, TEXT, REAL,
BLOB), a key of one field, references as `<field>_id` to the parent's key,
index names it makes itself. What it cannot say is refused here, naming the
first such thing, and `mig.schema.export` then checks that the text reads
back to the very same schema; `--format sql` says everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

from mig.errors import WrongState
from mig.model import Column, ForeignKey, Schema, Table, snake
from mig.sql.defaults import default_is_literal

__all__ = ["python_text", "fsx_text"]

_PY_TYPES = {"INTEGER": "int", "TEXT": "str", "REAL": "float", "BLOB": "bytes"}
_FS_TYPES = {"INTEGER": "int64", "TEXT": "string", "REAL": "float", "BLOB": "byte[]"}


@dataclass
class _Field:
    name: str  # the column's name, or the reference's (column without `_id`)
    kind: str  # an SQL type of _PY_TYPES, or the referenced class
    nullable: bool
    ref: bool = False


@dataclass
class _Record:
    cls: str
    attrs: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)
    fields: list[_Field] = field(default_factory=list)


def python_text(schema: Schema, source: str) -> str:
    out = [f"# The schema of {source}, written by `mig init`. This file is the target schema:",
           "# change it, then `mig plan` shows the migration.", "from __future__ import annotations",
           "", "from mig.dsl import *"]
    for rec in _records(schema):
        out += ["", ""] + [f"@{name}({', '.join(map(repr, args))})" for name, args in rec.attrs]
        out.append(f"class {rec.cls}:")
        out += [f"    {f.name}: {f.kind if f.ref else _PY_TYPES[f.kind]}{' | None' if f.nullable else ''}"
                for f in rec.fields]
    return "\n".join(out) + "\n"


def fsx_text(schema: Schema, source: str) -> str:
    out = [f"// The schema of {source}, written by `mig init`. This file is the target schema:",
           "// change it, then `mig plan` shows the migration."]
    for i, rec in enumerate(_records(schema)):  # one `and` group: any record may name any other
        attrs = "; ".join(f"{name}({', '.join(_fs_value(a) for a in args)})" for name, args in rec.attrs)
        out += ["", f"{'type' if i == 0 else 'and'} {f'[<{attrs}>] ' if attrs else ''}{rec.cls} = {{"]
        out += [f"    {_pascal(f.name)}: {f.kind if f.ref else _FS_TYPES[f.kind]}"
                f"{' option' if f.nullable else ''}" for f in rec.fields]
        out.append("}")
    return "\n".join(out) + "\n"


def _records(schema: Schema) -> list[_Record]:
    for what, there in (("views", schema.views), ("triggers", schema.triggers)):
        if there:
            _cannot(f"{what} ({', '.join(x.name for x in there)})")
    classes = {t.name.lower(): _class(t.name) for t in schema.tables}
    return [_record(t, schema, classes) for t in schema.tables]


def _record(t: Table, schema: Schema, classes: dict[str, str]) -> _Record:
    if t.without_rowid or t.strict or t.checks:
        _cannot(f"table {t.name}'s " + ("WITHOUT ROWID" if t.without_rowid else "STRICT" if t.strict else "CHECK"))
    if len(t.primary_key) > 1:
        _cannot(f"table {t.name}'s primary key of {len(t.primary_key)} columns")
    rec = _Record(classes[t.name.lower()])
    refs = {fk.columns[0].lower(): fk for fk in t.foreign_keys if len(fk.columns) == 1}
    if len(refs) != len(t.foreign_keys):
        _cannot(f"table {t.name}'s foreign key of several columns")
    if t.primary_key:
        rec.attrs.append(("AutoIncPK" if t.autoincrement else "PK", (t.primary_key[0],)))
    rec.attrs += [("Unique", tuple(u)) for u in t.uniques]
    for index in schema.indexes_of(t.name):
        named = f"ix_{t.name}_" + "_".join(index.columns)
        if index.unique or index.where or index.name != named:
            _cannot(f"index {index.name} (the DSL makes plain indexes named ix_<table>_<columns>)")
        rec.attrs.append(("Index", tuple(index.columns)))
    for col in t.columns:
        rec.fields.append(_field(t, col, refs, classes, rec))
    return rec


def _field(t: Table, col: Column, refs: dict[str, ForeignKey], classes: dict[str, str], rec: _Record) -> _Field:
    if col.generated is not None or col.collation is not None or snake(col.name) != col.name:
        _cannot(f"column {t.name}.{col.name} (" + ("generated" if col.generated is not None else
                "a collation" if col.collation is not None else "not a snake_case name") + ")")
    if col.default is not None:
        literal = default_is_literal(col.default)
        rec.attrs.append(("Default" if literal else "DefaultExpr", (col.name, col.default)))
    fk = refs.get(col.name.lower())
    if fk is not None:
        parent = classes.get(fk.ref_table.lower())
        if parent is None or not col.name.endswith("_id"):
            return _cannot(f"the reference {t.name}.{col.name} (the DSL names it <field>_id, to a table of "
                           "the schema)")
        name = col.name[:-3]
        action = {"CASCADE": "OnDeleteCascade", "SET NULL": "OnDeleteSetNull"}.get(fk.on_delete.upper())
        if action is not None:
            rec.attrs.append((action, (name,)))
        return _Field(name, parent, not col.notnull, ref=True)
    if col.type.upper() not in _PY_TYPES:
        return _cannot(f"column {t.name}.{col.name} of type {col.type or '(none)'} (the DSL has INTEGER, TEXT, "
                       "REAL, BLOB)")
    return _Field(col.name, col.type.upper(), not col.notnull)


def _class(table: str) -> str:
    cls = _pascal(table)
    if not cls.isidentifier() or snake(cls) != table:
        _cannot(f"table {table} (the DSL names a table after its class: snake_case names only)")
    return cls


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _fs_value(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cannot(what: str) -> NoReturn:
    raise WrongState(f"the DSL cannot say {what}; use --format sql, which says every SQLite schema")
