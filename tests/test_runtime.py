"""mig.runtime, the service library: typed errors at the right moments, on real files, with
the standard sqlite3 module and with SQLAlchemy, against real mig phases."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mig import commands, runtime
from mig.runtime import DatabaseNotFound, NotReady, WritesBlocked

OLD = """
CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id),
                    title TEXT NOT NULL, blurb TEXT);
INSERT INTO authors (name) VALUES ('Tove Jansson'), ('Ōe Kenzaburō');
INSERT INTO books (author_id, title, blurb) VALUES (1, 'Moominsummer Madness', NULL), (2, '個人的な体験', 'x');
"""
NEW = """
CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id),
                    title TEXT NOT NULL, summary TEXT, stock INTEGER NOT NULL DEFAULT 0);
-- mig:rename-column books blurb summary
"""


def _project(tmp: Path, journal: str = "wal") -> tuple[Path, Path]:
    d = tmp / "shop"
    d.mkdir(parents=True)
    (d / "schema.sql").write_text(NEW)
    old = d / "shop-0000000000000001.sqlite"
    conn = sqlite3.connect(old)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.executescript(OLD)
    conn.commit()
    conn.close()
    return d, old


@pytest.fixture
def migrated(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(project dir, old db, new db) right after `mig migrate`."""
    d, old = _project(tmp_path)
    report = commands.migrate_command(commands.Inputs(d))
    return d, old, Path(report.new)


def _insert_book(conn: sqlite3.Connection, title: str) -> int:
    cur = conn.execute("INSERT INTO books (author_id, title) VALUES (1, ?)", (title,))
    assert cur.lastrowid is not None
    return cur.lastrowid


def test_opening_never_creates_a_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    for open_it in (lambda: runtime.connect(missing), lambda: runtime.connect(missing, readonly=True),
                    lambda: runtime.wait_until_ready(missing, timeout=0.1),
                    lambda: runtime.create_engine(missing)):
        with pytest.raises(DatabaseNotFound, match="does not exist"):
            open_it()
    assert list(tmp_path.iterdir()) == []


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    _, old = _project(tmp_path)
    with pytest.raises(ValueError, match="role must be one of"):
        runtime.connect(old, role="primary")  # type: ignore[arg-type]


def test_plain_database_commits_and_rolls_back(tmp_path: Path) -> None:
    _, old = _project(tmp_path)
    with runtime.connect(old) as db:
        with db.transaction() as conn:
            new_id = _insert_book(conn, "kept")
        with pytest.raises(ZeroDivisionError):
            with db.transaction() as conn:
                _insert_book(conn, "rolled back")
                1 / 0
        with db.read() as conn:
            titles = [r[0] for r in conn.execute("SELECT title FROM books ORDER BY id")]
        assert titles[-1] == "kept" and "rolled back" not in titles and new_id == 3
        assert db.state() == runtime.MigrationState(None, None)


def test_old_database_while_recording_then_draining(migrated: tuple[Path, Path, Path]) -> None:
    d, old, new = migrated
    with runtime.connect(old) as db:
        with db.transaction() as conn:
            _insert_book(conn, "during recording")
        assert db.state().marker == "recording"
        commands.drain_command(commands.Inputs(d))
        ran = False
        with pytest.raises(WritesBlocked, match="is draining") as info:
            with db.transaction() as conn:
                ran = True
        assert not ran, "the block must refuse before the service's code runs"
        assert info.value.new_path == str(new.resolve()) and info.value.retry_after >= 1
        with db.read() as conn:
            assert conn.execute("SELECT count(*) FROM books").fetchone()[0] == 3
        assert db.state().marker == "draining"
    check = sqlite3.connect(new)
    assert check.execute("SELECT title FROM books WHERE id = 3").fetchone() == ("during recording",)


