"""A Django project in a temporary directory: an app `shelf` with its models and
migrations, and Django run in processes of its own (its settings and app registry
are per process, and the tests beside these configure Django in-process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

APPS = ["django.contrib.contenttypes", "django.contrib.auth", "shelf"]

_SETUP = '''
import sys
sys.path.insert(0, {root!r})
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS={apps!r},
    DATABASES={{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1],
                             "OPTIONS": {{"timeout": 30}}}}}},
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField", USE_TZ=True)
django.setup()
from django.core.management import call_command
'''


def make_app(root: Path, models: str) -> Path:
    """`root/shelf/` with `models`, and an empty migrations package."""
    app = root / "shelf"
    (app / "migrations").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    (app / "models.py").write_text(models)
    return app


def script(root: Path, body: str, apps: list[str] = APPS) -> str:
    """`body` after Django is set up on the database named by the process's first argument."""
    return _SETUP.format(root=str(root), apps=apps) + body


def run(root: Path, body: str, db: Path, *args: str, apps: list[str] = APPS) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script(root, body, apps), str(db), *args],
                          capture_output=True, text=True, timeout=120)
