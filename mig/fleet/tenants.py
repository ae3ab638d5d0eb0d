"""The tenants of a fleet run: their old databases, as given or listed in a manifest, and
the new database each one migrates into."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mig.errors import NotFound, PathInference

__all__ = ["Tenant", "new_path_of", "read_manifest", "tenants_of"]

_HASHED = re.compile(r"^(.*)-[0-9a-f]{16}$")


@dataclass(frozen=True)
class Tenant:
    old: Path
    new: Path


def new_path_of(old: Path, schema_hash: str) -> Path:
    """`acme.sqlite` -> `acme-<hash>.sqlite`, beside it; a name that already ends in a schema
    hash (the previous migration's) has it replaced, not stacked."""
    match = _HASHED.match(old.stem)
    base = match.group(1) if match else old.stem
    return old.with_name(f"{base}-{schema_hash}{old.suffix or '.sqlite'}")


def read_manifest(path: Path) -> list[Path]:
    """One database per line, relative to the manifest's directory; `#` starts a comment."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise NotFound(f"cannot read the manifest {path}: {exc.strerror or exc}") from exc
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [path.parent / line for line in lines if line]


def tenants_of(paths: list[Path], schema_hash: str) -> list[Tenant]:
    """Each path once (absolute), each one an existing file, none another one's new database."""
    if not paths:
        raise PathInference("no databases: pass them after the options, or --manifest FILE")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise NotFound(f"{len(missing)} database{'s' if len(missing) > 1 else ''} not found: {shown}")
    seen: dict[Path, Path] = {}
    out = []
    for path in (p.absolute() for p in paths):  # the ledger's keys: the same from any directory
        real = path.resolve()
        if real in seen:
            raise PathInference(f"{path} is listed twice (also as {seen[real]}); list each database once")
        seen[real] = path
        out.append(Tenant(path, new_path_of(path, schema_hash)))
    olds = {t.old.resolve() for t in out}
    clash = next((t for t in out if t.new.resolve() in olds), None)
    if clash is not None:
        raise PathInference(f"{clash.new} is listed as a tenant, but it is the new database of {clash.old}; "
                            "list the old databases only")
    return out
