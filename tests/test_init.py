"""`mig init`: the schema file of an existing database, exactly, so that `mig plan` right
after it has nothing to do; for databases made by hand, by SQLAlchemy, by Django's and by
Alembic's migrations, and for generated schemas."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import alembic_project
import django_project
import pytest
from clihelp import make_db, mig_here, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mig import commands
from mig.model import schema_hash
from mig.schema import load_schema
from mig.sqlite.connect import open_ro
from mig.sqlite.introspect import introspect

BY_HAND = """
CREATE TABLE author (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL COLLATE NOCASE,
                     born TEXT DEFAULT CURRENT_DATE, rating REAL DEFAULT 2.5 CHECK (rating >= 0));
CREATE TABLE book (isbn TEXT PRIMARY KEY, author_id INTEGER NOT NULL
                   REFERENCES author(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
                   title TEXT NOT NULL, price NUMERIC, blob BLOB, UNIQUE (author_id, title)) WITHOUT ROWID;
CREATE TABLE line (id INTEGER PRIMARY KEY, qty INTEGER NOT NULL, unit REAL NOT NULL,
                   total REAL GENERATED ALWAYS AS (qty * unit) STORED,
                   label TEXT GENERATED ALWAYS AS (upper(qty)) VIRTUAL);
CREATE TABLE loose (a, b);
CREATE TABLE strict_t (k INTEGER PRIMARY KEY, v ANY) STRICT;
CREATE INDEX book_title ON book (title COLLATE NOCASE DESC);
CREATE UNIQUE INDEX author_lower ON author (lower(name)) WHERE rating > 1;
CREATE VIEW prolific AS SELECT a.name, count(*) AS n FROM author a JOIN book b ON b.author_id = a.id GROUP BY a.name;
CREATE TRIGGER book_touch AFTER UPDATE ON book BEGIN UPDATE author SET rating = rating WHERE id = new.author_id; END;
INSERT INTO author (name) VALUES ('Ann');
ANALYZE;
"""


def _hash_of(db: Path) -> str:
    conn = open_ro(db)
    try:
        return schema_hash(introspect(conn))
    finally:
        conn.close()


def _init_then_plan(d: Path, db: Path) -> None:
    """init writes schema.sql; plan and migrate then have nothing to do, and change nothing."""
    out = mig_here("init", "--old", str(db), cwd=d)
    assert out.returncode == 0, out.stderr
    assert load_schema(d / "schema.sql") is not None and schema_hash(load_schema(d / "schema.sql")) == _hash_of(db)
    before = snapshot(d)
    plan = mig_here("plan", "--old", str(db), cwd=d)
    assert plan.returncode == 0 and "nothing to migrate" in plan.stdout, plan.stdout + plan.stderr
    migrate = mig_here("migrate", "--old", str(db), cwd=d)
    assert migrate.returncode == 0 and "nothing to migrate" in migrate.stdout, migrate.stdout + migrate.stderr
    assert snapshot(d) == before  # no new database, no capture, no lock file


def test_a_database_made_by_hand_reads_back_exactly(tmp_path: Path) -> None:
    db = make_db(tmp_path / "app.db", BY_HAND)
    _init_then_plan(tmp_path, db)
    text = (tmp_path / "schema.sql").read_text()
    assert "sqlite_sequence" not in text and "sqlite_stat1" not in text and "sqlite_autoindex" not in text
    assert "AUTOINCREMENT" in text and "WITHOUT ROWID" in text and "STORED" in text and "STRICT" in text


def _plan_after_editing(tmp_path: Path, old: str, new: str) -> subprocess.CompletedProcess[str]:
    """init on the hand-made database, `old` replaced by `new` in the schema file, then plan."""
    db = make_db(tmp_path / "app.db", BY_HAND)
    assert mig_here("init", "--old", str(db), cwd=tmp_path).returncode == 0
    schema = tmp_path / "schema.sql"
    schema.write_text(schema.read_text().replace(old, new))
    return mig_here("plan", "--old", str(db), cwd=tmp_path)


def test_a_changed_schema_file_then_plans_a_migration(tmp_path: Path) -> None:
    plan = _plan_after_editing(tmp_path, '"blob" BLOB', '"blob" BLOB,\n  "pages" INTEGER')
    assert plan.returncode == 0 and "Result: migrate can run" in plan.stdout, plan.stdout + plan.stderr


def test_init_never_overwrites_and_changes_nothing_when_refused(tmp_path: Path) -> None:
    db = make_db(tmp_path / "app.db", BY_HAND)
    (tmp_path / "schema.py").write_text("# mine\n")
    before = snapshot(tmp_path)
    out = mig_here("init", "--old", str(db), cwd=tmp_path)
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "never overwrites" in out.stderr, out.stderr
    out = mig_here("init", "--old", str(db), "--schema", "schema.py", cwd=tmp_path)
    assert out.returncode == 1 and "never overwrites" in out.stderr and "--schema" in out.stderr, out.stderr
    assert snapshot(tmp_path) == before
    out = mig_here("init", "--old", str(db), "--schema", "target.sql", cwd=tmp_path)  # the advice, followed
    assert out.returncode == 0 and (tmp_path / "target.sql").is_file(), out.stderr


def test_init_of_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    out = mig_here("init", "--old", str(tmp_path / "nope.db"), cwd=tmp_path)
    assert out.returncode == 1 and "does not exist" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_database_made_by_sqlalchemy(tmp_path: Path) -> None:
    sa = pytest.importorskip("sqlalchemy")
    meta = sa.MetaData()
    users = sa.Table("users", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("email", sa.String(200), nullable=False, unique=True),
                     sa.Column("active", sa.Boolean, server_default=sa.true()),
                     sa.Column("joined", sa.DateTime, server_default=sa.func.current_timestamp()),
                     sa.Column("score", sa.Numeric(10, 2)), sa.Column("kind", sa.Enum("a", "b", name="kind")))
    sa.Table("posts", meta, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("user_id", sa.ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False, index=True),
             sa.Column("body", sa.Text), sa.Column("data", sa.JSON), sa.Column("raw", sa.LargeBinary),
             sa.CheckConstraint("length(body) < 10000", name="body_len"),
             sa.Index("posts_body", "body", sqlite_where=sa.text("body IS NOT NULL")))
    db = tmp_path / "sa.sqlite"
    engine = sa.create_engine(f"sqlite:///{db}")
    meta.create_all(engine)
    engine.dispose()
    _init_then_plan(tmp_path, db)


DJANGO_APP = '''
from django.db import models

class Author(models.Model):
    name = models.CharField(max_length=100, unique=True)
    born = models.DateField(null=True)

class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    title = models.CharField(max_length=200, db_index=True)
    price = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(price__gte=0), name="price_ok")]
'''


def test_a_database_made_by_django_migrations(tmp_path: Path) -> None:
    pytest.importorskip("django")
    django_project.make_app(tmp_path, DJANGO_APP)
    db = tmp_path / "db.sqlite3"
    made = django_project.run(tmp_path, 'call_command("makemigrations", "shelf", verbosity=0)\n'
                                        'call_command("migrate", verbosity=0)\n', db,
                              apps=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                                    "django.contrib.admin", "django.contrib.messages", "shelf"])
    assert made.returncode == 0, made.stderr
    _init_then_plan(tmp_path, db)


ALEMBIC_REVISION = '''
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None

def upgrade():
    op.create_table("account", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("name", sa.String(80), nullable=False),
                    sa.Column("balance", sa.Numeric(12, 2), server_default="0"))
    op.create_index("account_name", "account", ["name"], unique=True)
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("closed", sa.Boolean, server_default=sa.false(), nullable=False))
'''


def test_a_database_made_by_alembic_migrations(tmp_path: Path) -> None:
    pytest.importorskip("alembic")
    from alembic import command

    alembic_project.make_scripts(tmp_path, **{"0001_account": ALEMBIC_REVISION})
    db = tmp_path / "alembic.sqlite"
    command.upgrade(alembic_project.config(tmp_path, db), "head")
    _init_then_plan(tmp_path, db)


# ---------------------------------------------------------------- generated schemas

NAMES = st.sampled_from(["a", "b", "c", "d", "e", "f"])
TYPES = st.sampled_from(["INTEGER", "TEXT", "REAL", "BLOB", "NUMERIC", "", "VARCHAR(20)", "BOOLEAN"])
DEFAULTS = st.sampled_from([None, "0", "1.5", "'x'", "NULL", "CURRENT_TIMESTAMP", "(1 + 2)", "-3"])


@st.composite
def tables(draw: st.DrawFn, name: str, parents: list[str]) -> tuple[str, bool]:
    """A CREATE TABLE, and whether it has a one-column key a foreign key can reference."""
    cols = draw(st.lists(NAMES, min_size=1, max_size=5, unique=True))
    key = draw(st.sampled_from(["rowid", "int", "text", "composite"] if len(cols) > 1 else ["rowid", "int"]))
    parts = []
    for i, col in enumerate(cols):
        kind = draw(TYPES)
        sql = f"{col} {kind}".rstrip()
        if key == "int" and i == 0:
            sql = f"{col} INTEGER PRIMARY KEY" + (" AUTOINCREMENT" if draw(st.booleans()) else "")
        elif key == "text" and i == 0:
            sql = f"{col} TEXT PRIMARY KEY"
        else:
            if draw(st.booleans()):
                sql += " NOT NULL"
            if (default := draw(DEFAULTS)) is not None:
                sql += f" DEFAULT {default}"
            if draw(st.integers(0, 5)) == 0:
                sql += " UNIQUE"
        parts.append(sql)
    if key == "composite":
        parts.append(f"PRIMARY KEY ({cols[0]}, {cols[1]})")
    if parents and draw(st.booleans()):
        parent = draw(st.sampled_from(parents))  # its primary key, as SQLite requires
        parts.append(f"FOREIGN KEY ({cols[-1]}) REFERENCES {parent}")
    if draw(st.integers(0, 3)) == 0:
        parts.append(f"CHECK ({cols[0]} IS NOT 42)")
    rowless = key in ("text", "composite") and draw(st.booleans())
    return f"CREATE TABLE {name} ({', '.join(parts)})" + (" WITHOUT ROWID" if rowless else ""), key in ("int", "text")


@st.composite
def schemas(draw: st.DrawFn) -> str:
    statements: list[str] = []
    names: list[str] = []
    parents: list[str] = []
    for n in range(draw(st.integers(1, 4))):
        create, keyed = draw(tables(f"t{n}", parents))
        statements.append(create)
        names.append(f"t{n}")
        parents += [f"t{n}"] if keyed else []
        col = _first_col(create)
        if draw(st.booleans()):
            term = draw(st.sampled_from([f"{col} DESC", f"({col} || 'x')", f"{col} COLLATE NOCASE"]))
            statements.append(f"CREATE INDEX i{n} ON t{n} ({term})")
    if draw(st.booleans()):
        statements.append(f"CREATE VIEW v AS SELECT * FROM {names[-1]}")
    return ";\n".join(statements) + ";"


def _first_col(create: str) -> str:
    """The first column's name: an untyped one is followed by its comma (`(a, b TEXT)`)."""
    return create.split("(", 1)[1].split()[0].rstrip(",)")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=schemas())
