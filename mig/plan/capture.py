"""Capture on the old database, produced from the plan: triggers that log which row
changed (its key, never its values) and block writes while draining.

Capture is key-based: a trigger on every old table records *which* row
changed (its primary key, or rowid for a keyless table). Replay then copies
the row's current state (mig.plan.statements), so capture stays one b-tree
insert per write (invariant 2).

An `INSERT OR REPLACE` that deletes a row conflicting on a UNIQUE column
fires no DELETE trigger, so a BEFORE trigger logs the keys of rows that
such a write could displace; logging a row that did not change is harmless.
"""

from __future__ import annotations

from mig.bookkeeping import CAPTURE_PREFIX, DRAINING_MESSAGE, REVERT_BLOCK, revert_bookkeeping_sql
from mig.model import Schema, Table
from mig.plan.ops import Plan
from mig.sql.text import quote_ident as q
from mig.sql.text import quote_str, tokenize, unquote_ident

__all__ = ["log_key", "log_width", "capture_trigger_sql", "capture_trigger_names", "logging_trigger_names",
           "revert_capture_sql"]


def log_key(table: Table, plan: Plan | None = None) -> tuple[str, ...]:
    """How the capture log names a row of `table`: the key its plan matches rows by,
    else its primary key, else its rowid."""
    tp = plan.by_source(table.name) if plan is not None else None
    return tp.old_key if tp is not None else (table.primary_key or ("rowid",))


def log_width(old: Schema, plan: Plan | None = None) -> int:
    return max((len(log_key(t, plan)) for t in old.tables), default=1)


def _key_values(prefix: str, key: tuple[str, ...]) -> str:
    return ", ".join(f"{prefix}.{'rowid' if k == 'rowid' else q(k)}" for k in key)


def _log_insert(table: Table, key: tuple[str, ...], op: str, prefix: str, when: str | None = None) -> str:
    """Log the key of row `prefix` (NEW or OLD), optionally only `when` it holds."""
    cols = ", ".join(f"k{i + 1}" for i in range(len(key)))
    where = f" WHERE {when}" if when else ""
    return (f"INSERT INTO _migration_log (tbl, op, {cols}) SELECT "
            f"{quote_str(table.name)}, '{op}', {_key_values(prefix, key)}{where}")


def _unique_sets(table: Table, old: Schema) -> list[tuple[str, ...]]:
    """Each UNIQUE of the table as SQL terms: a UNIQUE constraint's column names quoted
    (a name with a space is one term), a unique index's terms as written."""
    sets = [tuple(q(c) for c in u) for u in table.uniques if u != table.primary_key]
    return sets + [tuple(i.columns) for i in old.indexes_of(table.name) if i.unique]


def _column_term(term: str, table: Table) -> tuple[str, str] | None:
    """(column, ` COLLATE x` or "") of an index term over a plain column (`u`, `u DESC`,
    `u COLLATE NOCASE`); None for an expression. The collation is the one the
    UNIQUE compares under, so a REPLACE it triggers is matched the same way."""
    toks = tokenize(term)
    if toks and toks[-1].is_word("ASC", "DESC"):
        toks = toks[:-1]
    collation = ""
    if len(toks) >= 3 and toks[-2].is_word("COLLATE"):
        collation = f" COLLATE {unquote_ident(toks[-1].text)}"
        toks = toks[:-2]
    if len(toks) != 1 or toks[0].kind not in ("word", "ident"):
        return None
    col = table.column(unquote_ident(toks[0].text))
    return (col.name, collation) if col is not None else None


