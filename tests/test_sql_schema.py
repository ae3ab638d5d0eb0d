"""`schema.sql`: the example corpus, directives, errors, and a hash that ignores formatting."""

from __future__ import annotations

from pathlib import Path

import pytest
from dbcompare import build_from_schema, build_from_sql, diff, intents_from_schema, intents_from_sql, introspect

from mig.errors import SchemaInputError
from mig.model import RenameColumn, RenameTable, schema_hash
from mig.schema.sql import loads

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "fsx-examples"
SQL_FILES = sorted(EXAMPLES.glob("[0-9]*.sql")) if EXAMPLES.is_dir() else []


@pytest.mark.skipif(not SQL_FILES, reason="shared/fsx-examples not beside the repository")
@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.stem)
def test_each_example_rebuilds_to_the_same_database(path: Path) -> None:
    text = path.read_text()
    schema = loads(text, path.name)
    assert diff(introspect(build_from_sql(text)), introspect(build_from_schema(schema))) == []
    assert intents_from_schema(schema) == intents_from_sql(text)


def test_hash_ignores_comments_case_and_whitespace() -> None:
    a = loads("CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT DEFAULT 'x' CHECK (length(n) < 9));\n"
              "CREATE VIEW v AS SELECT n FROM t WHERE id > 1;")
    b = loads("-- the same schema, reformatted\ncreate table t(\n  id integer primary key,\n"
              "  n text default 'x' check(length( n )<9)  /* why */\n);\n\n"
              "create view v as\n  select n from t where id>1 ;")
    assert schema_hash(a) == schema_hash(b)


def test_hash_changes_when_meaning_changes() -> None:
    base = "CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT);"
    for other in ["CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT NOT NULL);",
                  "CREATE TABLE t (id INTEGER PRIMARY KEY, n BLOB);",
                  "CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT); INSERT INTO t VALUES (1, 'x');",
                  "CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT); CREATE INDEX i ON t(n);"]:
        assert schema_hash(loads(base)) != schema_hash(loads(other)), other


def test_directives_with_quoted_names() -> None:
    schema = loads('CREATE TABLE "new table" ("new ""col""" TEXT);\n'
                   '-- mig:rename-table "old table" "new table"\n'
                   '--mig:rename-column "new table" "old ""col""" "new ""col"""\n')
    assert schema.rename_tables == (RenameTable("old table", "new table"),)
    assert schema.rename_columns == (RenameColumn("new table", 'old "col"', 'new "col"'),)


@pytest.mark.parametrize("text,line,fragment", [
    ("CREATE TABLE t (id INTEGER);\n-- mig:rename-tabel a t\n", 2, "unknown directive"),
    ("CREATE TABLE t (id INTEGER);\n\n-- mig:drop-table\n", 3, "takes 1 names"),
    ("CREATE TABLE t (id INTEGER);\n-- mig:drop-table t\n", 2, "still declares table t"),
    ("CREATE TABLE t (id INTEGER);\n-- mig:rename-column t a b\n", 2, "no column t.b"),
    ("CREATE TABLE t (id INTEGER);\nCREATE TABLE t (x);\n", 2, "already exists"),
    ("CREATE TABLE t (id INTEGER);\nATTACH 'x.db' AS x;\n", 2, "ATTACH is not allowed"),
    ("CREATE TABLE t (id INTEGER);\nINSERT INTO t VALUES (1);\nDELETE FROM t;\n", 3, "DELETE is not allowed"),
    ("CREATE TABLE t (id INTEGER);\nUPDATE t SET id = 2;\n", 2, "UPDATE is not allowed"),
    ("CREATE TABLE t (id INTEGER);\nDROP TABLE t;\n", 2, "DROP is not allowed"),
    ("CREATE TABLE t (id INTEGER);\nALTER TABLE t ADD COLUMN x;\n", 2, "ALTER is not allowed"),
    ("CREATE TABLE t (id INTEGER);\nSELECT 1;\n", 2, "SELECT is not allowed"),
    ("CREATE TABLE t (id INTEGER", 1, "incomplete"),
])
def test_errors_name_file_line_and_problem(text: str, line: int, fragment: str) -> None:
    with pytest.raises(SchemaInputError) as err:
        loads(text, "schema.sql")
    assert err.value.line == line and fragment in str(err.value)
    assert str(err.value).startswith(f"schema.sql:{line}:")


def test_replace_into_is_a_seed_row_like_insert() -> None:
    schema = loads("CREATE TABLE c (code TEXT PRIMARY KEY, n REAL); REPLACE INTO c VALUES ('PT', 1);")
    assert [(s.table, s.values) for s in schema.seeds] == [("c", ("PT", 1.0))]


def test_seed_rows_are_the_rows_the_script_leaves() -> None:
    schema = loads("CREATE TABLE c (code TEXT PRIMARY KEY, n REAL); INSERT INTO c VALUES ('PT', 0.1), ('NO', 2);")
    assert [(s.table, s.values) for s in schema.seeds] == [("c", ("PT", 0.1)), ("c", ("NO", 2.0))]


FSX_FILES = sorted(EXAMPLES.glob("[0-9]*.fsx")) if EXAMPLES.is_dir() else []


@pytest.mark.skipif(not FSX_FILES, reason="shared/fsx-examples not beside the repository")
@pytest.mark.parametrize("path", FSX_FILES, ids=lambda p: p.stem)
def test_each_example_has_one_hash_as_fsx_and_as_sql(path: Path) -> None:
    from mig.schema import load_schema

    assert schema_hash(load_schema(path)) == schema_hash(load_schema(path.with_suffix(".sql")))


