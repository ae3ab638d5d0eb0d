"""Helpers for tests that run the real `mig` command and look at the files it leaves."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

MIG = [sys.executable, "-m", "mig.cli"]


def run_mig(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MIG, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


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