def _displaced_rows(table: Table, key: tuple[str, ...], old: Schema, update: bool) -> str | None:
    """Log the rows a REPLACE on a UNIQUE constraint could silently delete.

    Such a delete fires no DELETE trigger (unless recursive_triggers is on).
    An UPDATE's own row holds its values already and is logged as 'U'.
    """
    conds = []
    for cols in _unique_sets(table, old):
        terms = [_column_term(c, table) for c in cols]
        if not all(terms):
            continue  # an expression index: not tracked (see docs/design.md)
        conds.append("(" + " AND ".join(f"{q(n)} = NEW.{q(n)}{coll}"
                                        for n, coll in (t for t in terms if t)) + ")")
    if not conds:
        return None
    slots = ", ".join(f"k{i + 1}" for i in range(len(key)))
    sel = ", ".join("rowid" if k == "rowid" else q(k) for k in key)
    where = "(" + " OR ".join(conds) + ")"
    if update:
        where += " AND rowid IS NOT OLD.rowid" if not table.without_rowid else \
            " AND (" + " OR ".join(f"{q(k)} IS NOT OLD.{q(k)}" for k in table.primary_key) + ")"
    return (f"INSERT INTO _migration_log (tbl, op, {slots}) SELECT {quote_str(table.name)}, 'R', "
            f"{sel} FROM {q(table.name)} WHERE {where}")


def capture_trigger_names(table: Table) -> list[str]:
    base = CAPTURE_PREFIX + table.name
    return [base + s for s in ("_ins", "_upd", "_del", "_bins", "_bupd")]


def logging_trigger_names(table: Table) -> list[str]:
    """The capture triggers every old table has (the BEFORE ones only where rows can be displaced)."""
    return capture_trigger_names(table)[:3]


def capture_trigger_sql(table: Table, old: Schema, key: tuple[str, ...] | None = None,
                        block: str | None = None) -> list[str]:
    """Triggers on one old table: block writes while draining (or when `block` says),
    log every change.

    Ops: I insert, U update (the row's key now), M the key an update moved
    away from, D delete, R a row a REPLACE may have deleted. Only M, D and R
    can mean a row is gone, so replay looks for deleted rows among those alone.
    """
    key = key or log_key(table)
    ins, upd, dele, bins, bupd = (q(n) for n in capture_trigger_names(table))
    t = q(table.name)
    block = block or (f"SELECT RAISE(ABORT, {quote_str(DRAINING_MESSAGE)}) FROM _migration_marker "
                      "WHERE status = 'draining'")
    cols = [f"{'rowid' if k == 'rowid' else q(k)}" for k in key]
    key_changed = " OR ".join(f"OLD.{k} IS NOT NEW.{k}" for k in cols)
    out = [
        f"CREATE TRIGGER {ins} AFTER INSERT ON {t} BEGIN {block}; "
        f"{_log_insert(table, key, 'I', 'NEW')}; END",
        f"CREATE TRIGGER {upd} AFTER UPDATE ON {t} BEGIN {block}; "
        f"{_log_insert(table, key, 'U', 'NEW')}; {_log_insert(table, key, 'M', 'OLD', key_changed)}; END",
        f"CREATE TRIGGER {dele} AFTER DELETE ON {t} BEGIN {block}; "
        f"{_log_insert(table, key, 'D', 'OLD')}; END",
    ]
    for name, op in ((bins, "INSERT"), (bupd, "UPDATE")):
        displaced = _displaced_rows(table, key, old, op == "UPDATE")
        if displaced:
            out.append(f"CREATE TRIGGER {name} BEFORE {op} ON {t} BEGIN {displaced}; END")
    return out


def revert_capture_sql(target: Schema, reverse: Plan) -> list[str]:
    """What cutover makes in the new database when the change is reversible: the revert
    window's tables, and capture on every table whose rows go back to an old one,
    logging the key the reverse plan matches rows by. From the first write the new
    service makes, as complete as the old database's capture."""
    width = max((len(tp.old_key) for tp in reverse.tables), default=1)
    out = revert_bookkeeping_sql(width)
    for tp in reverse.tables:
        table = target.table(tp.source or "")
        if table is not None:
            out += capture_trigger_sql(table, target, tp.old_key, REVERT_BLOCK)
    return out
