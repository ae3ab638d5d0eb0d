"""Run a real process on a pseudo-terminal and collect everything it drew (tests only)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from pathlib import Path


def run_on_a_terminal(args: list[str], timeout: float = 60, cwd: Path | None = None,
                      env: dict[str, str] | None = None) -> tuple[int, str]:
    """Exit code and the raw output (stdout and stderr both on the terminal, as for a user)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                            env={**os.environ, "TERM": "xterm-256color", **(env or {})})
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every end of the terminal's slave side is closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        code = proc.wait(timeout=10)
    return code, b"".join(chunks).decode("utf-8", "replace")

