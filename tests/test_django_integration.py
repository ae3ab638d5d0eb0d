"""mig.runtime.django: a real Django (settings configured in process, an ORM model on a SQLite
file, views that read and write) through a real migration, asserted with django.test.Client:
503 + Retry-After for WritesBlocked (draining, then retired) and NotReady (new database before
cutover), reads 200 while the old database drains, writes 201 on the new one after cutover."""

from __future__ import annotations

import sqlite3
import sys
import types
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("django")

import django  # noqa: E402
from django.apps import AppConfig  # noqa: E402
from django.conf import settings  # noqa: E402

from mig import commands  # noqa: E402
from mig.runtime import DatabaseNotFound  # noqa: E402

OLD = """
CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
INSERT INTO books (title) VALUES ('Moominsummer Madness'), ('個人的な体験');
"""
NEW = """
CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT NOT NULL, stock INTEGER NOT NULL DEFAULT 0);
"""

# A one-model app, without files: Django needs an importable module and a path for it.
_APP = types.ModuleType("mig_django_shop")


class ShopConfig(AppConfig):
    name = "mig_django_shop"
    label = "shop"
    path = str(Path(__file__).parent)


_APP.ShopConfig = ShopConfig  # type: ignore[attr-defined]
sys.modules.setdefault("mig_django_shop", _APP)

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="mig-tests",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["mig_django_shop.ShopConfig"],
        MIDDLEWARE=["mig.runtime.django.MigMiddleware"],
        # NAME is set per test (_service): Django reads it at each connect
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "unset.sqlite"}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
    )
    django.setup()
# settings are per process: another module that configures Django in process breaks these tests
assert settings.ROOT_URLCONF == __name__, "Django was configured before this module (in process)"

from django.db import connections, models, transaction  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.http import require_http_methods  # noqa: E402


class Book(models.Model):
    title = models.TextField()

    class Meta:
        app_label = "shop"
        db_table = "books"
        managed = False


