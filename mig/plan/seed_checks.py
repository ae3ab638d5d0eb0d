"""Seed rows against the old data: their parents must exist, their UNIQUE values be free.

Pure code: DataChecks out.
"""

from __future__ import annotations

from mig.model import ForeignKey, Schema, Table
from mig.plan.mapping import chunking, lit, mapped_select, missing_parent
from mig.plan.ops import DataCheck, TablePlan
from mig.sql.text import quote_ident as q
from mig.sql.values import Value

__all__ = ["seed_checks"]


def seed_checks(plans: dict[str, TablePlan], old: Schema, target: Schema) -> list[DataCheck]:
    """Seed rows must find their parents and must not clash with an old row's UNIQUE values."""
    out: list[DataCheck] = []
    for tt in target.tables:
        rows = [s.as_dict() for s in target.seeds_of(tt.name)]
        if not rows:
            continue
        tp = plans.get(tt.name)
        for fk in tt.foreign_keys:
            parent = target.table(fk.ref_table)
            given = [r for r in rows if all(c in r for c in fk.columns)]
            if parent is not None and given:
                out.append(_seed_fk_check(tt, fk, parent, given, target, plans))
        if tp is not None and tp.source is not None:
            src = old.table(tp.source)
            assert src is not None
            for cols in tt.uniques:
                given = [r for r in rows if all(c in r for c in cols + tt.primary_key)]
                if given and tt.primary_key:
                    out.append(_seed_clash_check(tp, src, tt, cols, given))
    return out


def _seed_rows_sql(rows: list[dict[str, Value]], cols: tuple[str, ...]) -> str:
    """The seed rows as a table of literals (only `cols`)."""
    selects = ["SELECT " + ", ".join(f"{lit(r.get(c))} AS {q(c)}" for c in cols) for r in rows]
    return "(" + " UNION ALL ".join(selects) + ")"


def _seed_fk_check(tt: Table, fk: ForeignKey, parent: Table, rows: list[dict[str, Value]],
                   target: Schema, plans: dict[str, TablePlan]) -> DataCheck:
    shown = tuple(dict.fromkeys(tt.primary_key + fk.columns))
    frm = f"{_seed_rows_sql(rows, shown)} c"
    where = missing_parent(fk, parent, target, plans)
    return DataCheck(tt.name, ", ".join(fk.columns), f"seed rows reference missing {fk.ref_table} rows "
                     "(FOREIGN KEY)", f"add the {fk.ref_table} rows as seed rows too, or fix the seed rows",
                     count_sql=f"SELECT count(*) FROM {frm} WHERE {where}",
                     sample_sql=f"SELECT c.* FROM {frm} WHERE {where} LIMIT 1", chunk_table=None)


def _seed_clash_check(tp: TablePlan, src: Table, tt: Table, cols: tuple[str, ...],
                      rows: list[dict[str, Value]]) -> DataCheck:
    """A seed row whose UNIQUE values an old row with another key holds (upsert would fail)."""
    shown = tuple(dict.fromkeys(tt.primary_key + cols))
    same = " AND ".join(f"o.{q(c)} = c.{q(c)}" for c in cols)
    other = " OR ".join(f"o.{q(k)} IS NOT c.{q(k)}" for k in tt.primary_key)
    frm = f"{_seed_rows_sql(rows, shown)} c"
    where = f"EXISTS (SELECT 1 FROM ({mapped_select(tp, tt)}) o WHERE {same} AND ({other}))"
    return DataCheck(tt.name, ", ".join(cols), f"seed rows clash with existing rows on UNIQUE "
                     f"({', '.join(cols)})", "change the seed rows, or those rows in the old database",
                     count_sql=f"SELECT count(*) FROM {frm} WHERE {where}",
                     sample_sql=f"SELECT c.* FROM {frm} WHERE {where} LIMIT 1",
                     **chunking(src))  # type: ignore[arg-type]
