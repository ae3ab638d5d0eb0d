"""The target schema from where a Python service keeps it (issue 18 item 2): SQLAlchemy
models (`--schema module:attr`) and the database a migration tool makes on an empty file
(`--schema target.sqlite`: Django's and Alembic's own migrations), with renames from a
directives file; each executed online by mig while that ORM writes, then the tool's own
migration state brought in line."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import alembic_project
import django_project
import pytest
from clihelp import mig_here

RENAMES = "-- the field renamed in the models\n-- mig:rename-column {table} {old} {new}\n"


def _runbook(d: Path, *args: str) -> Path:
    """migrate (given the target), drain, cutover and verify, as an operator runs them;
    the new database."""
    new = None
    for step in (("migrate", *args), ("drain",), ("cutover",), ("verify",)):
        out = mig_here(*step, cwd=d)
        assert out.returncode == 0, (step, out.stdout, out.stderr)
        new = new or _new_database(out.stdout)
    assert new is not None
    return new


def _new_database(stdout: str) -> Path | None:
    found = re.search(r"^New database: (.+)$", stdout, re.M)
    return Path(found.group(1)) if found else None


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------- SQLAlchemy models

MODELS_V1 = '''
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    pass

class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))

class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    title: Mapped[str] = mapped_column(String(200))
'''
MODELS_V2 = MODELS_V1.replace('    title: Mapped[str] = mapped_column(String(200))',
                              '    headline: Mapped[str] = mapped_column(String(200))\n'
                              '    pages: Mapped[int | None] = mapped_column(default=None)')


def test_sqlalchemy_models_are_the_target_and_the_orm_writes_throughout(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    sa = pytest.importorskip("sqlalchemy")
    from sqlalchemy.orm import Session

    (tmp_path / "models_v1.py").write_text(MODELS_V1)
    (tmp_path / "models_v2.py").write_text(MODELS_V2)
    (tmp_path / "renames.sql").write_text(RENAMES.format(table="book", old="title", new="headline"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import models_v1  # type: ignore[import-not-found]

    old = tmp_path / "app.db"
    engine = sa.create_engine(f"sqlite:///{old}", connect_args={"timeout": 30})
    models_v1.Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([models_v1.Author(id=1, name="Ann")] +
                  [models_v1.Book(author_id=1, title=f"b{i}") for i in range(200)])
        s.commit()

    written: list[int] = []
    stop = threading.Event()

    def orm_writer() -> None:  # the service, writing through its ORM the whole time
        n = 0
        while not stop.is_set():
            with Session(engine) as s:
                book = models_v1.Book(author_id=1, title=f"live{n}")
                s.add(book)
                s.get(models_v1.Book, 1).title = f"edited{n}"  # type: ignore[union-attr]
                s.commit()
                written.append(book.id)
            n += 1
            time.sleep(0.002)

    plan = mig_here("plan", "--old", "app.db", "--schema", "models_v2:Base", "--directives", "renames.sql")
    assert plan.returncode == 0 and "headline <- title" in plan.stdout, plan.stdout + plan.stderr
    writer = threading.Thread(target=orm_writer)
    writer.start()
    try:
        out = mig_here("migrate", "--old", "app.db", "--schema", "models_v2:Base", "--directives", "renames.sql")
        assert out.returncode == 0, out.stderr
        new = _new_database(out.stdout)
        time.sleep(0.2)
    finally:
        stop.set()
        writer.join()
    engine.dispose()
    for step in ("drain", "cutover", "verify"):
        assert mig_here(step).returncode == 0, step
    assert new is not None
    titles = dict(_rows(old, "SELECT id, title FROM book"))
    assert dict(_rows(new, "SELECT id, headline FROM book")) == titles and len(written) > 0
    assert max(written) in titles
    # the service switches to the new models and the new file
    import models_v2  # type: ignore[import-not-found]

    engine2 = sa.create_engine(f"sqlite:///{new}")
    with Session(engine2) as s:
        s.add(models_v2.Book(author_id=1, headline="after", pages=10))
        s.commit()
        assert s.get(models_v2.Book, 1).headline.startswith("edited")  # type: ignore[union-attr]
    engine2.dispose()


# ---------------------------------------------------------------- Django migrations

DJANGO_MODELS_V1 = '''
from django.db import models

class Author(models.Model):
    name = models.CharField(max_length=100)

class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=8, decimal_places=2, default=0)
'''
DJANGO_MODELS_V2 = DJANGO_MODELS_V1.replace(
    "    title = models.CharField(max_length=200)",
    "    headline = models.CharField(max_length=200)\n    pages = models.IntegerField(null=True)").replace(
    "    price = models.DecimalField(max_digits=8, decimal_places=2, default=0)",
    "    price = models.FloatField(default=0)")
DJANGO_0002 = '''
from django.db import migrations, models

class Migration(migrations.Migration):
    dependencies = [("shelf", "0001_initial")]
    operations = [
        migrations.RenameField("book", "title", "headline"),
        migrations.AddField("book", "pages", models.IntegerField(null=True)),
        migrations.AlterField("book", "price", models.FloatField(default=0)),
    ]
'''
DJANGO_WRITER = '''
import os, time
from shelf.models import Author, Book
author = Author.objects.get(pk=1)
n = 0
while not os.path.exists(sys.argv[2]):
    Book.objects.create(author=author, title=f"live{n}")
    Book.objects.filter(pk=1).update(title=f"edited{n}")
    n += 1
    if n == 1:
        open(sys.argv[3], "w").close()  # writing: the migration may start
    time.sleep(0.002)
print(n)
'''


def test_django_migrations_make_the_target_and_mig_executes_them_online(tmp_path: Path) -> None:
    pytest.importorskip("django")
    app = django_project.make_app(tmp_path, DJANGO_MODELS_V1)
    old = tmp_path / "db.sqlite3"
    made = django_project.run(tmp_path, 'call_command("makemigrations", "shelf", verbosity=0)\n'
                             'call_command("migrate", verbosity=0)\n'
                             'from shelf.models import Author, Book\n'
                             'a = Author.objects.create(pk=1, name="Ann")\n'
                             'from decimal import Decimal\n'
                             'Book.objects.bulk_create([Book(author=a, title=f"b{i}", price=Decimal(i) / 4)\n'
                             '                          for i in range(200)])\n', old)
    assert made.returncode == 0, made.stderr
    # the developer's change: new models and the migration that renames and adds
    (app / "models.py").write_text(DJANGO_MODELS_V2)
    (app / "migrations" / "0002_rename.py").write_text(DJANGO_0002)
    target = tmp_path / "target.sqlite3"
    made = django_project.run(tmp_path, 'call_command("migrate", verbosity=0)\n', target)  # on an empty file
    assert made.returncode == 0, made.stderr
    (tmp_path / "renames.sql").write_text(RENAMES.format(table="shelf_book", old="title", new="headline")
                                          + "-- decimal -> float: 5 would become 5.0, which mig refuses unless told\n"
                                          + "-- mig:convert shelf_book price CAST(price AS REAL)\n")

    (app / "models.py").write_text(DJANGO_MODELS_V1)  # the running service still has the old models
    stop, writing = tmp_path / "stop", tmp_path / "writing"
    writer = subprocess.Popen([sys.executable, "-c", django_project.script(tmp_path, DJANGO_WRITER),
                               str(old), str(stop), str(writing)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not writing.exists():  # Django's start-up takes what it takes
            assert writer.poll() is None and time.monotonic() < deadline, writer.stderr.read() if writer.stderr else ""
            time.sleep(0.01)
        out = mig_here("migrate", "--old", str(old), "--schema", str(target), "--directives", "renames.sql",
                       cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        new = _new_database(out.stdout)
    finally:
        stop.write_text("")
        wrote, errors = writer.communicate(timeout=60)
    assert writer.returncode == 0 and int(wrote) > 0, errors
    for step in ("drain", "cutover", "verify"):
        out = mig_here(step, cwd=tmp_path)
        assert out.returncode == 0, (step, out.stderr)
    assert new is not None
    assert dict(_rows(new, "SELECT id, headline FROM shelf_book")) == dict(_rows(old, "SELECT id, title FROM shelf_book"))
    assert _rows(new, "SELECT price, typeof(price) FROM shelf_book WHERE id = 21") == [(5.0, "real")]

    # the app's own migration state brought in line: 0002 is recorded, not run again
    (app / "models.py").write_text(DJANGO_MODELS_V2)
    faked = django_project.run(tmp_path, 'call_command("migrate", "shelf", "--fake", verbosity=0)\n'
                              'from shelf.models import Book\n'
                              'print(Book.objects.get(pk=1).headline, Book.objects.count())\n', new)
    assert faked.returncode == 0, faked.stderr
    headline, count = faked.stdout.split()
    assert headline.startswith("edited") and int(count) == 200 + int(wrote)
    assert ("shelf", "0002_rename") in _rows(new, "SELECT app, name FROM django_migrations")
    # and Django sees nothing left to do
    check = django_project.run(tmp_path, 'call_command("makemigrations", "shelf", "--check", "--dry-run", verbosity=0)\n'
                              'call_command("migrate", "--check", verbosity=0)\n', new)
    assert check.returncode == 0, check.stdout + check.stderr


# ---------------------------------------------------------------- Alembic migrations

ALEMBIC_0001 = '''
from alembic import op
import sqlalchemy as sa
revision = "0001"
down_revision = None
def upgrade():
    op.create_table("note", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("body", sa.Text, nullable=False))
'''
ALEMBIC_0002 = '''
from alembic import op
import sqlalchemy as sa
revision = "0002"
down_revision = "0001"
def upgrade():
    with op.batch_alter_table("note") as batch:
        batch.alter_column("body", new_column_name="text")
        batch.add_column(sa.Column("starred", sa.Boolean, nullable=False, server_default=sa.false()))
'''


def test_alembic_upgrade_makes_the_target_and_stamp_records_it(tmp_path: Path) -> None:
    pytest.importorskip("alembic")
    from alembic import command

    alembic_project.make_scripts(tmp_path, **{"0001": ALEMBIC_0001})

    def config(db: Path) -> Any:
        return alembic_project.config(tmp_path, db)

    old = tmp_path / "app.sqlite"
    command.upgrade(config(old), "head")
    conn = sqlite3.connect(old)
    conn.executemany("INSERT INTO note (body) VALUES (?)", [(f"n{i}",) for i in range(100)])
    conn.commit()
    conn.close()
    (tmp_path / "versions" / "0002.py").write_text(ALEMBIC_0002)
    target = tmp_path / "target.sqlite"
    command.upgrade(config(target), "head")
    (tmp_path / "renames.sql").write_text(RENAMES.format(table="note", old="body", new="text"))
    new = _runbook(tmp_path, "--old", str(old), "--schema", str(target), "--directives", "renames.sql")
    command.stamp(config(new), "head")  # the migration tool's own state, in line
    assert _rows(new, "SELECT version_num FROM alembic_version") == [("0002",)]
    assert _rows(new, "SELECT count(*), min(starred) FROM note") == [(100, 0)]


def test_a_target_that_names_nothing_importable_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "app.db").write_bytes(b"")
    sqlite3.connect(tmp_path / "app.db").execute("CREATE TABLE t (id INTEGER PRIMARY KEY)").connection.close()
    out = mig_here("plan", "--old", "app.db", "--schema", "no_such_module:Base", cwd=tmp_path)
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "cannot import no_such_module" in out.stderr
    out = mig_here("plan", "--old", "app.db", "--schema", "app.db", "--directives", "nope.sql", cwd=tmp_path)
    assert out.returncode == 1 and "directives file nope.sql does not exist" in out.stderr, out.stderr
    (tmp_path / "bad.sql").write_text("ALTER TABLE t RENAME TO u;\n")
    out = mig_here("plan", "--old", "app.db", "--schema", "app.db", "--directives", "bad.sql", cwd=tmp_path)
    assert out.returncode == 1 and "bad.sql:1:1" in out.stderr and "only `-- mig:` directives" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db", "bad.sql"]


def test_a_models_module_that_fails_to_import_is_one_line(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "app.db").execute("CREATE TABLE t (id INTEGER PRIMARY KEY)").connection.close()
    (tmp_path / "broken_models.py").write_text("raise RuntimeError('no settings')\n")
    out = mig_here("plan", "--old", "app.db", "--schema", "broken_models:Base", cwd=tmp_path)
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "importing broken_models raised RuntimeError: no settings" in out.stderr
