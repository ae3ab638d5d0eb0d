"""The `schema.py` DSL: the F# schema DSL of docs/fsx.md, written as Python classes.

Every F# attribute has a Python twin of the same name, so a schema translates
1:1, and both syntaxes go through one translator (`mig.schema.translate`):
same rules, same model, same errors. This module only *records* what the
user wrote — markers on classes and keyword values on instances, each with
the place it was written — and never judges it; `mig.schema.python` turns
the records into declarations.

    from mig.dsl import *

    @PK("code")
    class Country:                    # table `country`
        code: str                     # TEXT NOT NULL
        name: str

    @AutoIncPK("id")
    @Unique("email")
    @OnDeleteSetNull("country")
    class Customer:
        id: int                       # INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT
        email: str
        country: Country | None       # country_id TEXT REFERENCES country(code)
        full_name: Annotated[str, PreviousName("name")]

    class CustomerExtra(Union):       # extension tables, 1:1 with customer rows
        WithAvatar = Case(Customer, image=bytes)           # customer_avatar
        Phone = Case(Customer, str)                        # customer_phone.value_1

    @View
    @Join(Customer, Country)
    class CustomerCountry:            # CREATE VIEW customer_country AS SELECT …
        email: str
        country_name: str

    portugal = Country(code="PT", name="Portugal")        # a seed row
    customers = [Customer(id=1, email="a@b.pt", country=portugal, full_name="Ana")]

Types: `int` is int64, `str` string, `float` float, `bytes` byte[],
`X | None` (or `Optional[X]`) an option, a table class a reference.
Class decorators: PK, AutoIncPK, Unique, Index, Default, DefaultExpr,
OnDeleteCascade, OnDeleteSetNull, View, Join, ViewSql, PreviousName,
DropColumn, DropTable, and the query attributes SelectBy, SelectOneBy,
SelectAll, SelectLike, OrderBy, SelectByOrInsert, InsertOrIgnore, UpdateBy,
DeleteBy (`order_by=` is F#'s `OrderBy =`). A field attribute goes in
`Annotated[type, PreviousName("old")]`. A union case is
`Name = Case(first, *more, **named)`: each positional item a type or a
`("name", type)` pair, then named fields. Seed rows are module-level names
bound to an instance or a list of instances; `replace(row, **changes)` is
F#'s `{ row with … }`. Differences from F#: forward references need quotes
(`"Album | None"`) and are allowed anywhere, like one `and` group; a float
field takes an `int` value; a view field written in snake_case is matched as
its camelCase (`warehouse_name` is `warehouseName`).
"""

from __future__ import annotations

import sys
from types import CodeType
from typing import Annotated, Any, Callable, Optional, TypeVar

__all__ = [
    "PK", "AutoIncPK", "Unique", "Index", "Default", "DefaultExpr",
    "OnDeleteCascade", "OnDeleteSetNull", "View", "Join", "ViewSql",
    "SelectBy", "SelectOneBy", "SelectAll", "SelectLike", "OrderBy",
    "SelectByOrInsert", "InsertOrIgnore", "UpdateBy", "DeleteBy",
    "PreviousName", "DropColumn", "DropTable", "Convert",
    "Union", "Case", "replace", "Annotated", "Optional",
]

C = TypeVar("C", bound=type)

Site = tuple[str, int, Optional[int]]  # file, line, column in UTF-8 bytes from 0 (None: unknown)

_ATTRS = "__mig_attrs__"
_VALUES = "__mig_values__"
_SITE = "__mig_site__"


