"""The errors a service sees from mig.runtime, each saying what the service should do."""

from __future__ import annotations

from pathlib import Path

__all__ = ["MigRuntimeError", "WritesBlocked", "NotReady", "DatabaseNotFound", "RETRY_AFTER_S"]

RETRY_AFTER_S = 1


class MigRuntimeError(Exception):
    """Base of the errors a service sees from this package."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        super().__init__(message)


class WritesBlocked(MigRuntimeError):
    """The old database accepts no writes: it is draining, or it was retired by a migration."""

    retry_after = RETRY_AFTER_S

    def __init__(self, path: str | Path, new_path: str | None = None, retired: bool = False) -> None:
        self.new_path = new_path
        if retired:
            text = (f"writes are blocked: {path} was retired by a migration to {new_path}; "
                    "send writes to the new service (this process saw it drain and never "
                    "writes to it again)")
        else:
            text = (f"writes are blocked: {path} is draining for a schema migration; "
                    "send writes to the new service after cutover")
        super().__init__(path, text)


class NotReady(MigRuntimeError):
    """The new database is still being built by `mig migrate`/`mig drain`."""

    retry_after = RETRY_AFTER_S

    def __init__(self, path: str | Path, waited: float | None = None) -> None:
        still = f" (still migrating after {waited:g} s)" if waited is not None else ""
        super().__init__(path, f"not ready: {path} is being built by a migration{still}; "
                               "it serves requests after `mig cutover`")


class DatabaseNotFound(MigRuntimeError):
    """Opening never creates a file: a wrong path is an error, not a new empty database."""

    def __init__(self, path: str | Path, problem: str = "does not exist") -> None:
        super().__init__(path, f"database {path} {problem} (mig.runtime never creates one)")
