"""Helpers for tests that run the `mig` command and look at the files it leaves.

`run_mig` runs the real `mig` in a process of its own: for what only a process
shows (signals, exit codes as the shell sees them, a second process beside
another). `mig_here` runs the same command line in this process, with the
same outputs and exit code, where the process boundary is not what is tested:
several times faster, as no interpreter starts and no module is imported again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

MIG = [sys.executable, "-m", "mig.cli"]


def run_mig(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MIG, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def mig_here(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`mig ARGS` run in this process: its exit code, stdout and stderr, as run_mig gives them."""
    from mig.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    code: int | str | None = 0
    try:
        os.environ.update(env or {})
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main.main(list(args))
    except SystemExit as exc:
        code = exc.code
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["mig", *args], code if isinstance(code, int) else 1,
                                       out.getvalue(), err.getvalue())


def snapshot(directory: Path) -> dict[str, str]:
    """Every file in a directory with its content hash (to prove nothing changed)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.iterdir()) if p.is_file()}


def make_db(path: Path, script: str) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.commit()
    conn.close()
    return path


def project(tmp: Path, old_sql: str, new_sql: str, name: str = "proj") -> Path:
    """A project directory: schema.sql (the new schema) beside `<name>-<16 hex>.sqlite`."""
    d = tmp / name
    d.mkdir()
    (d / "schema.sql").write_text(new_sql)
    make_db(d / f"{name}-0000000000000001.sqlite", old_sql)
    return d


DEADLINE_S = 60.0
T = TypeVar("T")


def wait_for(what: str, look: Callable[[], T], proc: subprocess.Popen[Any] | None = None) -> T:
    """Poll `look` until it returns something true; fail naming `what` if `proc` ends first
    or DEADLINE_S passes."""
    end = time.monotonic() + DEADLINE_S
    while True:
        got = look()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > end:
            raise AssertionError(f"not reached in {DEADLINE_S:.0f} s: {what}")
        time.sleep(0.01)


# The runbook projects of the invariant tests (drain's and revert's): a directory `shop/`.

def old_path(d: Path) -> Path:
    return d / "shop-0000000000000001.sqlite"


def new_path(d: Path) -> Path:
    return next(p for p in d.glob("shop-*.sqlite") if p != old_path(d))


def mig(d: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A runbook step in this process, which must succeed (kills run `mig` in processes of their own)."""
    out = mig_here(*args, "--dir", str(d))
    assert out.returncode == 0, out.stderr
    return out