def _site() -> Site | None:
    """Where the user's code called into this module (first frame outside it)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return None
    positions = _positions(frame.f_code)
    index = frame.f_lasti // 2
    line, _, col, _ = positions[index] if index < len(positions) else (None, None, None, None)
    return frame.f_code.co_filename, line or frame.f_lineno, col


_Positions = list[tuple[Optional[int], Optional[int], Optional[int], Optional[int]]]
_POSITIONS: dict[int, tuple[CodeType, _Positions]] = {}  # by id: hashing a code object reads all of it


def _positions(code: CodeType) -> _Positions:
    """Instruction positions, cached: a seed list of 10,000 rows calls in 10,000 times."""
    cached = _POSITIONS.get(id(code))
    if cached is None or cached[0] is not code:
        if len(_POSITIONS) > 64:
            _POSITIONS.clear()
        cached = _POSITIONS[id(code)] = (code, list(code.co_positions()))
    return cached[1]


class Marker:
    """One attribute as written, like F#'s `[<Name(args)>]`; a class decorator."""

    __slots__ = ("name", "args", "kwargs", "site")

    def __init__(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.name, self.args, self.kwargs = name, args, kwargs
        self.site = _site()

    def __call__(self, target: C) -> C:
        if not isinstance(target, type):
            raise TypeError(f"@{self.name}(...) decorates a class, not {target!r}")
        own = list(target.__dict__.get(_ATTRS, []))
        setattr(target, _ATTRS, [self, *own])  # decorators apply bottom-up: keep source order
        make_record(target)
        return target

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"


def _marker(name: str, *args: Any, **kwargs: Any) -> Marker:
    return Marker(name, args, {k: v for k, v in kwargs.items() if v is not None})


def _flag(name: str) -> Callable[..., Any]:
    """An attribute usable bare (`@View`) or called (`@View()`, `@SelectAll(order_by=…)`)."""

    def attribute(target: Any = None, **kwargs: Any) -> Any:
        if isinstance(target, type) and not kwargs:
            return _marker(name)(target)
        return _marker(name, *(() if target is None else (target,)), **kwargs)

    attribute.__name__ = attribute.__qualname__ = name
    attribute.__doc__ = f"[<{name}>]: use bare (@{name}) or called."
    return attribute


# ---------------------------------------------------------------- attributes

def PK(field: str) -> Marker:
    """The primary key field (not AUTOINCREMENT)."""
    return _marker("PK", field)


def AutoIncPK(field: str) -> Marker:
    """An int field as INTEGER PRIMARY KEY AUTOINCREMENT."""
    return _marker("AutoIncPK", field)


def Unique(*columns: str) -> Marker:
    return _marker("Unique", *columns)


def Index(*columns: str) -> Marker:
    return _marker("Index", *columns)


def Default(column: str, value: str | int | float | None) -> Marker:
    """A literal default; numbers and None may be given as Python values."""
    text: Any = value
    if value is None:
        text = "NULL"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = repr(value)
    return Marker("Default", (column, text), {})


def DefaultExpr(column: str, sql: str) -> Marker:
    return _marker("DefaultExpr", column, sql)


def OnDeleteCascade(column: str) -> Marker:
    return _marker("OnDeleteCascade", column)


def OnDeleteSetNull(column: str) -> Marker:
    return _marker("OnDeleteSetNull", column)


View = _flag("View")


def Join(left: type, right: type) -> Marker:
    """Join two table classes (classes, not names) in a @View."""
    return _marker("Join", left, right)


def ViewSql(sql: str) -> Marker:
    return _marker("ViewSql", sql)


def SelectBy(*columns: str, order_by: str | None = None) -> Marker:
    return _marker("SelectBy", *columns, OrderBy=order_by)


def SelectOneBy(*columns: str, order_by: str | None = None) -> Marker:
    return _marker("SelectOneBy", *columns, OrderBy=order_by)


def SelectAll(target: Any = None, *, order_by: str | None = None) -> Any:
    """Bare (`@SelectAll`) or with `order_by=`."""
    if isinstance(target, type):
        return _marker("SelectAll")(target)
    return _marker("SelectAll", *(() if target is None else (target,)), OrderBy=order_by)


def SelectLike(column: str) -> Marker:
    return _marker("SelectLike", column)


def OrderBy(text: str) -> Marker:
    return _marker("OrderBy", text)


def SelectByOrInsert(*columns: str) -> Marker:
    return _marker("SelectByOrInsert", *columns)


InsertOrIgnore = _flag("InsertOrIgnore")


def UpdateBy(column: str) -> Marker:
    return _marker("UpdateBy", column)


def DeleteBy(column: str) -> Marker:
    return _marker("DeleteBy", column)


def PreviousName(old: str) -> Marker:
    """On a class: the table's old name. In `Annotated[...]`: the column's old name."""
    return _marker("PreviousName", old)


def DropColumn(old: str) -> Marker:
    return _marker("DropColumn", old)


def DropTable(old: str) -> Marker:
    return _marker("DropTable", old)


def Convert(expr: str, back: str | None = None) -> Marker:
    """In `Annotated[...]`: the column's value computed from the old row (SQL over its old columns);
    `back`, the old column's value computed from the new row, for `mig revert`."""
    return _marker("Convert", expr, back=back)


# ---------------------------------------------------------------- unions

class Union:
    """Base of a union; its `Name = Case(...)` attributes may declare extension tables."""


class Case:
    """One union case: `Case(Base, str)`, `Case(Base, grams=int)`, `Case(("owner", Base), bytes)`."""

    def __init__(self, *fields: Any, **named: Any) -> None:
        self.fields, self.named = fields, named
        self.site = _site()


# ---------------------------------------------------------------- rows

def _record_init(self: Any, *args: Any, **values: Any) -> None:
    if args:
        name = type(self).__name__
        raise TypeError(f"{name}(...) takes keyword arguments only, like {name}(id=1, ...)")
    self.__dict__[_VALUES] = dict(values)
    self.__dict__[_SITE] = _site()
    for key, value in values.items():
        self.__dict__[key] = value


def _record_repr(self: Any) -> str:
    values = ", ".join(f"{k}={v!r}" for k, v in record_values(self).items())
    return f"{type(self).__name__}({values})"


def make_record(cls: type) -> None:
    """Give a table class a keyword-only constructor that remembers where it was called."""
    if issubclass(cls, Union) or "__init__" in cls.__dict__:
        return
    setattr(cls, "__init__", _record_init)
    if "__repr__" not in cls.__dict__:
        setattr(cls, "__repr__", _record_repr)


def record_values(row: Any) -> dict[str, Any]:
    """The keyword values a row was built with, in the order given."""
    return dict(row.__dict__.get(_VALUES, {}))


def record_site(row: Any) -> Site | None:
    return row.__dict__.get(_SITE)  # type: ignore[no-any-return]


def is_row(value: Any) -> bool:
    return isinstance(getattr(value, "__dict__", None), dict) and _VALUES in value.__dict__


def replace(row: Any, **changes: Any) -> Any:
    """A copy of `row` with some fields changed: F#'s `{ row with field = … }`."""
    return type(row)(**{**record_values(row), **changes})


def attrs_of(cls: type) -> list[Marker]:
    return list(cls.__dict__.get(_ATTRS, []))
