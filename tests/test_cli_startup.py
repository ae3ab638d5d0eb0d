"""A command starts only what it uses (issue 15).

The runbook's `mig drain` then `mig cutover` holds one interpreter start-up
inside the write-unavailability window (docs/design.md, Targets), so the CLI must not
load the schema front ends, the planner or rich for a command that does not
need them. Checked by the modules a real run of the command leaves in
`sys.modules`, never by a time: that holds on any machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from clihelp import make_db

from mig import commands

OLD = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO item VALUES (1, 'a');"
NEW = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER DEFAULT 0);"

# Runs the CLI in this process, then writes its exit code and every loaded module.
PROBE = """
import json, sys
from mig.cli.main import main
code = 0
try:
    main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""

# What path inference of a schema.sql project does not need (with --new, no front end at all).
OTHER_FRONT_ENDS = ("mig.schema.fsx", "mig.schema.pydecl", "mig.schema.python", "mig.schema.decl",
                    "mig.schema.translate", "mig.dsl")
PLANNER = ("mig.plan.compare", "mig.plan.checks", "mig.phases.migrate", "mig.phases.common.datachecks")
NEVER = ("rich", "mig.cli.demo", "mig.phases.verify")


def _loaded(tmp_path: Path, *args: str) -> list[str]:
    """The modules `mig ARGS` loaded, run for real in a fresh interpreter; it must succeed."""
    out = tmp_path / "modules.json"
    run = subprocess.run([sys.executable, "-c", PROBE, str(out), *args], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.exists(), run.stderr
    result = json.loads(out.read_text())
    assert result["code"] == 0, run.stderr  # a command that failed early proves nothing
    return list(result["modules"])


def _under(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


def _drained(tmp_path: Path) -> tuple[Path, Path]:
    """A project migrated and drained: (its directory, the new database)."""
    d = tmp_path / "proj"
    d.mkdir()
    (d / "schema.sql").write_text(NEW)
    make_db(d / "proj-0000000000000001.sqlite", OLD)
    inputs = commands.Inputs(d)
    new = Path(commands.migrate_command(inputs).new)
    commands.drain_command(inputs)
    return d, new


def test_help_loads_no_command(tmp_path: Path) -> None:
    modules = _loaded(tmp_path, "--help")
    assert _under(modules, ("mig.phases", "mig.plan", "mig.schema", "mig.model", "mig.sqlite.connect", "rich")) == []


@pytest.mark.parametrize("args", [
    ("status",),
    ("status", "--new", "{new}"),
    ("drain",),
    ("drain", "--new", "{new}"),
    ("cutover",),
    ("cutover", "--new", "{new}"),
])
def test_commands_after_migrate_load_no_other_front_end(tmp_path: Path, args: tuple[str, ...]) -> None:
    d, new = _drained(tmp_path)
    modules = _loaded(tmp_path, *[a.format(new=new) for a in args], "--dir", str(d))
    assert _under(modules, OTHER_FRONT_ENDS + NEVER) == []
    if "--new" in args:  # nothing to infer: no schema read at all
        assert _under(modules, ("mig.schema",)) == []


@pytest.mark.parametrize("args", [
    ("status", "--new", "{new}"),
    ("status",),
    ("cleanup-old",),
    ("cutover", "--new", "{new}"),
])
def test_commands_after_migrate_load_no_planner(tmp_path: Path, args: tuple[str, ...]) -> None:
    d, new = _drained(tmp_path)
    if args[0] == "cleanup-old":
        commands.cutover_command(commands.Inputs(d))
    modules = _loaded(tmp_path, *[a.format(new=new) for a in args], "--dir", str(d))
    assert _under(modules, PLANNER + NEVER) == []