def test_the_trigger_error_is_mapped_too(migrated: tuple[Path, Path, Path]) -> None:
    """A write inside read(), or with role='new' (no pre-check), is refused by the database
    itself; the library turns the trigger's IntegrityError into WritesBlocked."""
    d, old, _ = migrated
    commands.drain_command(commands.Inputs(d))
    for role in ("auto", "new"):
        with runtime.connect(old, role=role) as db:
            with pytest.raises(WritesBlocked) as info:
                with db.read() as conn:
                    _insert_book(conn, "sneaky")
            assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
            assert not db.connection.in_transaction


def test_old_database_retired_after_cleanup_but_live_again_after_abort(tmp_path: Path) -> None:
    """Once this process saw draining, the file stays closed to its writes after cleanup-old,
    where nothing in the database refuses them any more; after abort (the new file is gone)
    the old database is the live one again, as docs/runbook.md, "The states" says, and writes go on."""
    for finish in ("cleanup", "abort"):
        d, old = _project(tmp_path / finish)
        new = commands.migrate_command(commands.Inputs(d)).new
        with runtime.connect(old) as db:
            commands.drain_command(commands.Inputs(d))
            with pytest.raises(WritesBlocked):
                with db.transaction():
                    pass
            if finish == "cleanup":
                commands.cutover_command(commands.Inputs(d))
                commands.cleanup_old_command(commands.Inputs(d, old=old))
                with pytest.raises(WritesBlocked, match="was retired by a migration to") as info:
                    with db.transaction() as conn:
                        _insert_book(conn, "would be lost")
                assert info.value.new_path == new
            else:
                commands.abort_command(commands.Inputs(d, old=old))
                with db.transaction() as conn:
                    _insert_book(conn, "kept")
                assert sqlite3.connect(old).execute(
                    "SELECT count(*) FROM books WHERE title = 'kept'").fetchone()[0] == 1


def test_the_draining_memory_is_per_process_and_fed_by_reads_and_state(tmp_path: Path) -> None:
    """The audit's case: a pooled connection that only read during drain, a connection that
    only asked state(), and one opened after cleanup-old all refuse writes -- no write is
    acknowledged on the retired file. Only a new process (a restart) has no memory."""
    for observe in ("read", "state"):
        d, old = _project(tmp_path / observe)
        commands.migrate_command(commands.Inputs(d))
        writer, idle = runtime.connect(old), runtime.connect(old)
        with writer.transaction() as conn:
            _insert_book(conn, "before drain")
        commands.drain_command(commands.Inputs(d))
        if observe == "read":
            with idle.read() as conn:
                conn.execute("SELECT count(*) FROM books").fetchone()
        else:
            assert idle.state().marker == "draining"
        commands.cutover_command(commands.Inputs(d))
        commands.cleanup_old_command(commands.Inputs(d, old=old))
        later = runtime.connect(old)
        for db in (writer, idle, later):
            with pytest.raises(WritesBlocked, match="retired"):
                with db.transaction() as conn:
                    _insert_book(conn, "lost")
            db.close()
        check = sqlite3.connect(old)
        assert check.execute("SELECT count(*) FROM books WHERE title = 'lost'").fetchone() == (0,)
        check.close()
    restarted = subprocess.run([sys.executable, "-c", (
        "import sys; from mig import runtime\n"
        "with runtime.connect(sys.argv[1]) as db, db.transaction() as c:\n"
        "    c.execute(\"INSERT INTO books (author_id, title) VALUES (1, 'restarted')\")"),
        str(old)], capture_output=True, text=True, timeout=60)
    assert restarted.returncode == 0, restarted.stderr  # documented: do not restart onto it


def test_a_trigger_refusal_names_the_new_database_and_is_remembered(
        migrated: tuple[Path, Path, Path]) -> None:
    d, old, new = migrated
    commands.drain_command(commands.Inputs(d))
    with runtime.connect(old, role="new") as db:  # role new: no marker pre-check
        with pytest.raises(WritesBlocked) as info:
            with db.transaction() as conn:
                _insert_book(conn, "refused by the trigger")
        assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
        assert info.value.new_path == str(new.resolve())
    commands.cutover_command(commands.Inputs(d))
    commands.cleanup_old_command(commands.Inputs(d, old=old))
    with runtime.connect(old, role="new") as db:
        with pytest.raises(WritesBlocked, match="retired"):
            with db.transaction() as conn:
                _insert_book(conn, "lost")


