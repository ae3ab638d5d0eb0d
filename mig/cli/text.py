"""Reports as the runbook's human lines: one fact per line, `Label: value`."""

from __future__ import annotations

from typing import Any

__all__ = ["render_text"]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def render_text(command: str, report: Any) -> str:
    if command.startswith("fleet "):
        from mig.cli.fleet import fleet_lines

        return "\n".join(fleet_lines(command, report))
    return "\n".join(_RENDERERS[command](report))


def _init(r: Any) -> list[str]:
    return [f"Old database: {r.old}", f"Schema file: {r.schema}", f"Schema hash: {r.schema_hash}",
            f"Tables: {r.tables}, indexes: {r.indexes}, views: {r.views}, triggers: {r.triggers}",
            f"Next: change {r.schema} to the schema you want, then `mig plan` shows the migration"]


def _plan(r: Any) -> list[str]:
    p = r.plan
    lines = [f"Old database: {r.old}", f"New database: {r.new}", f"Schema: {r.schema}",
             f"Schema hash: {r.schema_hash}"]
    if r.message:
        return lines + [f"Result: {r.message}"]
    lines.append(f"Copy order: {', '.join(t.target for t in p.tables) or '(no tables)'}")
    for t in p.tables:
        head = {"copy": f"copy from {t.source}", "renamed": f"renamed from {t.source}",
                "create": "create (new, empty)"}[t.how]
        lines.append(f"Table {t.target}: {head}")
        for c in t.columns:
            src = {"same": c.source, "renamed": f"{c.source} (renamed)", "rowid": "rowid",
                   "default": "default", "converted": f"{c.expr} (converted)"}[c.how]
            changed = r.type_changes.get(t.target, {}).get(c.target)
            lines.append(f"  {c.target} <- {src}" + (f" (type {changed})" if changed else ""))
        for d in t.dropped_columns:
            lines.append(f"  dropped column: {d}")
    for d in p.dropped_tables:
        lines.append(f"Dropped table: {d}{' (declared)' if d in p.declared_drops else ''}")
    for o in p.objects:
        lines.append(f"{o.kind.capitalize()} {o.name}: {o.change}")
    for n in p.notes:
        lines.append(f"Note: {n}")
    if not p.refusals:
        lines.append(f"Reversible after cutover: {'yes' if r.reversible else 'no'}")
        lines += [f"  not reversible: {x}" for x in r.irreversible]
        lines += [f"  on revert: {x}" for x in r.revert_notes]
    lines.append(f"Refusals: {len(p.refusals)}")
    lines += [f"Refused: {x.message}" for x in p.refusals]
    lines.append("Result: migrate would be refused" if p.refusals else "Result: migrate can run")
    return lines


def _migrate(r: Any) -> list[str]:
    lines = [f"Old database: {r.old or '(none)'}", f"New database: {r.new}",
             f"Schema hash: {r.schema_hash}"]
    if r.message:
        return lines + [r.message]
    lines += [f"Copied table {name}: {rows} rows" for name, rows in r.tables.items()]
    lines += [f"Copied tables: {r.copied_tables}", f"Copied rows: {r.copied_rows}",
              f"Copy time: {r.copy_seconds:.3f} s", "Marker status: recording",
              "Migration status: migrating", "Next: deploy the new service (it stays blocked), "
              "then run mig drain"]
    return lines + [f"Note: {n}" for n in getattr(r, "notes", ())]


def _status(r: Any) -> list[str]:
    lines = []
    if r.marker_status is not None:
        lines += [f"Old database: {r.old}", f"Marker status: {r.marker_status}",
                  f"Migration log entries: {r.log_entries}"]
    if r.migration_status is not None:
        lines += [f"New database: {r.new}", f"Migration status: {r.migration_status}",
                  f"Schema hash: {r.schema_hash or 'unknown'}"]
        if r.bulk_copy == "not finished":
            lines.append("Bulk copy: not finished (a migrate is running or was stopped; "
                         "run `mig migrate` again to go on)")
        elif r.bulk_copy is not None:
            lines.append(f"Bulk copy: {r.bulk_copy}")
        if r.cutover_complete:
            lines.append("Pending replay entries: 0 (cutover complete)")
        elif r.pending is not None:
            lines.append(f"Pending replay entries: {r.pending}")
        if r.migration_status != "no status marker":  # not a target: nothing was ever removed
            lines.append("_id_mapping: removed" if r.id_mapping_entries is None
                         else f"_id_mapping entries: {r.id_mapping_entries}")
            lines.append(f"_migration_progress: {r.migration_progress}")
        if r.revert_window is not None:
            lines.append(_revert_window(r))
    return lines


