"""`mig revert` (issue 19): after cutover, the new service's writes go back to the old
database through the reverse plan, and the pair stands where migrate left it.

Real files, the commands in-process (the process boundary, kills and concurrent
writers are tests/test_revert_invariants.py's); the CLI surface through mig_here.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from clihelp import mig_here, project

from mig import commands
from mig.errors import WrongState

OLD = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, nick TEXT, legacy TEXT DEFAULT 'x');
CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER REFERENCES users(id), body TEXT);
CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT);
CREATE TRIGGER posts_audit AFTER INSERT ON posts BEGIN INSERT INTO audit (what) VALUES ('post ' || NEW.id); END;
INSERT INTO users (name, nick, legacy) VALUES ('a', 'aa', 'L1'), ('b', 'bb', 'L2');
INSERT INTO posts (user_id, body) VALUES (1, 'p1'), (2, 'p2');
"""
NEW = """
-- mig:rename-column users nick handle
-- mig:drop-column users legacy
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, handle TEXT, email TEXT);
CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER REFERENCES users(id), body TEXT);
CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT);
CREATE TRIGGER posts_audit AFTER INSERT ON posts BEGIN INSERT INTO audit (what) VALUES ('post ' || NEW.id); END;
CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT);
"""


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _write(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for sql in statements:
            conn.execute(sql)
    finally:
        conn.close()


def _cut_over(tmp_path: Path, old: str = OLD, new: str = NEW) -> tuple[commands.Inputs, Path, Path]:
    d = project(tmp_path, old, new)
    inputs = commands.Inputs(d)
    migrated = commands.migrate_command(inputs)
    commands.drain_command(inputs)
    commands.cutover_command(inputs)
    assert migrated.old is not None
    return inputs, Path(migrated.old), Path(migrated.new)


def _new_service_writes(new: Path) -> None:
    _write(new, "INSERT INTO users (name, handle, email) VALUES ('c', 'cc', 'c@x')",
           "UPDATE users SET handle = 'AA2' WHERE id = 1",
           "DELETE FROM posts WHERE id = 2",
           "INSERT INTO posts (user_id, body) VALUES (3, 'p3')",
           "INSERT INTO tags (label) VALUES ('only new')")


def test_the_new_service_s_writes_go_back_through_the_reverse_mapping(tmp_path: Path) -> None:
    inputs, old, new = _cut_over(tmp_path)
    _new_service_writes(new)
    report = commands.revert_command(inputs)
    assert (report.replayed, report.left_behind) == (5, ["users.email"])  # tags: a new table
    # The renamed column back under its old name; the dropped one kept from the old row, its
    # default for the row the new service inserted; the column only the new schema has left.
    assert _rows(old, "SELECT * FROM users") == [(1, "a", "AA2", "L1"), (2, "b", "bb", "L2"), (3, "c", "cc", "x")]
    assert _rows(old, "SELECT * FROM posts") == [(1, 1, "p1"), (3, 3, "p3")]
    # The audit row the new database's trigger wrote came back once: the old trigger was
    # kept aside while replaying, and is back for the old service.
    assert _rows(old, "SELECT what FROM audit") == [("post 1",), ("post 2",), ("post 3",)]
    assert _rows(old, "SELECT seq FROM sqlite_sequence WHERE name = 'posts'") == [(3,)]
    _write(old, "INSERT INTO posts (user_id, body) VALUES (1, 'old service again')")
    assert _rows(old, "SELECT what FROM audit WHERE id = 4") == [("post 4",)]


def test_after_a_revert_the_pair_stands_where_migrate_left_it(tmp_path: Path) -> None:
    inputs, old, new = _cut_over(tmp_path)
    _new_service_writes(new)
    commands.revert_command(inputs)
    status = commands.status_command(inputs)
    assert (status.marker_status, status.migration_status, status.revert_window) == \
        ("recording", "migrating", "reverted")
    with pytest.raises(sqlite3.IntegrityError, match="accepts no writes until `mig cutover`"):
        _write(new, "INSERT INTO tags (label) VALUES ('refused')")
    # The old service writes (and is recorded); drain and cutover go forward again.
    _write(old, "UPDATE users SET nick = 'bb2' WHERE id = 2", "INSERT INTO users (name) VALUES ('d')")
    commands.drain_command(inputs)
    commands.cutover_command(inputs)
    assert _rows(new, "SELECT id, handle FROM users ORDER BY id") == [(1, "AA2"), (2, "bb2"), (3, "cc"), (4, None)]
    assert commands.verify_command(inputs).ok
    assert commands.status_command(inputs).revert_window == "open"  # the next window


def test_a_revert_run_again_changes_nothing(tmp_path: Path) -> None:
    inputs, old, new = _cut_over(tmp_path)
    _new_service_writes(new)
    commands.revert_command(inputs)
    before = _rows(old, "SELECT * FROM users")
    again = commands.revert_command(inputs)
    assert (again.previous_status, again.replayed) == ("reverted", 0)
    assert _rows(old, "SELECT * FROM users") == before


def test_abort_after_a_revert_leaves_the_old_database_as_its_service_made_it(tmp_path: Path) -> None:
    inputs, old, new = _cut_over(tmp_path)
    _new_service_writes(new)
    commands.revert_command(inputs)
    commands.abort_command(inputs)
    assert not new.exists()
    names = [r[0] for r in _rows(old, "SELECT name FROM sqlite_master")]
    assert not [n for n in names if n.startswith(("_mig", "_migration"))]
    assert "posts_audit" in names


def test_cleanup_old_ends_the_revert_window(tmp_path: Path) -> None:
    inputs, old, new = _cut_over(tmp_path)
    assert commands.status_command(inputs).revert_window == "open"
    cleaned = commands.cleanup_old_command(inputs)
    assert cleaned.closed_revert_window
    names = [r[0] for r in _rows(new, "SELECT name FROM sqlite_master")]
    assert not [n for n in names if n.startswith("_mig_") or n in ("_migration_revert", "_migration_log")], names
    with pytest.raises(WrongState, match="revert window of .* is closed: `mig cleanup-old` ended it"):
        commands.revert_command(commands.Inputs(inputs.dir, new=new))


def test_a_change_that_cannot_be_reverted_migrates_and_revert_says_why(tmp_path: Path) -> None:
    dropped_not_null = NEW.replace(", name TEXT NOT NULL", "") + "-- mig:drop-column users name\n"
    inputs, old, new = _cut_over(tmp_path, new=dropped_not_null)
    names = [r[0] for r in _rows(new, "SELECT name FROM sqlite_master")]
    assert "_migration_revert" not in names and not [n for n in names if n.startswith("_mig_capture")]
    out = mig_here("revert", "--dir", str(inputs.dir))
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "cannot be reverted with nothing lost: users.name is dropped" in out.stderr
    _write(new, "INSERT INTO tags (label) VALUES ('still serving')")


def test_revert_before_cutover_points_to_abort(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    commands.migrate_command(commands.Inputs(d))
    out = mig_here("revert", "--dir", str(d))
    assert out.returncode == 1
    assert "is not cut over (status migrating); before cutover the way back is `mig abort`" in out.stderr


def test_a_row_the_old_schema_refuses_gives_the_new_database_its_writes_back(tmp_path: Path) -> None:
    # Both schemas hold the CHECK, so the plan says reversible; a client that turned CHECKs
    # off wrote a row past it: only the data can tell, and revert refuses it by name.
    checked = "name TEXT NOT NULL CHECK (length(name) > 0)"
    inputs, old, new = _cut_over(tmp_path, OLD.replace("name TEXT NOT NULL", checked),
                                 NEW.replace("name TEXT NOT NULL", checked))
    conn = sqlite3.connect(new, isolation_level=None)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute("INSERT INTO users (name) VALUES ('')")
    conn.close()
    out = mig_here("revert", "--dir", str(inputs.dir))
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "rows the new service wrote cannot go back to the old database" in out.stderr
    assert "the new database takes writes again" in out.stderr
    assert commands.status_command(inputs).revert_window == "open"
    _write(new, "UPDATE users SET name = 'fixed' WHERE name = ''")  # the advice: fix it there, run again
    commands.revert_command(inputs)
    assert _rows(old, "SELECT name FROM users WHERE id = 3") == [("fixed",)]


def test_status_and_cli_show_the_window(tmp_path: Path) -> None:
    inputs, old, new = _cut_over(tmp_path)
    _new_service_writes(new)
    out = mig_here("status", "--dir", str(inputs.dir))
    assert "Revert window: open (5 entries;" in out.stdout
    out = mig_here("revert", "--dir", str(inputs.dir))
    assert out.returncode == 0, out.stderr
    assert "Marker status: recording" in out.stdout and "Left in the new database: users.email" in out.stdout
    assert "Revert window: reverted" in mig_here("status", "--dir", str(inputs.dir)).stdout


PRICED = """CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, price TEXT NOT NULL);
INSERT INTO item (name, price) VALUES ('a', '1.50'), ('b', '2.25');"""
IN_CENTS = """CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, cents INTEGER NOT NULL);
-- mig:convert item cents CAST(round(price * 100) AS INTEGER)
"""
BACK = "-- mig:convert-back item price printf('%.2f', cents / 100.0)\n"


def test_a_conversion_goes_back_through_its_declared_way_back(tmp_path: Path) -> None:
    inputs, old, new = _cut_over(tmp_path, PRICED, IN_CENTS + BACK)
    _write(new, "INSERT INTO item (name, cents) VALUES ('c', 399)", "UPDATE item SET cents = 175 WHERE id = 1")
    commands.revert_command(inputs)
    assert _rows(old, "SELECT * FROM item") == [(1, "a", "1.75"), (2, "b", "2.25"), (3, "c", "3.99")]


def test_a_conversion_without_a_way_back_is_not_reversible_and_says_how_to_declare_one(tmp_path: Path) -> None:
    d = project(tmp_path, PRICED, IN_CENTS)
    out = mig_here("plan", cwd=d).stdout
    assert "Reversible after cutover: no" in out and "`-- mig:convert-back TABLE price EXPRESSION`" in out
    (d / "schema.sql").write_text(IN_CENTS + BACK)
    out = mig_here("plan", cwd=d).stdout
    assert "Reversible after cutover: yes\n  on revert: item.price is computed back from the new row: " \
           "printf('%.2f', cents / 100.0)" in out, out


@pytest.mark.parametrize(("back", "says"), [
    ("-- mig:convert-back item cost cents / 100.0\n", "schema.sql:3:4: declared way back of item.cost: "
     "the old table item has no column cost"),
    ("-- mig:convert-back item price pennies / 100.0\n", "declared way back of item.price: pennies is no "
     "column of the new table item"),
    ("-- mig:convert-back item price\n", "`mig:convert-back` takes a table, a column and an SQL expression"),
])
def test_a_way_back_that_names_nothing_is_an_error_at_its_line(tmp_path: Path, back: str, says: str) -> None:
    d = project(tmp_path, PRICED, IN_CENTS + back)
    out = mig_here("plan", cwd=d)
    assert out.returncode == 1 and says in out.stderr, out.stderr


def test_the_dsl_s_way_back_is_the_one_old_column_the_conversion_reads(tmp_path: Path) -> None:
    from mig.plan.compare import compare, conversions_back
    from mig.schema.fsx import loads as fsx_loads
    from mig.schema.sql import loads as sql_loads

    fsx = ('[<AutoIncPK "id">]\ntype Item = { id: int64; name: string option; '
           '[<Convert("CAST(round(price * 100) AS INTEGER)", back = "printf(\'%.2f\', cents / 100.0)")>] '
           'cents: int64 }\n')
    old, target = sql_loads(PRICED), fsx_loads(fsx)
    assert conversions_back(old, target) == {"item": {"price": "printf('%.2f', cents / 100.0)"}}
    two = fsx.replace("round(price * 100)", "round(price * 100) + length(name)")
    assert conversions_back(old, fsx_loads(two)) == {}
    assert compare(old, target).refusals == ()