def test_any_generated_schema_is_written_exactly(script: str) -> None:
    from mig.schema import export

    conn = sqlite3.connect(":memory:")
    conn.executescript(script)
    schema = introspect(conn)
    conn.close()
    text = export.render(schema, "sql", "generated")  # checks that it reads back to the same hash
    from mig.schema.sql import loads

    assert schema_hash(loads(text)) == schema_hash(schema), script


def test_init_report_as_json(tmp_path: Path) -> None:
    db = make_db(tmp_path / "app.db", BY_HAND)
    report = commands.init_command(commands.Inputs(tmp_path, old=db))
    assert report.tables == 5 and report.indexes == 2 and report.views == 1 and report.triggers == 1
    assert Path(report.schema) == tmp_path / "schema.sql"


def test_plan_shows_every_type_change_it_accepts(tmp_path: Path) -> None:
    plan = _plan_after_editing(tmp_path, '"title" TEXT NOT NULL', '"title" VARCHAR(300) NOT NULL')
    assert "  title <- title (type TEXT -> VARCHAR(300))" in plan.stdout, plan.stdout + plan.stderr
    assert plan.stdout.count("(type ") == 1
    data = json.loads(mig_here("plan", "--old", str(tmp_path / "app.db"), "--json", cwd=tmp_path).stdout)
    assert data["type_changes"] == {"book": {"title": "TEXT -> VARCHAR(300)"}}


