"""Invariant 7: until cutover, only mig writes to the new database, whatever a client does.

The guards used to let through any connection with mig's page-cache size, a
number any client could read from the schema (`PRAGMA cache_size=-8039`). Now
they ask a built-in function a question only mig's connections, which override
it, answer yes to. A client that deliberately overrides it too is caught by
drain, which then names the new database, not the old one's writers.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from clihelp import project

from mig import commands
from mig.bookkeeping import GUARD_TOKEN, MIGRATING_MESSAGE
from mig.errors import WrongState
from mig.runtime import NotReady
from mig.runtime.watch import translate
from mig.sqlite.connect import MIG_CACHE_SIZE

OLD = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a');"
NEW = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w TEXT);"


@pytest.fixture
def migrated(tmp_path: Path) -> tuple[Path, Path]:
    d = project(tmp_path, OLD, NEW)
    report = commands.migrate_command(commands.Inputs(d))
    return d, Path(report.new)


@pytest.mark.parametrize("setup", ["", f"PRAGMA cache_size={MIG_CACHE_SIZE}", "PRAGMA cache_size=-31337",
                                   "PRAGMA foreign_keys=OFF", "PRAGMA recursive_triggers=ON"])
@pytest.mark.parametrize("write", ["INSERT INTO t VALUES (7, 'x', NULL)", "UPDATE t SET v = 'x'",
                                   "DELETE FROM t", "INSERT OR REPLACE INTO t VALUES (1, 'x', NULL)"])
def test_no_client_setting_lets_a_write_into_a_migrating_new_database(
        migrated: tuple[Path, Path], setup: str, write: str) -> None:
    _, new = migrated
    conn = sqlite3.connect(new, isolation_level=None)
    if setup:
        conn.execute(setup)
    with pytest.raises(sqlite3.IntegrityError) as caught:
        conn.execute(write)
    assert str(caught.value) == MIGRATING_MESSAGE
    assert isinstance(translate(caught.value, str(new), str(new)), NotReady)  # the service library's error
    assert conn.execute("SELECT count(*), max(v) FROM t").fetchone() == (1, "a")
    conn.close()


def test_a_client_that_forges_the_guard_is_named_by_drain_and_writes_stay_open(migrated: tuple[Path, Path]) -> None:
    d, new = migrated
    forger = sqlite3.connect(new, isolation_level=None)
    forger.create_function("sqlite_compileoption_used", 1, lambda name: int(name == GUARD_TOKEN))
    forger.execute("INSERT INTO t VALUES (99, 'forged', NULL)")
    forger.close()
    with pytest.raises(WrongState) as caught:
        commands.drain_command(commands.Inputs(d))
    said = str(caught.value)
    assert said.startswith("the new database holds rows the old one cannot explain: t has 2 rows, "
                           "the old database 1; a client wrote to the new database"), said
    assert commands.status_command(commands.Inputs(d)).marker_status == "recording"


def test_after_cutover_any_client_writes_even_one_refused_before(migrated: tuple[Path, Path]) -> None:
    """A connection refused before cutover writes right after it, without a read in between:
    the write is prepared and refused when it runs, so SQLite sees the schema changed."""
    d, new = migrated
    conn = sqlite3.connect(new, isolation_level=None)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO t VALUES (7, 'x', NULL)")
    commands.drain_command(commands.Inputs(d))
    commands.cutover_command(commands.Inputs(d))
    conn.execute("INSERT INTO t VALUES (7, 'x', NULL)")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
    conn.close()


def test_mig_s_override_answers_every_other_option_as_sqlite_does(migrated: tuple[Path, Path]) -> None:
    from mig.sqlite.connect import mig_writer, open_rw

    _, new = migrated
    conn = mig_writer(open_rw(new))
    plain = sqlite3.connect(":memory:")
    for option in ("THREADSAFE", "OMIT_LOAD_EXTENSION", "no such option", 7, None):
        ask = "SELECT sqlite_compileoption_used(?)"
        assert conn.execute(ask, (option,)).fetchone() == plain.execute(ask, (option,)).fetchone(), option
    conn.close()


class _Interrupting:
    """Stands in for the connection mig's function asks other options of: a Ctrl-C arrives
    while SQLite runs the function, as a terminal's would at any instant."""

    def execute(self, *args: object) -> None:
        raise KeyboardInterrupt


def test_a_ctrl_c_inside_mig_s_own_function_is_an_interrupt_not_a_refused_row(
        migrated: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite3 reports an exception raised in a Python function SQLite calls as "user-defined
    function raised exception"; for the guards' function that is a signal, and drain must
    say it was interrupted (and give writes back), not blame a row of the log."""
    from mig.sqlite import connect

    d, _ = migrated
    old = d / "proj-0000000000000001.sqlite"
    with sqlite3.connect(old) as w:
        w.execute("INSERT INTO t VALUES (2, 'logged')")
    monkeypatch.setattr(connect, "GUARD_TOKEN", "not the guards' token")  # the function asks _BUILT_IN
    monkeypatch.setattr(connect, "_BUILT_IN", _Interrupting())
    with pytest.raises(KeyboardInterrupt):
        commands.drain_command(commands.Inputs(d))
    conn = sqlite3.connect(old)
    assert conn.execute("SELECT status FROM _migration_marker").fetchall() == [("recording",)]
    conn.close()
    monkeypatch.undo()
    commands.drain_command(commands.Inputs(d))
    commands.cutover_command(commands.Inputs(d))
    assert commands.verify_command(commands.Inputs(d)).ok
