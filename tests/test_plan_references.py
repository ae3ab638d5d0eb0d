"""Which foreign keys the plan scans before the copy: only those the change touches. No database.

An untouched reference (the old database had it, over the same values,
matched the same way) is checked by drain's full foreign_key_check instead,
before it blocks writes; see docs/design.md, "Plan refusals".
"""

from __future__ import annotations

import pytest

from mig.model import Column, ForeignKey, RenameColumn, RenameTable, Schema, Table
from mig.plan.compare import compare

ID = Column("id", "INTEGER", True)
CODE = Column("code", "TEXT", True)
P = Column("p", "INTEGER")


def t(name: str, *cols: Column, pk: tuple[str, ...] = ("id",), **kw: object) -> Table:
    return Table(name, cols, pk, **kw)  # type: ignore[arg-type]


def fk(cols: tuple[str, ...], ref: str, ref_cols: tuple[str, ...] = ("id",), **kw: object) -> ForeignKey:
    return ForeignKey(cols, ref, ref_cols, **kw)  # type: ignore[arg-type]


PARENT = t("parent", ID, CODE, uniques=(("code",),))
CHILD = t("child", ID, P, foreign_keys=(fk(("p",), "parent"),))


def scanned(old: Schema, target: Schema) -> list[tuple[str, str | None]]:
    """(table, columns) of every foreign-key check the plan would run before the copy."""
    return [(c.table, c.column) for c in compare(old, target).checks if c.kind == "foreign-key"]


BEFORE = Schema(tables=(PARENT, CHILD))

