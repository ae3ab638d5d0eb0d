"""An Alembic script directory in a temporary directory: revisions in `versions/`,
and the configuration that points Alembic at one database file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_ENV = '''
from alembic import context
from sqlalchemy import create_engine
engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
'''


def make_scripts(root: Path, **revisions: str) -> None:
    """`root/env.py` and `root/versions/<name>.py` for each revision given."""
    (root / "versions").mkdir()
    (root / "env.py").write_text(_ENV)
    (root / "script.py.mako").write_text("")
    for name, text in revisions.items():
        (root / "versions" / f"{name}.py").write_text(text)


def config(root: Path, db: Path) -> Any:
    """Alembic's Config for the scripts in `root`, on the database `db`."""
    from alembic.config import Config

    c = Config()
    c.set_main_option("script_location", str(root))
    c.set_main_option("sqlalchemy.url", f"sqlite:///{db}")
    return c
