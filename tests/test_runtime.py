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


def _mig(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mig.cli", *args], capture_output=True,
                          text=True, timeout=60)


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


def test_old_database_retired_after_cleanup_but_writable_after_abort(tmp_path: Path) -> None:
    for finish in ("cleanup", "abort"):
        d, old = _project(tmp_path / finish)
        commands.migrate_command(commands.Inputs(d))
        with runtime.connect(old) as db:
            commands.drain_command(commands.Inputs(d))
            with pytest.raises(WritesBlocked):
                with db.transaction():
                    pass
            if finish == "cleanup":
                commands.cutover_command(commands.Inputs(d))
                commands.cleanup_old_command(commands.Inputs(d, old=old))
                with pytest.raises(WritesBlocked, match="was cut over to"):
                    with db.transaction():
                        pass
            else:
                commands.abort_command(commands.Inputs(d, old=old))
                with db.transaction() as conn:
                    _insert_book(conn, "after abort")


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
                                "from mig.cli import main; main()", "cutover", "--new", str(new)],
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
    out = subprocess.run([sys.executable, str(root / "bench" / "runtime_overhead.py"), "--n", "50",
                          "--repeat", "1"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for case in ("write, no migration", "write, old db recording", "read, new db after cutover",
                 "SQLAlchemy write, no migration"):
        assert case in out.stdout, case