@pytest.mark.parametrize("a,b", [
    ("CREATE TABLE t (x INT CHECK (x>0));", "CREATE TABLE t (x INT CHECK (X > 0));"),
    ("CREATE TABLE t (x INT); CREATE INDEX i ON t(x);", "CREATE TABLE t (x INT); CREATE INDEX i ON t(X ASC);"),
    ("CREATE TABLE t (x VARCHAR(10));", "CREATE TABLE t (x varchar( 10 ));"),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY); CREATE VIEW v AS SELECT b.id FROM t b;",
     "CREATE TABLE t (id INTEGER PRIMARY KEY); CREATE VIEW v AS SELECT b.id FROM t AS b;"),
    ("CREATE TABLE t (x); CREATE TABLE l (x); CREATE TRIGGER g AFTER INSERT ON t BEGIN INSERT INTO l VALUES (new.x); END;",
     "CREATE TABLE t (x); CREATE TABLE l (x); CREATE TRIGGER g AFTER INSERT ON t FOR EACH ROW BEGIN INSERT INTO l VALUES (NEW.x); END;"),
    ("CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (p INT REFERENCES p(id));",
     "CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (p INT REFERENCES P(ID));"),
])
def test_spelling_does_not_change_the_hash(a: str, b: str) -> None:
    assert schema_hash(loads(a)) == schema_hash(loads(b))


def test_view_column_case_is_meaning() -> None:
    a = "CREATE TABLE t (id INTEGER); CREATE VIEW v AS SELECT id AS Total FROM t;"
    assert schema_hash(loads(a)) != schema_hash(loads(a.replace("Total", "total")))


def test_seeds_with_time_defaults_hash_the_same_at_any_time() -> None:
    text = ("CREATE TABLE e (id INTEGER PRIMARY KEY, ts TEXT DEFAULT CURRENT_TIMESTAMP, r DEFAULT (random()));"
            "INSERT INTO e (id) VALUES (1); INSERT INTO e VALUES (2, 'then', 5);")
    first = loads(text)
    assert [(s.columns, s.values) for s in first.seeds] == [(("id",), (1,)), (("id", "ts", "r"), (2, "then", 5))]
    assert all(schema_hash(loads(text)) == schema_hash(first) for _ in range(3))


@pytest.mark.parametrize("text,line,col,fragment", [
    ("CREATE TABLE t (x INT REFERENCES t(x));", 1, 1, "foreign key mismatch"),
    ("CREATE TABLE a (id INTEGER);\nCREATE TABLE t (x REFERENCES nothere(id));", 2, 1, "nothere"),
    ("CREATE TABLE _migration_log (x);", 1, 1, "reserved"),
    ("CREATE VIRTUAL TABLE f USING fts5(a);", 1, 1, "virtual tables"),
    ("CREATE TABLE u (id TEXT PRIMARY KEY DEFAULT (hex(randomblob(4))), n);\nINSERT INTO u (n) VALUES (1);",
     1, 1, "primary key id"),
    ("CREATE TABLE t (a);\n  CREATE TABLE t (b);", 2, 3, "already exists"),
    ("CREATE TABLE t (a);\n  CREATE VIEW IF NOT EXISTS \"my v\" AS SELECT nosuch FROM t;", 2, 3,
     "cannot read view my v: no such column: nosuch"),
    ("CREATE TABLE t (a);\nCREATE TABLE u (\0b);", 2, 17, "a NUL character"),
    ("CREATE TABLE t (v);\nCREATE VIEW a AS SELECT v FROM t;\nCREATE VIEW v AS SELECT x FROM t;", 3, 1,
     "cannot read view v: no such column: x"),  # the line of v, not of the view that reads column v
    ("CREATE TABLE b (a);\n-- mig:rename-table a b\n-- mig:drop-table a", 3, 4, "contradicts"),
    ("CREATE TABLE b (a); CREATE TABLE c (a);\n-- mig:rename-table a b\n-- mig:rename-table x b", 3, 4,
     "contradicts"),
])
def test_more_errors_name_the_line_and_the_problem(text: str, line: int, col: int, fragment: str) -> None:
    with pytest.raises(SchemaInputError) as err:
        loads(text, "schema.sql")
    assert (err.value.line, err.value.col) == (line, col) and fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_directives_are_line_comments_only() -> None:
    schema = loads("CREATE TABLE t (a); /* -- mig:drop-table x */\n"
                   "INSERT INTO t VALUES ('-- mig:drop-table y');")
    assert schema.drop_tables == ()


def test_the_last_statement_may_omit_its_semicolon() -> None:
    assert [t.name for t in loads("CREATE TABLE a (x);\nCREATE TABLE b (y)").tables] == ["a", "b"]


def test_a_view_may_name_a_table_created_after_it() -> None:
    schema = loads("CREATE VIEW v AS SELECT a FROM later;\nCREATE TABLE later (a);")
    assert [v.name for v in schema.views] == ["v"]


def test_a_view_may_call_a_function_the_service_registers() -> None:
    """Unknown here, defined on the service's connection (or REGEXP): not the schema's error."""
    schema = loads("CREATE TABLE t (s);\nCREATE VIEW f AS SELECT my_slug(s) FROM t WHERE s REGEXP 'a';")
    assert [v.name for v in schema.views] == ["f"]