def test_a_database_named_by_its_own_schema_hash_has_nothing_to_do(tmp_path: Path) -> None:
    """mig names a new database after its schema's hash: after init, that database's file
    name is the target's, and plan and migrate must say so rather than refuse."""
    d = tmp_path / "p"
    d.mkdir()
    db = make_db(d / "p-0000000000000001.sqlite", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);")
    report = commands.init_command(commands.Inputs(d))
    named = db.rename(d / f"p-{report.schema_hash}.sqlite")
    for args in ((), ("--old", str(named))):
        for command in ("plan", "migrate"):
            out = mig_here(command, *args, cwd=d)
            assert out.returncode == 0 and "nothing to migrate" in out.stdout, (command, args, out.stdout + out.stderr)
    assert sorted(p.name for p in d.iterdir()) == [named.name, "schema.sql"]


DSL_SHAPED = """
CREATE TABLE author (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, rating REAL DEFAULT 2.5);
CREATE TABLE book (id INTEGER NOT NULL PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES author(id) ON DELETE CASCADE,
                   title TEXT NOT NULL UNIQUE, cover BLOB, note TEXT DEFAULT 'none',
                   stamp INTEGER DEFAULT (strftime('%s')));
CREATE TABLE tag (label TEXT NOT NULL PRIMARY KEY, book_id INTEGER REFERENCES book(id) ON DELETE SET NULL);
CREATE INDEX ix_tag_book_id ON tag (book_id);
"""


@pytest.mark.parametrize("fmt", ["py", "fsx"])
def test_a_database_the_dsl_can_say_is_written_in_it_exactly(tmp_path: Path, fmt: str) -> None:
    db = make_db(tmp_path / "app.db", DSL_SHAPED)
    out = mig_here("init", "--old", str(db), "--format", fmt, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert schema_hash(load_schema(tmp_path / f"schema.{fmt}")) == _hash_of(db)
    plan = mig_here("plan", "--old", str(db), cwd=tmp_path)
    assert plan.returncode == 0 and "nothing to migrate" in plan.stdout, plan.stdout + plan.stderr


@pytest.mark.parametrize("fmt", ["py", "fsx"])
def test_what_the_dsl_cannot_say_is_refused_naming_it(tmp_path: Path, fmt: str) -> None:
    db = make_db(tmp_path / "app.db", BY_HAND)
    out = mig_here("init", "--old", str(db), "--format", fmt, cwd=tmp_path)
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "the DSL cannot say" in out.stderr and "use --format sql" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]
    assert mig_here("init", "--old", str(db), "--format", "sql", cwd=tmp_path).returncode == 0  # the advice
