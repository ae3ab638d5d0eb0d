"""mig.runtime through `mig revert` (issue 19): the old database's WritesBlocked clears, the new
database refuses writes while the revert runs and is NotReady once it is migrating again, and
wait_until_ready covers both directions. Real files, the real commands in process, with the
sqlite3, SQLAlchemy and Django fronts.

A revert is held in its middle -- the new database `reverting`, the old one not yet reopened --
by `_revert_held`: the revert runs in a thread, and once its catch-up has replayed the new
service's writes a plain connection takes the old database's write lock, so that the revert's
last transaction waits for it (mig's busy timeout is 10 s) until the block ends.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from clihelp import project

from mig import commands, runtime
from mig.errors import MigError
from mig.runtime import NotReady, WritesBlocked
from mig.runtime.watch import DRAINED, RETIRED

OLD = """
CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, blurb TEXT);
INSERT INTO books (title, blurb) VALUES ('Moominsummer Madness', NULL), ('個人的な体験', 'x');
"""
NEW = """
-- mig:rename-column books blurb summary
CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, summary TEXT, stock INTEGER NOT NULL DEFAULT 0);
"""
# Dropping a NOT NULL column without a default cannot be reverted: cutover opens no window.
IRREVERSIBLE = """
-- mig:rename-column books blurb summary
-- mig:drop-column books title
CREATE TABLE books (id INTEGER PRIMARY KEY, summary TEXT);
"""


def _pair(tmp: Path, new_sql: str = NEW, journal: str = "wal", old_sql: str = OLD) -> tuple[commands.Inputs, Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    d = project(tmp, old_sql, new_sql, name="shop")
    old = d / "shop-0000000000000001.sqlite"
    conn = sqlite3.connect(old)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.close()
    return commands.Inputs(d), old


def _cut_over(tmp: Path, new_sql: str = NEW, journal: str = "wal") -> tuple[commands.Inputs, Path, Path]:
    """(inputs, old, new) after migrate, drain and cutover."""
    inputs, old = _pair(tmp, new_sql, journal)
    new = Path(commands.migrate_command(inputs).new)
    commands.drain_command(inputs)
    commands.cutover_command(inputs)
    return inputs, old, new


def _one(path: Path, sql: str) -> Any:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()
    finally:
        conn.close()


def _window(new: Path) -> str | None:
    conn = sqlite3.connect(f"file:{new}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT status FROM _migration_revert").fetchone()
    except sqlite3.OperationalError:  # no such table: the revert is done, or never opened
        return None
    finally:
        conn.close()
    return row[0] if row else None


def _insert(conn: sqlite3.Connection, title: str) -> None:
    conn.execute("INSERT INTO books (title) VALUES (?)", (title,))


@contextmanager
def _revert_held(inputs: commands.Inputs, old: Path, new: Path) -> Iterator[None]:
    """`mig revert` in a thread, held inside its window: the new database says `reverting`,
    the old one is still closed. Needs a write of the new service in its log (catch-up)."""
    held = threading.Event()
    lock: list[sqlite3.Connection] = []
    errors: list[BaseException] = []

    def progress(label: str, done: int, total: int | None) -> None:
        if done == total and not lock:
            conn = sqlite3.connect(old, isolation_level=None, check_same_thread=False)
            conn.execute("BEGIN IMMEDIATE")
            lock.append(conn)
            held.set()

    def run() -> None:
        try:
            commands.revert_command(inputs, progress)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            held.set()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert held.wait(30) and lock, errors
        deadline = time.monotonic() + 5
        while _window(new) != "reverting":
            assert time.monotonic() < deadline, "the revert never blocked the new database"
            time.sleep(0.01)
        assert _one(old, "SELECT status FROM _migration_marker") == ("draining",)
        yield
    finally:
        for conn in lock:
            conn.execute("ROLLBACK")
            conn.close()
        thread.join(60)
    assert not errors, errors
    assert not thread.is_alive()


def test_the_new_database_refuses_writes_while_a_revert_runs_and_is_migrating_after_it(tmp_path: Path) -> None:
    """One connection of the new service across cutover and revert: it saw `ready`, and must
    not keep that. Writes are refused while the revert runs (reads go on); once the revert
    is done the database is migrating again: NotReady for every request."""
    inputs, old, new = _cut_over(tmp_path)
    resolved = str(old.resolve())
    db = runtime.connect(new)
    with db.transaction() as conn:
        _insert(conn, "new service")
    assert db.state() == runtime.MigrationState(None, "ready", "open")
    with _revert_held(inputs, old, new):
        ran = False
        with pytest.raises(WritesBlocked, match=f"is reverted to {resolved} by `mig revert`") as info:
            with db.transaction() as conn:
                ran = True
        assert not ran, "the block must refuse before the service's code runs"
        assert info.value.reverted and info.value.old_path == resolved and info.value.retry_after == 1
        with db.read() as conn:
            assert conn.execute("SELECT title FROM books WHERE id = 3").fetchone() == ("new service",)
        assert db.state().revert == "reverting"
        with runtime.connect(old) as old_db:  # not given back yet (its write lock is the test's)
            assert old_db.state().marker == "draining"
    assert _one(new, "SELECT status FROM _migration_status") == ("migrating",)
    for request in (db.read, db.transaction):
        with pytest.raises(NotReady, match="was reverted by `mig revert` and is migrating again") as not_ready:
            with request():
                pass
        assert not_ready.value.reverted and not_ready.value.retry_after == 1
    assert db.state() == runtime.MigrationState(None, "migrating", "reverted")
    db.close()
    assert _one(old, "SELECT title FROM books WHERE id = 3") == ("new service",)


def test_the_capture_trigger_s_refusal_is_mapped_to_writes_blocked(tmp_path: Path) -> None:
    """role="old" skips the new side's pre-check: the write reaches the capture trigger, whose
    REVERTING text becomes the same WritesBlocked, chained to the IntegrityError."""
    inputs, old, new = _cut_over(tmp_path)
    with runtime.connect(new) as db, db.transaction() as conn:
        _insert(conn, "new service")
    with runtime.connect(new, role="old") as db:
        with _revert_held(inputs, old, new):
            for request in (db.transaction, db.read):  # a write inside read() too
                with pytest.raises(WritesBlocked, match="is reverted to .* by `mig revert`") as info:
                    with request() as conn:
                        _insert(conn, "refused")
                assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
                assert info.value.old_path == str(old.resolve())
                assert not db.connection.in_transaction
    assert _one(new, "SELECT count(*) FROM books WHERE title = 'refused'") == (0,)


def test_a_failed_revert_gives_the_same_connection_its_writes_back(tmp_path: Path) -> None:
    """A row the old schema refuses fails the revert before the old database reopens; the
    window is `open` again and the connection that was refused writes again."""
    checked = "title TEXT NOT NULL CHECK (length(title) > 0)"
    inputs, old = _pair(tmp_path, NEW.replace("title TEXT NOT NULL", checked),
                        old_sql=OLD.replace("title TEXT NOT NULL", checked))
    new = Path(commands.migrate_command(inputs).new)
    commands.drain_command(inputs)
    commands.cutover_command(inputs)
    raw = sqlite3.connect(new, isolation_level=None)
    raw.execute("PRAGMA ignore_check_constraints = ON")
    raw.execute("INSERT INTO books (title) VALUES ('')")  # a row the old schema refuses
    raw.close()
    with runtime.connect(new) as db:
        with pytest.raises(MigError, match="cannot go back to the old database"):
            commands.revert_command(inputs)
        assert db.state().revert == "open"
        with db.transaction() as conn:
            conn.execute("UPDATE books SET title = 'fixed' WHERE title = ''")
        runtime.wait_until_ready(new, timeout=0)  # nothing holds it back
        commands.revert_command(inputs)
        with pytest.raises(NotReady):
            with db.transaction():
                pass
    assert _one(old, "SELECT title FROM books WHERE id = 3") == ("fixed",)


def test_the_old_database_takes_writes_again_after_a_revert_and_retires_after_the_next_cleanup(
        tmp_path: Path) -> None:
    """A process that saw the old database drain forgets it once a revert reopens it: the
    same connection and a fresh one write, and the writes are recorded. Going forward
    again arms the memory again: after drain, cutover and cleanup-old the file is retired."""
    inputs, old = _pair(tmp_path)
    new = Path(commands.migrate_command(inputs).new)
    writer = runtime.connect(old)
    commands.drain_command(inputs)
    with pytest.raises(WritesBlocked, match="is draining"):
        with writer.transaction():
            pass
    key = str(old.resolve())
    assert key in DRAINED
    commands.cutover_command(inputs)
    with runtime.connect(new) as db, db.transaction() as conn:
        _insert(conn, "new service")
    commands.revert_command(inputs)
    with writer.transaction() as conn:
        _insert(conn, "same connection")
    assert key not in DRAINED and key not in RETIRED
    with runtime.connect(old) as fresh, fresh.transaction() as conn:
        _insert(conn, "fresh connection")
    assert writer.state().marker == "recording"
    logged = _one(old, "SELECT count(*) FROM _migration_log")[0]
    assert logged >= 2, "writes after the revert are recorded for the next drain"

    commands.drain_command(inputs)
    with pytest.raises(WritesBlocked, match="is draining"):  # seen draining again
        with writer.transaction():
            pass
    commands.cutover_command(inputs)
    assert _one(new, "SELECT count(*) FROM books WHERE title IN ('same connection', 'fresh connection')") == (2,)
    commands.cleanup_old_command(inputs)
    for db in (writer, runtime.connect(old)):
        with pytest.raises(WritesBlocked, match="retired"):
            with db.transaction() as conn:
                _insert(conn, "lost")
        db.close()


def test_wait_until_ready_on_the_old_database_returns_when_a_revert_finishes(tmp_path: Path) -> None:
    inputs, old, new = _cut_over(tmp_path)
    with runtime.connect(new) as db, db.transaction() as conn:
        _insert(conn, "new service")
    with pytest.raises(WritesBlocked, match=r"is draining for a schema migration \(still draining after 0.2 s\)"):
        runtime.wait_until_ready(old, timeout=0.2, poll=0.01)
    errors: list[BaseException] = []

    def revert_later() -> None:
        time.sleep(0.4)
        try:
            commands.revert_command(inputs)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    thread = threading.Thread(target=revert_later)
    thread.start()
    started = time.monotonic()
    with runtime.connect(old) as db:
        db.wait_until_ready(timeout=30, poll=0.01)
        waited = time.monotonic() - started
        assert _one(old, "SELECT status FROM _migration_marker") == ("recording",)
        with db.transaction() as conn:
            _insert(conn, "old service again")
    thread.join(60)
    assert not errors, errors
    assert 0.3 <= waited < 20
    runtime.wait_until_ready(old, timeout=0)  # recording: nothing holds it back


def test_wait_until_ready_on_an_old_database_that_never_takes_writes_again(tmp_path: Path) -> None:
    """Draining into a database cut over with no revert window, or cleaned up after this
    process saw it drain: WritesBlocked at once, not after the timeout."""
    _, old, _ = _cut_over(tmp_path / "irreversible", IRREVERSIBLE)
    assert _one(old, "SELECT status FROM _migration_marker") == ("draining",)
    started = time.monotonic()
    with pytest.raises(WritesBlocked, match="was retired by a migration") as info:
        runtime.wait_until_ready(old, timeout=30)
    assert info.value.retired and time.monotonic() - started < 10

    inputs, old = _pair(tmp_path / "cleaned")
    commands.migrate_command(inputs)
    commands.drain_command(inputs)
    with runtime.connect(old) as db:
        assert db.state().marker == "draining"  # this process saw it drain
    commands.cutover_command(inputs)
    commands.cleanup_old_command(inputs)
    started = time.monotonic()
    with pytest.raises(WritesBlocked, match="was retired by a migration"):
        runtime.wait_until_ready(old, timeout=30)
    assert time.monotonic() - started < 10


def test_wait_until_ready_on_the_new_database_during_and_after_a_revert(tmp_path: Path) -> None:
    """While the revert runs: WritesBlocked when the wait times out. After it: the database
    is migrating again, NotReady on timeout, and the wait returns at the next cutover."""
    inputs, old, new = _cut_over(tmp_path)
    runtime.wait_until_ready(new, timeout=0)  # cut over, window open
    with runtime.connect(new) as db, db.transaction() as conn:
        _insert(conn, "new service")
    with _revert_held(inputs, old, new):
        with pytest.raises(WritesBlocked, match=r"by `mig revert` \(still reverting after 0.2 s\)") as info:
            runtime.wait_until_ready(new, timeout=0.2, poll=0.01)
        assert info.value.reverted and info.value.waited == 0.2
    with pytest.raises(NotReady, match=r"was reverted by `mig revert` and is migrating again \(still migrating"):
        runtime.wait_until_ready(new, timeout=0.2, poll=0.01)
    errors: list[BaseException] = []

    def forward_again() -> None:
        time.sleep(0.4)
        try:
            commands.drain_command(inputs)
            commands.cutover_command(inputs)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    thread = threading.Thread(target=forward_again)
    thread.start()
    started = time.monotonic()
    runtime.wait_until_ready(new, timeout=30, poll=0.01)
    waited = time.monotonic() - started
    thread.join(60)
    assert not errors, errors
    assert 0.3 <= waited < 20
    with runtime.connect(new) as db, db.transaction() as conn:
        _insert(conn, "served again")


# ---------------------------------------------------------------- SQLAlchemy


def test_sqlalchemy_maps_a_revert_to_writes_blocked_then_not_ready(tmp_path: Path) -> None:
    sa = pytest.importorskip("sqlalchemy")
    inputs, old, new = _cut_over(tmp_path)
    checked = runtime.create_engine(new)  # role auto: the window is read before a write
    unchecked = runtime.create_engine(new, role="old")  # the capture trigger refuses
    with checked.begin() as conn:
        conn.execute(sa.text("INSERT INTO books (title) VALUES ('via SQLAlchemy')"))
    insert = sa.text("INSERT INTO books (title) VALUES ('refused')")
    with _revert_held(inputs, old, new):
        for engine in (checked, unchecked):
            with pytest.raises(WritesBlocked, match="is reverted to .* by `mig revert`") as info:
                with engine.begin() as conn:
                    conn.execute(insert)
            assert info.value.old_path == str(old.resolve())
        assert isinstance(info.value.__cause__, sqlite3.IntegrityError)  # the trigger's, mapped
        with pytest.raises(WritesBlocked, match="reverted"):  # read first, then write
            with checked.begin() as conn:
                conn.execute(sa.text("SELECT count(*) FROM books")).scalar()
                conn.execute(insert)
        with checked.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM books")).scalar() == 3
    with pytest.raises(NotReady, match="was reverted by `mig revert`"):
        with checked.connect() as conn:
            conn.execute(sa.text("SELECT count(*) FROM books")).scalar()
    checked.dispose()
    unchecked.dispose()
    assert _one(new, "SELECT count(*) FROM books WHERE title = 'refused'") == (0,)
    assert _one(old, "SELECT count(*) FROM books WHERE title = 'via SQLAlchemy'") == (1,)


# ---------------------------------------------------------------- Django


def test_django_answers_503_while_a_revert_runs_and_the_old_service_writes_after_it(tmp_path: Path) -> None:
    """The Django project of tests/test_django_integration.py (settings are per process, so
    its configuration is the one used): the new service's writes 503 while the revert runs,
    from the watch and, with the watch off, from the trigger's text; reads 200; after the
    revert every request 503 NotReady, and the old service writes again."""
    pytest.importorskip("django")
    shop = pytest.importorskip("test_django_integration")
    from django.db import connections
    from django.test import override_settings

    d, old, new = shop._project(tmp_path)
    inputs = shop._inputs(d, old, new)
    try:
        client = shop._service(old)
        commands.migrate_command(inputs)
        commands.drain_command(inputs)
        shop._unavailable(client.post("/books", {"title": "draining"}), "WritesBlocked")
        commands.cutover_command(inputs)
        client = shop._service(new)
        assert client.post("/books", {"title": "new service"}).status_code == 201
        with _revert_held(inputs, old, new):
            answer = client.post("/books", {"title": "refused"})
            shop._unavailable(answer, "WritesBlocked")
            assert f"is reverted to {old.resolve()} by `mig revert`" in answer.content.decode()
            shop._unavailable(client.post("/books/atomic", {"title": "refused"}), "WritesBlocked")
            assert client.get("/books").json()["titles"][-1] == "new service"
            with override_settings(MIG_RUNTIME_ROLES={}):  # no watch: the trigger's refusal
                client = shop._service(new)
                answer = client.post("/books", {"title": "refused"})
                shop._unavailable(answer, "WritesBlocked")
                assert "by `mig revert`" in answer.content.decode()
            client = shop._service(new)
        answer = client.get("/books")
        shop._unavailable(answer, "NotReady")
        assert "was reverted by `mig revert`" in answer.content.decode()
        client = shop._service(old)  # the old service, in the process that saw it drain
        assert client.post("/books", {"title": "old service again"}).status_code == 201
        assert "refused" not in shop._titles(old) and "refused" not in shop._titles(new)
        assert shop._titles(old)[-2:] == ["new service", "old service again"]
    finally:
        connections.close_all()
