"""`schema.py` is code: only plan and migrate run it; every other command finds its
databases from what migrate recorded, so an edited, broken or hostile schema.py
after migrate changes nothing they do (issue: status is documented read-only)."""

from __future__ import annotations

from pathlib import Path

from clihelp import make_db, mig_here

SCHEMA = ("from pathlib import Path\n"
          "Path(__file__).with_name('ran').touch()\n"
          "from mig.dsl import *\n\n\n"
          "class T:\n"
          "    id: int\n"
          "    v: str\n"
          "    w: str | None\n")


def test_only_plan_and_migrate_execute_schema_py(tmp_path: Path) -> None:
    d = tmp_path / "proj"
    d.mkdir()
    make_db(d / "proj-0000000000000001.sqlite", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);"
            "INSERT INTO t VALUES (1, 'a');")
    (d / "schema.py").write_text(SCHEMA)
    ran = d / "ran"
    for command in ("plan", "migrate"):
        assert mig_here(command, "--dir", str(d)).returncode == 0
        assert ran.exists(), f"{command} should run schema.py"
        ran.unlink()
    (d / "schema.py").write_text(SCHEMA + "raise SystemExit('edited after migrate')\n")
    for command in ("status", "verify", "drain", "status", "cutover", "verify", "cleanup-old", "status"):
        out = mig_here(command, "--dir", str(d))
        assert out.returncode == 0, (command, out.stderr)
        assert not ran.exists(), f"{command} ran schema.py"
