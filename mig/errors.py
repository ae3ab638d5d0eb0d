"""The one error tree of mig, split by what the operator has to do next.

    MigError                      caught in one place: the CLI prints
    │                             "<command> failed: <message>" and exits 1
    ├── SchemaInputError          fix the schema file (file:line:col: message)
    ├── PlanRefused               declare the intent in the schema, or fix the data
    ├── WrongState                run the phases in runbook order
    ├── NotFound                  pass an existing path (or the right --dir)
    ├── PathInference             pass the path explicitly (--old/--new/--schema)
    ├── DatabaseBusy              wait for the other mig phase to finish
    ├── DatabaseError             SQLite itself refused; the message says what
    ├── OldDatabaseDamaged        restore or recover the old database, then migrate it
    └── NoSpace                   free disk space, or put the new database elsewhere

Nothing here imports sqlite3: the database boundary translates sqlite3 errors
into DatabaseError (``mig.sqlite.connect.translate_errors``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from mig.plan.ops import Refusal

__all__ = [
    "MigError",
    "SchemaInputError",
    "PlanRefused",
    "WrongState",
    "NotFound",
    "PathInference",
    "DatabaseBusy",
    "DatabaseError",
    "OldDatabaseDamaged",
    "NoSpace",
    "leaves_on_failure",
]


class MigError(Exception):
    """Base of every error mig reports to an operator."""

    kind = "error"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": str(self)}


@dataclass(frozen=True)
class Position:
    file: str
    line: int
    col: int


class SchemaInputError(MigError):
    """A schema file is wrong: ``<file>:<line>:<col>: <message>``."""

    kind = "schema"

    def __init__(self, file: str, line: int, col: int, message: str) -> None:
        message = message.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")  # one line
        self.file, self.line, self.col, self.message = file, line, col, message
        super().__init__(f"{file}:{line}:{col}: {message}")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": str(self), "file": self.file,
                "line": self.line, "col": self.col}


class PlanRefused(MigError):
    """The plan would lose or corrupt data; carries every refusal at once."""

    kind = "refused"

    def __init__(self, refusals: "tuple[Refusal, ...]") -> None:
        self.refusals = refusals
        first = refusals[0].message if refusals else "plan refused"
        more = f" (and {len(refusals) - 1} more; run `mig plan` to see all)" if len(refusals) > 1 else ""
        super().__init__(f"plan refused: {first}{more}")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": str(self),
                "refusals": [r.to_json() for r in self.refusals]}


class WrongState(MigError):
    """The databases are not in a state this command accepts."""

    kind = "state"


class NotFound(MigError):
    """A path the command needs does not exist."""

    kind = "not_found"


class PathInference(MigError):
    """A path was not given and cannot be inferred unambiguously."""

    kind = "path"


class DatabaseBusy(MigError):
    """Another mig phase holds the lock on this migration."""

    kind = "busy"


class DatabaseError(MigError):
    """SQLite refused an operation; translated at the database boundary."""

    kind = "database"


class OldDatabaseDamaged(MigError):
    """PRAGMA quick_check found the old database damaged; migrate refuses before any change."""

    kind = "damaged"


class NoSpace(MigError):
    """The migration's files would not fit on their filesystems; refused before any change."""

    kind = "space"


@contextmanager
def leaves_on_failure(state: str) -> Iterator[None]:
    """A failure or an interrupt inside the block says what it leaves behind (`state`):
    appended to a MigError's message; on Ctrl-C or SIGTERM, kept for the CLI's one line."""
    try:
        yield
    except MigError as exc:
        exc.args = (f"{exc}; {state}",)
        raise
    except KeyboardInterrupt as exc:
        exc.mig_state = state  # type: ignore[attr-defined]
        raise
