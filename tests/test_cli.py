"""The `mig` command line: exit codes, one-line errors, path inference, nothing created by reads.

Most tests run the command line in this process (clihelp.mig_here); usage errors, `mig`
alone and the signals run the real `mig` in a process of its own, as a shell would."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from clihelp import MIG, make_db, mig_here, project, run_mig, snapshot

OLD = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO item VALUES (1, 'a');"
NEW = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER DEFAULT 0);"
COMMANDS = ["plan", "migrate", "status", "drain", "cutover", "cleanup-old", "abort", "verify", "demo"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    out = mig_here(command, "--help")
    assert out.returncode == 0 and "--json" in out.stdout and "--dir" in out.stdout


@pytest.mark.parametrize("args,fragment", [
    (["no-such-command"], "mig: No such command 'no-such-command'"),
    (["status", "--no-such-option"], "mig status: No such option '--no-such-option'"),
    (["status", "--dri", "x"], "Did you mean"),
    (["migrate", "extra"], "mig migrate: Got unexpected extra argument (extra)"),
    (["demo", "--rows", "many"], "'many' is not a valid integer"),
    (["status", "--dir"], "mig status: Option '--dir' requires an argument"),  # raised before a context
])
def test_usage_errors_exit_2_in_one_line(args: list[str], fragment: str) -> None:
    out = run_mig(*args)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and fragment in out.stderr, out.stderr
    where = "mig" if args[0] == "no-such-command" else f"mig {args[0]}"
    assert out.stderr.startswith(f"{where}: ") and out.stderr.rstrip().endswith(f"see `{where} --help`")


@pytest.mark.parametrize("command", ["status", "drain", "cutover", "cleanup-old", "verify"])
def test_a_missing_database_is_an_error_and_is_never_created(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nope.sqlite"
    flag = "--old" if command == "cleanup-old" else "--new"
    out = mig_here(command, flag, str(missing), "--dir", str(tmp_path))
    assert out.returncode == 1
    assert out.stderr.startswith(f"{command} failed: ") and "does not exist" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_no_old_database_candidate(tmp_path: Path) -> None:
    d = tmp_path / "proj"
    d.mkdir()
    (d / "schema.sql").write_text(NEW)
    out = mig_here("plan", "--dir", str(d))
    assert out.returncode == 1
    assert "no old database found" in out.stderr and "pass --old" in out.stderr
    assert "proj-<16 hex>.sqlite" in out.stderr


def test_several_old_database_candidates_are_listed(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    make_db(d / "proj-00000000000000ff.sqlite", OLD)
    before = snapshot(d)
    out = mig_here("migrate", "--dir", str(d))
    assert out.returncode == 1
    assert "proj-0000000000000001.sqlite" in out.stderr and "proj-00000000000000ff.sqlite" in out.stderr
    assert "--old" in out.stderr
    assert snapshot(d) == before


def test_schema_file_inference_errors(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    (d / "schema.py").write_text("")
    out = mig_here("plan", "--dir", str(d))
    assert out.returncode == 1 and "schema.py" in out.stderr and "schema.sql" in out.stderr
    (d / "schema.py").unlink()
    (d / "schema.sql").unlink()
    out = mig_here("plan", "--dir", str(d))
    assert out.returncode == 1 and "no schema file" in out.stderr


def test_schema_error_names_file_and_line(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, "CREATE TABLE ok (id INTEGER);\n\nCREATE TABLE bad (id INTEGER,);\n")
    out = mig_here("plan", "--dir", str(d))
    assert out.returncode == 1
    assert out.stderr.startswith("plan failed: ") and "schema.sql:3:1: " in out.stderr
    assert "Traceback" not in out.stderr


def test_paths_are_inferred_and_the_target_is_named_by_hash(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    out = mig_here("plan", "--json", "--dir", str(d))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert Path(data["new"]).name == f"proj-{data['schema_hash']}.sqlite"
    assert Path(data["old"]).name == "proj-0000000000000001.sqlite"
    assert len(data["schema_hash"]) == 16


def test_runbook_lines_in_no_flag_mode(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    migrate = mig_here("migrate", cwd=d)
    assert migrate.returncode == 0, migrate.stderr
    for line in ("Copied tables: 1", "Copied rows: 1", "Copy time: "):
        assert line in migrate.stdout
    status = mig_here("status", cwd=d).stdout
    for line in ("Marker status: recording", "Migration log entries: 0", "Migration status: migrating",
                 "Schema hash: ", "Pending replay entries: 0", "_id_mapping entries: 0",
                 "_migration_progress: present"):
        assert line in status
    refused = mig_here("cleanup-old", cwd=d)
    assert refused.returncode == 1
    assert refused.stderr.startswith("cleanup-old failed: Old database is still in recording mode")
    early = mig_here("cutover", cwd=d)
    assert early.returncode == 1 and early.stderr.startswith("cutover failed: Drain is not complete")
    drain = mig_here("drain", cwd=d)
    assert "Replayed entries: 0" in drain.stdout and "Remaining log entries: 0" in drain.stdout
    assert any(line.startswith("Replay time: ") and line.endswith(" s") for line in drain.stdout.splitlines())
    cut = mig_here("cutover", cwd=d).stdout
    for line in ("Previous status: migrating", "Current status: ready", "Dropped _id_mapping: yes",
                 "Dropped _migration_progress: yes"):
        assert line in cut
    status = mig_here("status", cwd=d).stdout
    for line in ("Migration status: ready", "Pending replay entries: 0 (cutover complete)",
                 "_id_mapping: removed", "_migration_progress: removed"):
        assert line in status
    clean = mig_here("cleanup-old", cwd=d).stdout
    for line in ("Previous marker status: draining", "Dropped _migration_marker: yes",
                 "Dropped _migration_log: yes"):
        assert line in clean
    again = mig_here("migrate", cwd=d)
    assert again.returncode == 0


def test_json_errors_are_one_object_on_stdout(tmp_path: Path) -> None:
    out = mig_here("status", "--json", "--new", str(tmp_path / "x.sqlite"))
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert data["ok"] is False and data["error"]["kind"] == "not_found"


def test_status_variants_old_only_and_new_only(tmp_path: Path) -> None:
    d = project(tmp_path, OLD, NEW)
    assert mig_here("migrate", cwd=d).returncode == 0
    old = d / "proj-0000000000000001.sqlite"
    new = next(p for p in d.glob("proj-*.sqlite") if p != old)
    only_old = mig_here("status", "--old", str(old)).stdout
    assert "Marker status: recording" in only_old and "Migration status" not in only_old
    only_new = mig_here("status", "--new", str(new)).stdout
    assert "Migration status: migrating" in only_new and "Marker status" not in only_new


def test_status_of_a_database_that_is_no_target_claims_nothing_was_removed(tmp_path: Path) -> None:
    plain = tmp_path / "plain.sqlite"
    conn = sqlite3.connect(plain)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    out = mig_here("status", "--new", str(plain))
    assert out.returncode == 0 and "Migration status: no status marker" in out.stdout
    assert "removed" not in out.stdout


def test_mig_alone_shows_the_help() -> None:
    out = run_mig()
    assert out.returncode == 2 and out.stderr.startswith("Usage: mig ") and "Commands:" in out.stderr
    assert len(out.stderr.splitlines()) > 5  # click's help as it is, not squeezed into one line


def test_a_ctrl_c_inside_an_exec_still_exits_130(tmp_path: Path) -> None:
    """A Ctrl-C that lands while exec() runs a string (dataclass creation does, whenever a
    module loads) must not turn the exit into a death by SIGINT once mig has reported it."""
    (tmp_path / "schema.py").write_text('exec("raise KeyboardInterrupt")\n')
    proc = subprocess.run([*MIG, "plan", "--dir", str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 130, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith("plan failed: interrupted by SIGINT"), proc.stderr


def test_sigterm_while_schema_py_runs_is_an_interrupt_not_a_schema_error(tmp_path: Path) -> None:
    """A SIGTERM arrives as an exception in whatever code runs, a schema file's included."""
    started = tmp_path / "started"
    (tmp_path / "schema.py").write_text(
        "import pathlib, time\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        "time.sleep(20)\n")
    proc = subprocess.Popen([*MIG, "plan", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 20
    while not started.exists() and time.monotonic() < end:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143 and err.startswith("plan failed: interrupted by SIGTERM"), err


@pytest.mark.parametrize("args", [["plan", "--old", ""], ["plan", "--new", ""], ["migrate", "--schema", ""],
                                  ["status", "--dir", ""], ["abort", "--old", ""]])
def test_an_empty_path_is_refused_not_taken_as_absent(tmp_path: Path, args: list[str]) -> None:
    out = mig_here(*args, cwd=tmp_path)
    option = args[1]
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out
    assert f"Invalid value for '{option}': an empty path names nothing; pass a path" in out.stderr
    assert list(tmp_path.iterdir()) == []