@require_http_methods(["GET", "POST"])
def books(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":  # an autocommit INSERT, as Model.save() does outside atomic()
        book = Book.objects.create(title=request.POST["title"])
        return JsonResponse({"id": book.pk}, status=201)
    return JsonResponse({"titles": list(Book.objects.order_by("id").values_list("title", flat=True))})


def add_in_atomic(request: HttpRequest) -> JsonResponse:
    """Reads first, writes later, in one deferred transaction: the first write is checked."""
    with transaction.atomic():
        count = Book.objects.count()
        Book.objects.create(title=f"{request.POST['title']} #{count + 1}")
    return JsonResponse({"count": count + 1}, status=201)


def count_in_atomic(request: HttpRequest) -> JsonResponse:
    """A read in Django's BEGIN (as with ATOMIC_REQUESTS): checked after the BEGIN."""
    with transaction.atomic():
        return JsonResponse({"count": Book.objects.count()})


urlpatterns = [path("books", books), path("books/atomic", add_in_atomic),
               path("books/count", count_in_atomic)]


def _project(tmp: Path) -> tuple[Path, Path, Path]:
    """(project dir, old file, the new file mig will build)."""
    d = tmp / "shop"
    d.mkdir(parents=True)
    (d / "schema.sql").write_text(NEW)
    old = d / "shop-old.sqlite"
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA journal_mode=wal")
    conn.executescript(OLD)
    conn.commit()
    conn.close()
    return d, old, d / "shop-new.sqlite"


def _inputs(d: Path, old: Path, new: Path) -> commands.Inputs:
    return commands.Inputs(d, old=old, new=new, schema=d / "schema.sql")


def _service(file: Path | str, atomic_requests: bool = False, **options: str) -> Client:
    """A Django service (re)started on `file`: new connections, middleware loaded anew."""
    connections.close_all()
    db = settings.DATABASES["default"]  # the same dict the connections read, at each connect
    db.update(NAME=str(file), ATOMIC_REQUESTS=atomic_requests, OPTIONS=options)
    return Client()


@pytest.fixture(autouse=True)
def _closed() -> Iterator[None]:
    yield
    connections.close_all()


def _titles(file: Path) -> list[str]:
    conn = sqlite3.connect(file)
    try:
        return [r[0] for r in conn.execute("SELECT title FROM books ORDER BY id")]
    finally:
        conn.close()


def _unavailable(answer: Any, kind: str) -> None:
    assert answer.status_code == 503, answer.content
    assert answer["Retry-After"] == "1"
    assert answer.content.decode().startswith(f"{kind}: "), answer.content


def test_a_migration_through_a_django_service(tmp_path: Path) -> None:
    d, old, new = _project(tmp_path)
    client = _service(old)
    assert client.post("/books", {"title": "before"}).status_code == 201
    commands.migrate_command(_inputs(d, old, new))
    assert client.post("/books", {"title": "recording"}).status_code == 201  # captured
    assert client.post("/books/atomic", {"title": "recording"}).status_code == 201

    commands.drain_command(_inputs(d, old, new))
    before = _titles(old)
    _unavailable(client.post("/books", {"title": "draining"}), "WritesBlocked")
    _unavailable(client.post("/books/atomic", {"title": "draining"}), "WritesBlocked")
    read = client.get("/books")
    assert read.status_code == 200 and read.json()["titles"] == before
    assert client.get("/books/count").json() == {"count": len(before)}
    assert _titles(old) == before

    client = _service(new)  # the new service, started before cutover
    _unavailable(client.get("/books"), "NotReady")  # the guards see writes only; the watch, reads
    _unavailable(client.get("/books/count"), "NotReady")
    assert not connections["default"].in_atomic_block and not connections["default"].connection.in_transaction
    _unavailable(client.post("/books", {"title": "too early"}), "NotReady")

    commands.cutover_command(_inputs(d, old, new))
    answer = client.post("/books", {"title": "after cutover"})
    assert answer.status_code == 201, answer.content
    assert client.post("/books/atomic", {"title": "after cutover"}).status_code == 201
    assert client.get("/books").json()["titles"] == before + ["after cutover", "after cutover #7"]

    # The old service, still up after cleanup-old: nothing in its file refuses writes any
    # more, but this process saw it drain, so it stays retired.
    commands.cleanup_old_command(_inputs(d, old, new))
    client = _service(old)
    answer = client.post("/books", {"title": "lost"})
    _unavailable(answer, "WritesBlocked")
    assert "retired" in answer.content.decode()
    _unavailable(client.post("/books/atomic", {"title": "lost"}), "WritesBlocked")  # the late check
    assert client.get("/books").status_code == 200 and "lost" not in _titles(old)


def test_atomic_requests_with_begin_immediate_and_a_uri_name(tmp_path: Path) -> None:
    """ATOMIC_REQUESTS wraps every view in Django's BEGIN, here IMMEDIATE: reads still go on
    while the old database drains, writes are refused before they run. NAME as a `mode=rw`
    URI, which Django opens as one (it never creates the file)."""
    d, old, new = _project(tmp_path)
    commands.migrate_command(_inputs(d, old, new))
    client = _service(f"file:{old}?mode=rw", atomic_requests=True, transaction_mode="IMMEDIATE")
    assert client.post("/books", {"title": "recording"}).status_code == 201
    commands.drain_command(_inputs(d, old, new))
    assert client.get("/books").json()["titles"][-1] == "recording"
    _unavailable(client.post("/books", {"title": "draining"}), "WritesBlocked")
    assert _titles(old)[-1] == "recording"
    client = _service(f"file:{new}?mode=rw", atomic_requests=True, transaction_mode="IMMEDIATE")
    _unavailable(client.get("/books"), "NotReady")
    commands.cutover_command(_inputs(d, old, new))
    assert client.post("/books", {"title": "after"}).status_code == 201
    assert client.get("/books").json()["titles"][-2:] == ["recording", "after"]
    client = _service(f"file:{tmp_path / 'nope.sqlite'}?mode=rw")
    with pytest.raises(DatabaseNotFound):
        client.get("/books")
    assert not (tmp_path / "nope.sqlite").exists()


def test_without_the_watch_the_triggers_refusal_is_still_a_503(tmp_path: Path) -> None:
    """MIG_RUNTIME_ROLES = {}: Django's IntegrityError around the trigger's error is mapped.
    Reads of a migrating new database then go through: the guards only see writes."""
    d, old, new = _project(tmp_path)
    commands.migrate_command(_inputs(d, old, new))
    commands.drain_command(_inputs(d, old, new))
    with override_settings(MIG_RUNTIME_ROLES={}):
        client = _service(old)
        answer = client.post("/books", {"title": "draining"})
        _unavailable(answer, "WritesBlocked")
        assert str(old) in answer.content.decode()  # one SQLite alias: the error names it
        assert client.get("/books").status_code == 200
        client = _service(new)
        _unavailable(client.post("/books", {"title": "too early"}), "NotReady")
        assert client.get("/books").status_code == 200


def test_other_errors_are_not_503(tmp_path: Path) -> None:
    """A constraint the service broke is Django's IntegrityError, not a Retry-After."""
    from django.db import IntegrityError

    d, old, new = _project(tmp_path)
    client = _service(old)
    with pytest.raises(IntegrityError, match="NOT NULL"):
        with connections["default"].cursor() as cursor:
            cursor.execute("INSERT INTO books (title) VALUES (NULL)")
    from mig.runtime.django import MigMiddleware

    assert MigMiddleware(lambda r: None).process_exception(HttpRequest(), IntegrityError("x")) is None
    assert client.get("/books").status_code == 200


def test_a_missing_file_is_refused_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    client = _service(missing)
    with pytest.raises(DatabaseNotFound, match="does not exist"):
        client.get("/books")
    assert not missing.exists()


def test_the_watch_sits_outside_the_service_s_own_execute_wrappers(tmp_path: Path) -> None:
    """Installed at connect, maybe inside a `with connection.execute_wrapper(...)` block: that
    block's exit must pop its own wrapper, not the watch."""
    from mig.runtime.django import watch_statement

    d, old, new = _project(tmp_path)
    _service(old).get("/books")
    connections.close_all()
    db = connections["default"]
    seen: list[str] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with db.execute_wrapper(spy):
        db.execute_wrappers.remove(watch_statement)  # as in a thread that never connected
        with db.cursor() as cursor:  # connects: connection_created installs the watch
            cursor.execute("SELECT count(*) FROM books")
        assert db.execute_wrappers == [watch_statement, spy]
    assert db.execute_wrappers == [watch_statement] and seen == ["SELECT count(*) FROM books"]
