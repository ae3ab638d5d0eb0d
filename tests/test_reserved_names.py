"""A user's own table under one of mig's bookkeeping names is refused up front, by name.

mig would read it as its own (`no such column: seq`) or skip it as its own and
never copy its rows. A table mig made under that name in an earlier migration
(a former target is the next migration's old database) is mig's, not refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clihelp import mig_here, project, snapshot

from mig import commands
from mig.errors import WrongState

OLD = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');"
NEW = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w TEXT);"

IMPOSTORS = [  # the user's object, what the refusal names
    ("CREATE TABLE _migration_log (a, b)", "table _migration_log (a, b)"),
    ("CREATE TABLE _migration_marker (id INTEGER PRIMARY KEY, note TEXT)", "table _migration_marker (id, note)"),
    ("CREATE TABLE _id_mapping (tbl, old_key)", "table _id_mapping (tbl, old_key)"),
    ("CREATE TABLE _Migration_Status (x)", "table _Migration_Status (x)"),
    ("CREATE VIEW _schema_identity AS SELECT 1 AS id, 'h' AS schema_hash", "view _schema_identity (id, schema_hash)"),
]


@pytest.mark.parametrize("ddl, named", IMPOSTORS, ids=[n.split(" (")[0] for _, n in IMPOSTORS])
def test_a_users_table_under_a_mig_name_is_refused_before_anything_changes(
        tmp_path: Path, ddl: str, named: str) -> None:
    d = project(tmp_path, OLD + ddl + ";", NEW)
    before = snapshot(d)
    for call in (commands.plan_command, commands.migrate_command, commands.status_command):
        with pytest.raises(WrongState) as caught:
            call(commands.Inputs(d))
        assert f"the old database has its own {named}, under a name mig keeps" in str(caught.value)
        assert snapshot(d) == before


def test_the_cli_says_it_in_one_line(tmp_path: Path) -> None:
    d = project(tmp_path, OLD + "CREATE TABLE _migration_log (a, b);", NEW)
    out = mig_here("migrate", "--dir", str(d))
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("migrate failed: the old database has its own table _migration_log (a, b)")
    assert "rename it there" in out.stderr


def test_a_former_target_with_mig_s_own_tables_migrates_again(tmp_path: Path) -> None:
    first = project(tmp_path, OLD, NEW, name="one")
    commands.migrate_command(commands.Inputs(first))
    commands.drain_command(commands.Inputs(first))
    cut = commands.cutover_command(commands.Inputs(first))
    second = tmp_path / "two"
    second.mkdir()
    (second / "schema.sql").write_text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w TEXT, x TEXT);")
    (second / "two-0000000000000001.sqlite").write_bytes(Path(cut.new).read_bytes())
    with pytest.raises(WrongState, match="revert window is still open"):  # the first migration goes on
        commands.migrate_command(commands.Inputs(second))
    commands.cleanup_old_command(commands.Inputs(first))
    (second / "two-0000000000000001.sqlite").write_bytes(Path(cut.new).read_bytes())
    report = commands.migrate_command(commands.Inputs(second))
    assert report.copied_rows == 1


def test_a_user_table_merely_starting_like_mig_s_is_data(tmp_path: Path) -> None:
    d = project(tmp_path, OLD + "CREATE TABLE _migrations (v); INSERT INTO _migrations VALUES (7);",
                NEW + "CREATE TABLE _migrations (v);")
    report = commands.migrate_command(commands.Inputs(d))
    assert report.copied_rows == 2