def _revert_window(r: Any) -> str:
    if r.revert_window == "open":
        return (f"Revert window: open ({r.revert_log_entries} entries; `mig revert` goes back, "
                "`mig cleanup-old` ends it)")
    if r.revert_window == "reverting":
        return "Revert window: reverting (writes refused; run `mig revert` to finish)"
    if r.revert_window == "reverted":
        return ("Revert window: reverted (the old database serves and records again; `mig drain` and "
                "`mig cutover` go forward again, `mig abort` ends the migration)")
    return f"Revert window: {r.revert_window}"


def _drain(r: Any) -> list[str]:
    if hasattr(r, "cutover"):  # drain --cutover
        return _drain(r.drain) + _cutover(r.cutover)
    return [f"Old database: {r.old}", f"New database: {r.new}",
            f"Previous marker status: {r.previous_marker}", f"Marker status: {r.marker_status}",
            f"Replayed entries: {r.replayed}", f"Remaining log entries: {r.remaining}",
            f"Replay time: {r.replay_seconds:.3f} s",
            f"Replayed before blocking writes: {r.caught_up}",
            f"Writes blocked for: {r.blocked_seconds:.3f} s (drain's part: until its checks ended)",
            f"Seed rows applied: {r.seeds_applied}"]


def _cutover(r: Any) -> list[str]:
    return [f"New database: {r.new}", f"Previous status: {r.previous_status}",
            f"Current status: {r.current_status}",
            f"Dropped _id_mapping: {_yes(r.dropped_id_mapping)}",
            f"Dropped _migration_progress: {_yes(r.dropped_migration_progress)}"] + _window(r)


def _window(r: Any) -> list[str]:
    if r.writes_refused_seconds is None:
        return []
    drain_part = f"; drain's part {r.drain_blocked_seconds:.3f} s" if r.drain_blocked_seconds is not None else ""
    return [f"Writes refused for: {r.writes_refused_seconds:.3f} s (from drain's block to ready{drain_part})"]


def _revert(r: Any) -> list[str]:
    if r.previous_status == "reverted":
        return [f"Old database: {r.old}", f"New database: {r.new}", "Revert window: reverted (already)"]
    return [f"Old database: {r.old}", f"New database: {r.new}",
            f"Previous revert window: {r.previous_status}", "Marker status: recording",
            "Migration status: migrating",
            f"Replayed entries: {r.replayed}", f"Replay time: {r.replay_seconds:.3f} s",
            f"Replayed before blocking writes: {r.caught_up}",
            f"Writes refused for: {r.blocked_seconds:.3f} s (from blocking the new database to the old "
            "one taking writes)",
            "Next: the old service serves; `mig drain` and `mig cutover` go forward again, "
            "`mig abort` ends the migration"] + \
        [f"Left in the new database: {', '.join(r.left_behind)} (columns the old schema lacks)"] * bool(r.left_behind)


def _cleanup(r: Any) -> list[str]:
    return [f"Old database: {r.old}", f"Previous marker status: {r.previous_marker}",
            f"Dropped _migration_marker: {_yes(r.dropped_marker)}",
            f"Dropped _migration_log: {_yes(r.dropped_log)}",
            f"Closed the revert window: {_yes(r.closed_revert_window)}"]


def _abort(r: Any) -> list[str]:
    return [f"Old database: {r.old or '(none)'}", f"New database: {r.new or '(none)'}",
            f"Previous marker status: {r.previous_marker}",
            f"Removed capture from old database: {_yes(r.removed_capture)}",
            f"Removed new database: {_yes(r.removed_new)}"]


def _verify(r: Any) -> list[str]:
    lines = [f"Old database: {r.old}", f"New database: {r.new}"]
    for t in r.tables:
        state = "ok" if t.ok else "DIFFERS"
        lines.append(f"Table {t.table}: {state} (old {t.old_rows} rows, new {t.new_rows} rows"
                     + (f", {t.differing_rows} differing)" if t.differing_rows else ")"))
        lines += [f"  differing key: {k}" for k in t.differing_keys]
    lines += [f"Checked rows: {r.rows}", f"Verify time: {r.seconds:.3f} s",
              f"Verify rate: {r.rate:.0f} rows/s", f"Result: {'ok' if r.ok else 'tables differ'}"]
    return lines


def _demo(r: Any) -> list[str]:
    return list(r.lines())


_RENDERERS = {"init": _init, "plan": _plan, "migrate": _migrate, "status": _status, "drain": _drain,
              "cutover": _cutover, "revert": _revert, "cleanup-old": _cleanup, "abort": _abort, "verify": _verify,
              "demo": _demo}