def test_wait_until_ready_says_the_file_is_gone_after_a_real_abort(
        migrated: tuple[Path, Path, Path]) -> None:
    d, old, new = migrated
    abort = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3); "
                              "from mig.cli.main import main; main()", "abort", "--dir", str(d)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    with pytest.raises(DatabaseNotFound, match="was removed while waiting"):
        runtime.wait_until_ready(new, timeout=30, poll=0.01)
    assert time.monotonic() - started < 10
    _, err = abort.communicate(timeout=30)
    assert abort.returncode == 0, err


def test_bad_wait_arguments_and_a_directory_are_clear_errors(
        migrated: tuple[Path, Path, Path]) -> None:
    d, _, new = migrated
    for timeout, poll in ((-1, 0.05), (float("nan"), 0.05), (1, 0)):
        with pytest.raises(ValueError, match="must be"):
            runtime.wait_until_ready(new, timeout=timeout, poll=poll)
        with runtime.connect(new, role="new") as db, pytest.raises(ValueError, match="must be"):
            db.wait_until_ready(timeout=timeout, poll=poll)
    for open_it in (lambda: runtime.connect(d), lambda: runtime.create_engine(d)):
        with pytest.raises(DatabaseNotFound, match="is a directory, not a database file"):
            open_it()


def test_new_database_refuses_every_request_until_cutover(migrated: tuple[Path, Path, Path]) -> None:
    d, _, new = migrated
    with runtime.connect(new, role="new") as db:
        for request in (db.read, db.transaction):
            with pytest.raises(NotReady, match="mig cutover"):
                with request():
                    pass
        with pytest.raises(NotReady, match="still migrating after 0.1 s"):
            db.wait_until_ready(timeout=0.1)
        assert db.state().migration_status == "migrating"
        commands.drain_command(commands.Inputs(d))
        commands.cutover_command(commands.Inputs(d))
        db.wait_until_ready(timeout=1)
        with db.transaction() as conn:
            conn.execute("INSERT INTO books (author_id, title, summary) VALUES (2, 'new', 's')")
        with db.read() as conn:
            assert conn.execute("SELECT stock FROM books WHERE title = 'new'").fetchone() == (0,)