CASES = [
    # -- untouched: drain checks them
    pytest.param(BEFORE, BEFORE, [], id="unchanged"),
    pytest.param(BEFORE, Schema(tables=(PARENT, t("child", ID, P, Column("x", "TEXT"),
                                                  foreign_keys=(fk(("p",), "parent"),)))),
                 [], id="another column added beside it"),
    pytest.param(BEFORE, Schema(tables=(PARENT, t("child", ID, P, foreign_keys=(
        fk(("p",), "parent", on_delete="CASCADE", deferred=True),)))), [], id="only its actions change"),
    pytest.param(BEFORE, Schema(tables=(PARENT, t("child", ID, Column("p", "BIGINT"),
                                                  foreign_keys=(fk(("p",), "parent"),)))),
                 [], id="a type of the same affinity"),
    pytest.param(Schema(tables=(PARENT, t("child", ID, P, foreign_keys=(fk(("p",), "parent", ()),)))),
                 BEFORE, [], id="the parent's key named where the old one left it implicit"),
    pytest.param(BEFORE, Schema(tables=(PARENT, t("child", ID, Column("parent_id", "INTEGER"),
                                                  foreign_keys=(fk(("parent_id",), "parent"),))),
                                rename_columns=(RenameColumn("child", "p", "parent_id"),)),
                 [], id="child column renamed"),
    pytest.param(BEFORE, Schema(tables=(t("owner", ID, CODE, uniques=(("code",),)),
                                        t("child", ID, P, foreign_keys=(fk(("p",), "owner"),))),
                                rename_tables=(RenameTable("parent", "owner"),)),
                 [], id="parent table renamed"),
    pytest.param(
        Schema(tables=(t("pp", Column("a", "INTEGER"), Column("b", "TEXT"), pk=("a", "b")),
                       t("c", ID, Column("x", "INTEGER"), Column("y", "TEXT"),
                         foreign_keys=(fk(("x", "y"), "pp", ("a", "b")),)))),
        Schema(tables=(t("pp", Column("a", "INTEGER"), Column("b", "TEXT"), pk=("a", "b")),
                       t("c", ID, Column("x", "INTEGER"), Column("y", "TEXT"),
                         foreign_keys=(fk(("y", "x"), "pp", ("b", "a")),)))),
        [], id="composite key written in another order"),
    # -- touched: the plan scans them before the copy
    pytest.param(Schema(tables=(PARENT, t("child", ID, P))), BEFORE, [("child", "p")], id="new foreign key"),
    pytest.param(BEFORE, Schema(tables=(PARENT, t("child", ID, Column("p", "TEXT"),
                                                  foreign_keys=(fk(("p",), "parent", ("code",)),)))),
                 [("child", "p")], id="now references another parent column"),
    pytest.param(Schema(tables=(PARENT, t("other", ID), CHILD)),
                 Schema(tables=(PARENT, t("other", ID), t("child", ID, P, foreign_keys=(fk(("p",), "other"),)))),
                 [("child", "p")], id="now references another table"),
    pytest.param(Schema(tables=(PARENT, t("child", ID, P, Column("q", "INTEGER"),
                                          foreign_keys=(fk(("p",), "parent"),)))),
                 Schema(tables=(PARENT, t("child", ID, P, Column("q", "INTEGER"),
                                          foreign_keys=(fk(("q",), "parent"),)))),
                 [("child", "q")], id="now from another child column"),
    pytest.param(BEFORE, Schema(tables=(PARENT, t("child", ID, Column("p", "TEXT"),
                                                  foreign_keys=(fk(("p",), "parent"),)))),
                 [("child", "p")], id="child column changes affinity"),
    pytest.param(BEFORE, Schema(tables=(t("parent", Column("id", "NUMERIC", True), CODE,
                                          uniques=(("code",),)), CHILD)),
                 [("child", "p")], id="parent column changes affinity"),
    pytest.param(
        Schema(tables=(PARENT, t("child", ID, Column("c", "TEXT"), foreign_keys=(fk(("c",), "parent", ("code",)),)))),
        Schema(tables=(t("parent", ID, Column("code", "TEXT", True, collation="NOCASE"), uniques=(("code",),)),
                       t("child", ID, Column("c", "TEXT"), foreign_keys=(fk(("c",), "parent", ("code",)),)))),
        [("child", "c")], id="parent column changes collation"),
    pytest.param(
        Schema(tables=(PARENT, t("child", ID, Column("c", "TEXT"), foreign_keys=(fk(("c",), "parent", ("code",)),)))),
        Schema(tables=(PARENT, t("child", ID, Column("c", "TEXT", collation="NOCASE"),
                                 foreign_keys=(fk(("c",), "parent", ("code",)),)))),
        [("child", "c")], id="child column changes collation"),
    pytest.param(
        Schema(tables=(t("parent", Column("id", "ANY", True)), t("child", ID, Column("p", "ANY"),
                                                                foreign_keys=(fk(("p",), "parent"),)))),
        Schema(tables=(t("parent", Column("id", "ANY", True), strict=True),
                       t("child", ID, Column("p", "ANY"), foreign_keys=(fk(("p",), "parent"),)))),
        [("child", "p")], id="parent becomes STRICT: ANY no longer converts"),
    pytest.param(Schema(tables=(PARENT, t("child", ID))),
                 Schema(tables=(PARENT, t("child", ID, Column("p", "INTEGER", default="1"),
                                          foreign_keys=(fk(("p",), "parent"),)))),
                 [("child", "p")], id="a new column that takes its default"),
    pytest.param(BEFORE, Schema(tables=(t("parent2", ID, CODE, uniques=(("code",),)), t("parent", ID, CODE),
                                        t("child", ID, P, foreign_keys=(fk(("p",), "parent"),))),
                                rename_tables=(RenameTable("parent", "parent2"),)),
                 [("child", "p")], id="parent renamed away, a new empty table of its name referenced"),
    pytest.param(
        Schema(tables=(t("pp", Column("a", "INTEGER"), Column("b", "INTEGER"), pk=("a", "b")),
                       t("c", ID, Column("x", "INTEGER"), Column("y", "INTEGER"),
                         foreign_keys=(fk(("x", "y"), "pp", ("a", "b")),)))),
        Schema(tables=(t("pp", Column("a", "INTEGER"), Column("b", "INTEGER"), pk=("a", "b")),
                       t("c", ID, Column("x", "INTEGER"), Column("y", "INTEGER"),
                         foreign_keys=(fk(("x", "y"), "pp", ("b", "a")),)))),
        [("c", "x, y")], id="composite key with its pairs swapped"),
]


@pytest.mark.parametrize("old,target,expected", CASES)
def test_only_references_the_change_touches_are_scanned(old: Schema, target: Schema,
                                                        expected: list[tuple[str, str]]) -> None:
    assert scanned(old, target) == expected


def test_an_untouched_reference_keeps_its_other_checks() -> None:
    """Skipping the reference scan skips nothing else about the same column."""
    target = Schema(tables=(PARENT, t("child", ID, Column("p", "INTEGER", True), foreign_keys=(fk(("p",), "parent"),))))
    checks = compare(BEFORE, target).checks
    assert [(c.table, c.column, c.kind) for c in checks] == [("child", "p", "")]
    assert "NOT NULL" in checks[0].reason
