"""A client changes what migrate left in the old database: every command says what and the way out.

A marker deleted while recording used to send the operator in a loop (migrate:
"already migrated; next: mig drain", drain: "run `mig migrate` first"); a
column renamed since migrate made verify print `no such column: o.name`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from clihelp import mig_here, project

from mig import commands
from mig.errors import WrongState

OLD = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'a');"
NEW = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, w TEXT);"
LOST = "the old database's migration marker is gone"


def _old(d: Path) -> Path:
    return next(d.glob("proj-0*.sqlite"))


def _client(db: Path, sql: str) -> None:
    conn = sqlite3.connect(db)
    conn.executescript(sql)
    conn.close()


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    d = project(tmp_path, OLD, NEW)
    commands.migrate_command(commands.Inputs(d))
    return d


@pytest.mark.parametrize("tamper", [
    "DELETE FROM _migration_marker; INSERT INTO t VALUES (2, 'b');",
    "DROP TABLE _migration_marker;",  # the service's writes then fail: capture reads the marker
], ids=["row deleted", "table dropped"])
def test_a_marker_removed_while_recording_is_diagnosed_by_every_command(migrated: Path, tamper: str) -> None:
    _client(_old(migrated), tamper)
    for command in ("status", "plan", "migrate", "drain", "cutover", "verify", "cleanup-old"):
        out = mig_here(command, "--dir", str(migrated))
        assert out.returncode == 1, (command, out.stdout, out.stderr)
        assert out.stderr.startswith(f"{command} failed: {LOST}"), out.stderr
        assert out.stderr.rstrip().endswith("run `mig abort`, then `mig migrate` again")
    # The one way out, followed as written.
    abort = commands.abort_command(commands.Inputs(migrated))
    assert abort.previous_marker == "lost" and abort.removed_capture and abort.removed_new
    again = commands.migrate_command(commands.Inputs(migrated))
    assert again.copied_rows == (2 if "INSERT" in tamper else 1)


def test_verify_names_the_column_gone_since_migrate_and_the_undo_works(migrated: Path) -> None:
    _client(_old(migrated), "ALTER TABLE t RENAME COLUMN name TO nom;")
    with pytest.raises(WrongState) as caught:
        commands.verify_command(commands.Inputs(migrated))
    assert "schema changed since `mig migrate` (column t.name is gone); undo that change" in str(caught.value)
    _client(_old(migrated), "ALTER TABLE t RENAME COLUMN nom TO name;")
    assert commands.verify_command(commands.Inputs(migrated)).ok


def test_verify_refuses_any_other_schema_change_in_words(migrated: Path) -> None:
    _client(_old(migrated), "CREATE INDEX t_name ON t(name);")
    with pytest.raises(WrongState) as caught:
        commands.verify_command(commands.Inputs(migrated))
    assert "a table, column, index, view or trigger was created, changed or dropped" in str(caught.value)