def test_wait_until_ready_returns_when_a_real_cutover_subprocess_commits(
        migrated: tuple[Path, Path, Path]) -> None:
    d, _, new = migrated
    commands.drain_command(commands.Inputs(d))
    cutover = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(0.5); "
                                "from mig.cli.main import main; main()", "cutover", "--new", str(new)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with runtime.connect(new, role="new") as db:
        started = time.monotonic()
        db.wait_until_ready(timeout=30, poll=0.01)
        waited = time.monotonic() - started
        out, err = cutover.communicate(timeout=30)
        assert cutover.returncode == 0, err
        assert "Current status: ready" in out and waited >= 0.4
        with db.transaction() as conn:
            _insert_book(conn, "served")


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_a_write_transaction_holds_drain_back_and_its_write_is_replayed(
        tmp_path: Path, journal: str) -> None:
    """BEGIN IMMEDIATE takes the write lock before the marker check, so drain's switch to
    draining waits for the transaction; the write it then commits is replayed."""
    d, old = _project(tmp_path, journal)
    new = Path(commands.migrate_command(commands.Inputs(d)).new)
    with runtime.connect(old) as db:
        with db.transaction() as conn:
            book = _insert_book(conn, "racing drain")
            drain = subprocess.Popen([sys.executable, "-m", "mig.cli", "drain", "--dir", str(d)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)
            assert drain.poll() is None, "drain must wait for the open write transaction"
        out, err = drain.communicate(timeout=30)
        assert drain.returncode == 0, err
    check = sqlite3.connect(new)
    assert check.execute("SELECT title FROM books WHERE id = ?", (book,)).fetchone() == ("racing drain",)


def test_one_database_object_per_thread_or_a_clear_error(tmp_path: Path) -> None:
    _, old = _project(tmp_path)
    db = runtime.connect(old)
    errors: list[BaseException] = []

    def use() -> None:
        try:
            with db.read():
                pass
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    t = threading.Thread(target=use)
    t.start()
    t.join()
    assert errors and isinstance(errors[0], sqlite3.ProgrammingError)
    with db.transaction():
        with pytest.raises(runtime.MigRuntimeError, match="already open"):
            with db.read():
                pass
    db.close()


# ---------------------------------------------------------------- SQLAlchemy

sa = pytest.importorskip("sqlalchemy")


def test_sqlalchemy_old_database_blocks_writes_and_serves_reads(
        migrated: tuple[Path, Path, Path]) -> None:
    d, old, new = migrated
    engine = runtime.create_engine(old)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO books (author_id, title) VALUES (1, 'via SQLAlchemy')"))
    commands.drain_command(commands.Inputs(d))
    books = sa.Table("books", sa.MetaData(), autoload_with=engine)
    with pytest.raises(WritesBlocked, match="is draining"):
        with engine.begin() as conn:
            conn.execute(books.insert().values(author_id=1, title="blocked"))
    with pytest.raises(WritesBlocked):  # read first, then write: the trigger's error, mapped
        with engine.begin() as conn:
            conn.execute(sa.select(books.c.id)).all()
            conn.execute(books.update().values(title="changed"))
    with pytest.raises(WritesBlocked):  # declared write intent: refused before any statement
        with engine.connect().execution_options(mig_write=True) as conn:
            conn.execute(sa.select(books.c.id)).all()
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(books)).scalar() == 3
    engine.dispose()
    check = sqlite3.connect(new)
    assert check.execute("SELECT count(*) FROM books WHERE title = 'via SQLAlchemy'").fetchone() == (1,)


def test_sqlalchemy_new_database_not_ready_until_cutover(migrated: tuple[Path, Path, Path]) -> None:
    d, _, new = migrated
    engine = runtime.install(sa.create_engine(f"sqlite:///{new}"), role="new", path=new)
    with pytest.raises(NotReady):
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT count(*) FROM books")).scalar()
    with pytest.raises(NotReady):
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO books (author_id, title) VALUES (1, 'early')"))
    commands.drain_command(commands.Inputs(d))
    commands.cutover_command(commands.Inputs(d))
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO books (author_id, title) VALUES (1, 'served')"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT stock FROM books WHERE title = 'served'")).scalar() == 0
    engine.dispose()


def test_sqlalchemy_orm_session_rolls_back_a_blocked_write(migrated: tuple[Path, Path, Path]) -> None:
    from sqlalchemy.orm import Session

    d, old, _ = migrated
    engine = runtime.create_engine(old, role="old")
    commands.drain_command(commands.Inputs(d))
    with Session(engine) as session:
        with pytest.raises(WritesBlocked):
            session.execute(sa.text("DELETE FROM books WHERE id = 1"))
            session.commit()
        session.rollback()
        assert session.execute(sa.text("SELECT count(*) FROM books")).scalar() == 2
    engine.dispose()


def test_the_overhead_benchmark_runs(tmp_path: Path) -> None:
    """bench/runtime_overhead.py is what docs/runtime.md quotes; keep it working."""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(root / "bench" / "runtime_overhead.py"), "--quick"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for case in ("write, no migration", "write, old db recording", "read, new db after cutover",
                 "SQLAlchemy write, no migration"):
        assert case in out.stdout, case


