"""A declared rename or drop that names nothing in the old database is an error at its line.

A typo in a rename is a lost rename: the column would silently start from its
default. Each case below is one declaration and what the error must say; the
old database and everything beside it stay as they were.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clihelp import mig_here, project, snapshot

from mig import commands
from mig.errors import SchemaInputError

OLD = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w TEXT); INSERT INTO t VALUES (1, 'abc', 'x');"
NEW = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w TEXT, fresh TEXT);\n"

SQL_CASES = [  # directive, what the message names
    ("-- mig:rename-table nosuch t", "declared rename of table nosuch to t: the old database has no table nosuch"),
    ("-- mig:rename-column t nosuch fresh",
     "declared rename of column t.nosuch to fresh: the old database's table t has no column nosuch"),
    ("-- mig:drop-column t nosuch", "declared drop of column t.nosuch: the old database's table t has no column nosuch"),
    ("-- mig:drop-table nosuch", "declared drop of table nosuch: the old database has no table nosuch"),
]


@pytest.mark.parametrize("directive, says", SQL_CASES, ids=[c[0].split()[1] for c in SQL_CASES])
def test_a_directive_naming_nothing_is_an_error_at_its_line(tmp_path: Path, directive: str, says: str) -> None:
    d = project(tmp_path, OLD, NEW + "-- a comment line\n" + directive + "\n")
    before = snapshot(d)
    for command in ("plan", "migrate"):
        out = mig_here(command, "--dir", str(d))
        assert out.returncode == 1, out.stderr
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
        assert f"schema.sql:3:4: {says}" in out.stderr, out.stderr
        assert "correct the name, or remove the declaration" in out.stderr
        assert snapshot(d) == before


def test_a_python_schema_declaration_naming_nothing_points_at_its_line(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, "")
    (d / "schema.sql").unlink()
    (d / "schema.py").write_text(
        "from mig.dsl import *\n\n\n"
        "class T:\n"
        "    id: int\n"
        "    v: Annotated[str, PreviousName(\"vv\")]\n"
        "    w: str\n")
    with pytest.raises(SchemaInputError) as caught:
        commands.plan_command(commands.Inputs(d))
    assert caught.value.line == 6, str(caught.value)
    assert "declared rename of column t.vv to v: the old database's table t has no column vv" in str(caught.value)


def test_the_same_directives_naming_what_exists_still_plan(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, "CREATE TABLE t (id INTEGER PRIMARY KEY, v2 TEXT);\n"
                               "-- mig:rename-column t v v2\n-- mig:drop-column t w\n")
    report = commands.plan_command(commands.Inputs(d))
    assert not report.plan.refusals
    assert [c.source for c in report.plan.tables[0].columns] == ["id", "v"]
