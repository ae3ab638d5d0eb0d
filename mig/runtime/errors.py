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
    """This database accepts no writes; reads go on. Two sides, one class:

    - the old database is draining (`new_path`: where writes go after cutover), or it
      was retired by a migration this process saw drain (`retired`);
    - the new database is being reverted by `mig revert` (`reverted`; `old_path`: the
      database that takes the writes again).

    `waited`: set when `wait_until_ready` gave up after that many seconds."""

    retry_after = RETRY_AFTER_S

    def __init__(self, path: str | Path, new_path: str | None = None, retired: bool = False, *,
                 reverted: bool = False, old_path: str | None = None, waited: float | None = None) -> None:
        self.new_path = new_path
        self.old_path = old_path
        self.retired = retired
        self.reverted = reverted
        self.waited = waited
        if reverted:
            still = f" (still reverting after {waited:g} s)" if waited is not None else ""
            text = (f"writes are blocked: {path} is reverted to {old_path or 'the old database'} by "
                    f"`mig revert`{still}; send writes to the old service")
        elif retired:
            text = (f"writes are blocked: {path} was retired by a migration to {new_path}; "
                    "send writes to the new service (this process saw it drain and never "
                    "writes to it again)")
        else:
            still = f" (still draining after {waited:g} s)" if waited is not None else ""
            text = (f"writes are blocked: {path} is draining for a schema migration{still}; "
                    "send writes to the new service after cutover")
        super().__init__(path, text)


class NotReady(MigRuntimeError):
    """The new database is being built by `mig migrate`/`mig drain`: before its cutover, or
    again after `mig revert` (`reverted`) until the next one."""

    retry_after = RETRY_AFTER_S

    def __init__(self, path: str | Path, waited: float | None = None, *, reverted: bool = False) -> None:
        self.reverted = reverted
        self.waited = waited
        still = f" (still migrating after {waited:g} s)" if waited is not None else ""
        if reverted:
            text = (f"not ready: {path} was reverted by `mig revert` and is migrating again{still}; "
                    "it serves requests after the next `mig cutover`")
        else:
            text = (f"not ready: {path} is being built by a migration{still}; "
                    "it serves requests after `mig cutover`")
        super().__init__(path, text)


class DatabaseNotFound(MigRuntimeError):
    """Opening never creates a file: a wrong path is an error, not a new empty database."""

    def __init__(self, path: str | Path, problem: str = "does not exist") -> None:
        super().__init__(path, f"database {path} {problem} (mig.runtime never creates one)")