@pytest.mark.parametrize("how", ["engine", "engine options", "connection"])
def test_sqlalchemy_autocommit_writes_are_kept_and_still_checked(
        migrated: tuple[Path, Path, Path], how: str) -> None:
    """With AUTOCOMMIT SQLAlchemy commits nothing; a BEGIN of ours would be rolled back by
    the pool and the write lost. Set on the engine, on its options, or per connection."""
    d, old, new = migrated
    if how == "engine":
        engine = runtime.create_engine(old, isolation_level="AUTOCOMMIT")
    else:
        engine = runtime.create_engine(old)
    used = engine.execution_options(isolation_level="AUTOCOMMIT") if how == "engine options" else engine

    def insert(title: str) -> None:
        with used.connect() as conn:
            if how == "connection":
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(sa.text("INSERT INTO books (author_id, title) VALUES (1, :t)"), {"t": title})

    insert("autocommitted")
    check = sqlite3.connect(old)
    assert check.execute("SELECT count(*) FROM books WHERE title = 'autocommitted'").fetchone() == (1,)
    commands.drain_command(commands.Inputs(d))
    with pytest.raises(WritesBlocked, match="is draining"):
        insert("blocked")
    engine.dispose()
    assert check.execute("SELECT count(*) FROM books WHERE title = 'blocked'").fetchone() == (0,)
    check.close()
    replayed = sqlite3.connect(new)
    assert replayed.execute("SELECT count(*) FROM books WHERE title = 'autocommitted'").fetchone() == (1,)
    replayed.close()


def test_sqlalchemy_create_engine_opens_exactly_the_named_file(tmp_path: Path) -> None:
    """`?`, `#` and `%` are path characters, not URI syntax; a missing file is never made."""
    d = tmp_path / "we?ird #dir %41"
    d.mkdir()
    path = d / "shop?mode=rwc#x%20.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(OLD)
    conn.close()
    engine = runtime.create_engine(path)
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO books (author_id, title) VALUES (1, 'here')"))
    engine.dispose()
    assert sorted(p.name for p in d.iterdir()) == [path.name]
    check = sqlite3.connect(path)
    assert check.execute("SELECT count(*) FROM books WHERE title = 'here'").fetchone() == (1,)
    check.close()
    missing = d / "gone?mode=rwc.sqlite"
    with pytest.raises(DatabaseNotFound):
        runtime.create_engine(missing)
    engine = runtime.create_engine(path)
    path.unlink()  # removed after the engine was made: its next connection must not recreate it
    with pytest.raises(DatabaseNotFound):
        with engine.connect() as c:
            c.execute(sa.text("SELECT 1"))
    assert list(d.iterdir()) == []


def test_sqlalchemy_install_on_a_used_engine_and_on_a_missing_file(
        migrated: tuple[Path, Path, Path]) -> None:
    d, old, _ = migrated
    engine = sa.create_engine(f"sqlite:///{old}")
    with engine.connect() as conn:  # leaves a connection in the pool, made before install()
        conn.execute(sa.text("SELECT count(*) FROM books")).scalar()
    runtime.install(engine, path=old)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO books (author_id, title) VALUES (1, 'pooled')"))
    commands.drain_command(commands.Inputs(d))
    with pytest.raises(WritesBlocked, match="is draining"):
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO books (author_id, title) VALUES (1, 'blocked')"))
    engine.dispose()
    missing = d / "typo.sqlite"
    for url in (f"sqlite:///{missing}", f"sqlite:///file:{missing}?mode=rw&uri=true"):
        with pytest.raises(DatabaseNotFound):
            runtime.install(sa.create_engine(url))
    assert not missing.exists()


def test_sqlalchemy_reads_during_drain_retire_the_file_for_the_process(
        migrated: tuple[Path, Path, Path]) -> None:
    d, old, _ = migrated
    engine = runtime.create_engine(old)
    commands.drain_command(commands.Inputs(d))
    with engine.connect() as conn:  # only a read sees the draining marker
        conn.execute(sa.text("SELECT count(*) FROM books")).scalar()
    engine.dispose()
    commands.cutover_command(commands.Inputs(d))
    commands.cleanup_old_command(commands.Inputs(d, old=old))
    fresh = runtime.create_engine(old)  # new connections, no marker left in the file
    with pytest.raises(WritesBlocked, match="retired"):
        with fresh.begin() as conn:
            conn.execute(sa.text("INSERT INTO books (author_id, title) VALUES (1, 'lost')"))
    fresh.dispose()
