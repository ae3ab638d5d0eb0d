"""compare() as a table: (old model, target model) -> the plan's decisions. No database."""

from __future__ import annotations

import pytest

from mig.model import Column, DropColumn, DropTable, ForeignKey, RenameColumn, RenameTable, Schema, Table
from mig.plan.compare import compare, copy_order

ID = Column("id", "INTEGER", True)
NAME = Column("name", "TEXT", True)


def t(name: str, *cols: Column, pk: tuple[str, ...] = ("id",), **kw: object) -> Table:
    return Table(name, cols, pk, **kw)  # type: ignore[arg-type]


def sources(plan, table: str) -> dict[str, tuple[str | None, str]]:
    tp = plan.table(table)
    return {c.target: (c.source, c.how) for c in tp.columns}


CASES = [
    pytest.param(
        Schema(tables=(t("a", ID, NAME),)),
        Schema(tables=(t("a", ID, NAME),)),
        {"a": {"id": ("id", "same"), "name": ("name", "same")}}, id="unchanged"),
    pytest.param(
        Schema(tables=(t("a", ID, NAME),)),
        Schema(tables=(t("a", ID, NAME, Column("age", "INTEGER", False, "0")),)),
        {"a": {"id": ("id", "same"), "name": ("name", "same"), "age": (None, "default")}},
        id="new column takes its default"),
    pytest.param(
        Schema(tables=(t("a", ID, NAME),)),
        Schema(tables=(t("a", ID, Column("title", "TEXT", True)),),
               rename_columns=(RenameColumn("a", "name", "title"),)),
        {"a": {"id": ("id", "same"), "title": ("name", "renamed")}}, id="declared column rename"),
    pytest.param(
        Schema(tables=(t("a", ID, NAME),)),
        Schema(tables=(t("a", ID, Column("title", "TEXT", False)),)),
        {"a": {"id": ("id", "same"), "title": (None, "default")}}, id="renames are never guessed"),
    pytest.param(
        Schema(tables=(t("old_a", ID, NAME),)),
        Schema(tables=(t("a", ID, NAME),), rename_tables=(RenameTable("old_a", "a"),)),
        {"a": {"id": ("id", "same"), "name": ("name", "same")}}, id="declared table rename"),
    pytest.param(
        Schema(tables=(t("k", NAME, pk=()),)),
        Schema(tables=(t("k", Column("id", "INTEGER", False), NAME),)),
        {"k": {"id": ("rowid", "rowid"), "name": ("name", "same")}},
        id="new INTEGER PRIMARY KEY on a keyless table takes the rowid"),
]


@pytest.mark.parametrize("old,target,expected", CASES)
def test_column_sources(old: Schema, target: Schema, expected: dict) -> None:
    plan = compare(old, target)
    for table, cols in expected.items():
        assert sources(plan, table) == cols


def test_renamed_table_plan_records_source_and_how() -> None:
    plan = compare(Schema(tables=(t("old_a", ID),)),
                   Schema(tables=(t("a", ID),), rename_tables=(RenameTable("old_a", "a"),)))
    tp = plan.table("a")
    assert (tp.source, tp.how) == ("old_a", "renamed")
    assert plan.dropped_tables == ()


def test_new_table_is_created_empty() -> None:
    plan = compare(Schema(), Schema(tables=(t("a", ID),)))
    assert plan.table("a").how == "create" and plan.table("a").source is None
    assert plan.checks == ()


def test_undeclared_drops_become_data_checks_declared_ones_do_not() -> None:
    old = Schema(tables=(t("a", ID, NAME), t("gone", ID)))
    undeclared = compare(old, Schema(tables=(t("a", ID),)))
    assert undeclared.dropped_tables == ("gone",)
    assert {(c.table, c.column) for c in undeclared.checks} >= {("a", "name"), ("gone", None)}
    declared = compare(old, Schema(tables=(t("a", ID),), drop_tables=(DropTable("gone"),),
                                   drop_columns=(DropColumn("a", "name"),)))
    assert declared.declared_drops == ("gone",)
    assert not [c for c in declared.checks if c.column == "name" or c.table == "gone"]


def test_dropping_the_old_key_column_is_refused_without_data() -> None:
    old = Schema(tables=(t("a", Column("code", "TEXT", True), NAME, pk=("code",)),))
    target = Schema(tables=(t("a", NAME, pk=()),), drop_columns=(DropColumn("a", "code"),))
    plan = compare(old, target)
    assert [r.column for r in plan.refusals] == ["code"]


def test_keys_used_to_match_rows() -> None:
    old = Schema(tables=(t("a", ID, NAME), t("k", NAME, pk=()),
                         t("c", Column("x", "TEXT", True), Column("y", "TEXT", True), pk=("x", "y"),
                           without_rowid=True)))
    plan = compare(old, old)
    assert (plan.table("a").old_key, plan.table("a").new_key) == (("id",), ("id",))
    assert (plan.table("k").old_key, plan.table("k").copy_rowid) == (("rowid",), True)
    assert plan.table("c").chunk_key == ("x", "y")


def test_copy_order_puts_parents_first_and_is_deterministic() -> None:
    child = t("child", ID, Column("p", "INTEGER"), foreign_keys=(ForeignKey(("p",), "parent", ("id",)),))
    schema = Schema(tables=(child, t("parent", ID), t("aaa", ID)))
    assert copy_order(schema) == ["aaa", "parent", "child"]
    assert compare(schema, schema).to_json() == compare(schema, schema).to_json()


def test_plan_survives_json() -> None:
    from mig.plan.ops import Plan

    plan = compare(Schema(tables=(t("a", ID, NAME),)), Schema(tables=(t("a", ID, NAME),)))
    assert Plan.from_json(plan.to_json()).tables == plan.tables
