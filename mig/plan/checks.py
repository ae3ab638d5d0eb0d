"""The data questions a plan must ask before it may run: would this change lose data?

Each question is SQL over the old database (attached as `old`), seen
through the plan's column mapping, so a CHECK or UNIQUE of the new schema is
tested against exactly the rows the copy would write. Pure code: SQL
strings out; the migrate phase runs them before anything is written
(invariant 1).
"""

from __future__ import annotations

from mig.model import Column, ForeignKey, Index, Schema, Table, Value
from mig.plan.ops import GATHERED, RANGE, DataCheck, TablePlan
from mig.render import default_value_sql
from mig.sqltext import KEYWORDS, canonical, quote_ident, tokenize, unquote_ident
from mig.sqltext import quote_ident as q

__all__ = ["plan_checks", "affinity", "mapped_select", "value_changes_sql", "directive_name"]


def affinity(declared: str) -> str:
    """SQLite's column affinity rules (https://sqlite.org/datatype3.html §3.1)."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if any(x in t for x in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if any(x in t for x in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def directive_name(name: str) -> str:
    """A name as a `-- mig:` directive argument: bare when it can be, else double-quoted."""
    plain = name.replace("_", "a").isalnum() and name.isascii() and not name[:1].isdigit()
    return name if plain and name.upper() not in KEYWORDS else quote_ident(name)


def _stored_default(col: Column) -> str | None:
    """The default a copied row gets, or None when the column has none (DEFAULT NULL is none)."""
    if col.default is None or col.default.strip().upper() == "NULL":
        return None
    return col.default


def mapped_select(tp: TablePlan, tt: Table) -> str:
    """The old rows as the new table would hold them (target column names, generated ones too)."""
    cols = []
    for cs in tp.columns:
        col = tt.column(cs.target)
        assert col is not None
        if cs.source is None:
            default = _stored_default(col)
            expr = default_value_sql(default) if default is not None else "NULL"
        else:
            expr = "rowid" if cs.source == "rowid" else q(cs.source)
        cols.append(f"{expr} AS {q(cs.target)}")
    sql = f"SELECT {', '.join(cols)} FROM old.{q(tp.source or '')} WHERE {RANGE}"
    # A generated column can read the ones before it: one layer each, in column order.
    for col in tt.columns:
        if col.generated is not None:
            sql = f"SELECT *, ({col.generated}) AS {q(col.name)} FROM ({sql})"
    return sql


def value_changes_sql(expr: str, new: Column, strict: bool) -> str | None:
    """A predicate true for values the new column would store differently, or refuse.

    Affinity conversion is asked of SQLite itself: in `CAST(x AS NUMERIC) = x`
    the left side has NUMERIC affinity, so SQLite applies that affinity to a
    text `x` exactly as it would when storing it, and the two are equal just
    when the text would turn into a number.
    """
    if strict:
        allowed = {"INT": "integer", "INTEGER": "integer", "REAL": "real", "TEXT": "text",
                   "BLOB": "blob"}.get(new.type.upper())
        if allowed is None:  # ANY keeps every value as it is
            return None
        return f"({expr}) IS NOT NULL AND typeof({expr}) <> '{allowed}'"
    aff = affinity(new.type)
    numeric_text = f"(typeof({expr}) = 'text' AND CAST({expr} AS NUMERIC) = {expr})"
    if aff == "TEXT":
        return f"typeof({expr}) IN ('integer', 'real')"
    if aff == "REAL":
        return f"(typeof({expr}) = 'integer' OR {numeric_text})"
    if aff in ("INTEGER", "NUMERIC"):
        integral = (f"(typeof({expr}) = 'real' AND {expr} = CAST({expr} AS INTEGER) "
                    f"AND {expr} >= -9223372036854775808.0 AND {expr} < 9223372036854775808.0)")
        return f"({integral} OR {numeric_text})"
    return None


def plan_checks(plans: list[TablePlan], old: Schema, target: Schema) -> list[DataCheck]:
    """Every data question for the copied tables of a plan."""
    by_target = {tp.target: tp for tp in plans}
    checks: list[DataCheck] = []
    for tp in plans:
        if tp.source is None:
            continue
        src, tt = old.table(tp.source), target.table(tp.target)
        assert src is not None and tt is not None
        checks += _dropped_column_checks(tp, src, target)
        checks += _column_checks(tp, src, tt)
        checks += _key_checks(tp, src, tt)
        checks += _check_constraint_checks(tp, src, tt)
        checks += [_unique_check(tp, src, tt, u) for u in _new_unique_sets(tp, src, tt, old, target)]
        checks += [_fk_check(tp, src, tt, fk, target, by_target) for fk in tt.foreign_keys
                   if target.table(fk.ref_table) is not None]
    return checks + _seed_checks(by_target, old, target)


def _chunking(src: Table) -> dict[str, object]:
    """How the runner walks `src` in short reads: its rowid, or its primary key."""
    return {"chunk_table": src.name, "chunk_key": tuple(src.primary_key) if src.without_rowid else ("rowid",)}


def _check(tp: TablePlan, src: Table, column: str | None, reason: str, hint: str, where: str,
           frm: str) -> DataCheck:
    """Rows of `frm` satisfying `where` (non-zero count: refused), read in ranges of `src`."""
    return DataCheck(tp.target, column, reason, hint,
                     count_sql=f"SELECT count(*) FROM {frm} WHERE {where}",
                     sample_sql=f"SELECT * FROM {frm} WHERE {where} LIMIT 1",
                     **_chunking(src))  # type: ignore[arg-type]


def _dropped_column_checks(tp: TablePlan, src: Table, target: Schema) -> list[DataCheck]:
    declared = {d.column.lower() for d in target.drop_columns if d.table.lower() == tp.target.lower()}
    table, out = directive_name(tp.target), []
    for name in tp.dropped_columns:
        if name.lower() in declared:
            continue
        col = directive_name(name)
        out.append(_check(
            tp, src, name, "the new schema drops this column, which holds non-NULL values",
            f"declare it with `-- mig:drop-column {table} {col}` (or DropColumn \"{name}\"), "
            f"or declare a rename with `-- mig:rename-column {table} {col} NEW`",
            f"{RANGE} AND {q(name)} IS NOT NULL", f"old.{q(src.name)}"))
    return out


def _key_select(src: Table, *extra: str) -> str:
    """The old key columns (for a sample that names its row) and `extra` select items."""
    key = [("rowid" if k == "rowid" else q(k)) for k in (src.primary_key or ("rowid",))]
    return ", ".join(key + list(extra))


def _column_checks(tp: TablePlan, src: Table, tt: Table) -> list[DataCheck]:
    mapped = f"({mapped_select(tp, tt)})"
    out = []
    for cs in tp.columns:
        new = tt.column(cs.target)
        assert new is not None
        old = src.column(cs.source) if cs.source and cs.source != "rowid" else None
        if new.notnull and cs.source is None and _stored_default(new) is None:
            out.append(_check(tp, src, cs.target, "the new NOT NULL column has no default and the "
                              "table is not empty", "give the column a DEFAULT, make it nullable, or "
                              "declare a rename from an existing column", RANGE, f"old.{q(src.name)}"))
        elif new.notnull and old is not None and not old.notnull:
            out.append(_check(tp, src, cs.target, "the new schema makes this column NOT NULL and rows "
                              "hold NULL", "fill the NULLs in the old database first, or keep the "
                              "column nullable", f"{q(cs.target)} IS NULL", mapped))
        if old is not None and _type_changes(old, src.strict, new, tt.strict):
            pred = value_changes_sql(q(cs.target), new, tt.strict)
            if pred:
                values = f"(SELECT {_key_select(src, f'{q(old.name)} AS {q(cs.target)}')} " \
                         f"FROM old.{q(src.name)} WHERE {RANGE})"
                out.append(_check(tp, src, cs.target, f"the type change {old.type or 'untyped'} -> "
                                  f"{new.type or 'untyped'} would change stored values",
                                  "keep the old type, or convert the values in the old database first",
                                  pred, values))
    return out


def _type_changes(old: Column, old_strict: bool, new: Column, new_strict: bool) -> bool:
    if new_strict:
        return not (old_strict and old.type.upper() == new.type.upper())
    return affinity(old.type) != affinity(new.type)


def _key_checks(tp: TablePlan, src: Table, tt: Table) -> list[DataCheck]:
    """A key that is new to these values: a rowid must be an integer, and no key may be NULL.

    A NULL in a new INTEGER PRIMARY KEY would be replaced by a fresh rowid and
    in a new WITHOUT ROWID key it is rejected: either way the copy could not
    keep the row as it is.
    """
    back = {c.target.lower(): c.source for c in tp.columns}
    if not tt.primary_key or all(back.get(k.lower()) in src.primary_key for k in tt.primary_key):
        return []
    if tt.rowid_alias is not None:
        key = q(tt.rowid_alias)
        pred, what = f"({key} IS NULL OR typeof({key}) <> 'integer')", "an INTEGER PRIMARY KEY"
    elif tt.without_rowid:
        pred = "(" + " OR ".join(f"{q(k)} IS NULL" for k in tt.primary_key) + ")"
        what = "a WITHOUT ROWID primary key"
    else:
        return []
    return [_check(tp, src, ", ".join(tt.primary_key), f"rows hold NULL or non-integer values in "
                   f"what becomes {what}", "fill in the key values in the old database first",
                   pred, f"({mapped_select(tp, tt)})")]


def _check_constraint_checks(tp: TablePlan, src: Table, tt: Table) -> list[DataCheck]:
    mapped = f"({mapped_select(tp, tt)})"
    old_checks = {canonical(c) for c in src.checks}
    out = []
    for chk in tt.checks:
        if canonical(chk) in old_checks:
            continue
        out.append(_check(tp, src, _columns_named(chk, tt), f"rows violate the new CHECK ({chk})",
                          "fix those rows in the old database first, or relax the CHECK",
                          f"NOT coalesce(({chk}), 1)", mapped))
    return out


def _columns_named(sql: str, tt: Table) -> str | None:
    """The table's columns an expression reads, for the refusal to name."""
    names: list[str] = []
    for tok in tokenize(sql):
        col = tt.column(unquote_ident(tok.text)) if tok.kind in ("word", "ident") else None
        if col is not None and col.name not in names:
            names.append(col.name)
    return ", ".join(names) or None


# ---------------------------------------------------------------- UNIQUE

class _Unique:
    """A uniqueness rule of the target: SQL terms over target columns, each with the
    collation it compares under, maybe partial."""

    def __init__(self, terms: tuple[tuple[str, str], ...], where: str | None = None,
                 label: str = "") -> None:
        self.terms, self.where, self.label = terms, where, label


def _term(text: str, tt: Table) -> tuple[str, str]:
    """(expression, collation) of an index term: `x COLLATE NOCASE`, `lower(x)`, `x`."""
    toks = tokenize(text)
    if len(toks) >= 3 and toks[-2].is_word("COLLATE"):
        return text[:toks[-2].start].strip(), unquote_ident(toks[-1].text).upper()
    col = tt.column(unquote_ident(text.strip()))
    return text, _collation(tt, col.name) if col is not None else "BINARY"


def _collation(tt: Table, name: str) -> str:
    col = tt.column(name)
    return (col.collation or "BINARY").upper() if col is not None else "BINARY"


def _target_uniques(tt: Table, target: Schema) -> list[tuple[_Unique, tuple[str, ...] | None]]:
    """Every uniqueness rule, with its plain column names when it is over plain columns."""
    out: list[tuple[_Unique, tuple[str, ...] | None]] = []
    for cols in tt.uniques + ((tt.primary_key,) if tt.primary_key else ()):
        terms = tuple((q(c), _collation(tt, c)) for c in cols)
        out.append((_Unique(terms, label=f"UNIQUE ({', '.join(cols)})"), tuple(cols)))
    for index in target.indexes_of(tt.name):
        if index.unique:
            out.append(_index_unique(tt, index))
    return out


def _index_unique(tt: Table, index: Index) -> tuple[_Unique, tuple[str, ...] | None]:
    plain = [tt.column(unquote_ident(t.strip())) for t in index.columns]
    label = f"UNIQUE index {index.name} ({', '.join(index.columns)})"
    terms = tuple(_term(t, tt) for t in index.columns)
    if all(plain) and index.where is None:
        return _Unique(terms, label=label), tuple(c.name for c in plain if c is not None)
    return _Unique(terms, index.where, label), None


def _guaranteed(cols: tuple[str, ...] | None, tp: TablePlan, src: Table, tt: Table,
                old: Schema) -> bool:
    """Does an old uniqueness rule, under the same collations, already cover these columns?"""
    if cols is None:
        return False
    back = {c.target.lower(): (c.source or "").lower() for c in tp.columns}
    sources = {back.get(c.lower(), "") for c in cols}
    if sources == {"rowid"}:
        return True  # the old rowid: unique by construction
    if "" in sources or "rowid" in sources:
        return False
    if not all(_collation(src, back[c.lower()]) == _collation(tt, c) for c in cols):
        return False
    old_sets = list(src.uniques) + ([src.primary_key] if src.primary_key else [])
    old_sets += [tuple(unquote_ident(c) for c in i.columns) for i in old.indexes_of(src.name)
                 if i.unique and i.where is None and all(src.column(unquote_ident(c)) for c in i.columns)]
    return any(s and {c.lower() for c in s} <= sources for s in old_sets)


def _new_unique_sets(tp: TablePlan, src: Table, tt: Table, old: Schema,
                     target: Schema) -> list[_Unique]:
    return [u for u, cols in _target_uniques(tt, target) if not _guaranteed(cols, tp, src, tt, old)]


def _unique_check(tp: TablePlan, src: Table, tt: Table, rule: _Unique) -> DataCheck:
    """Gather the rule's terms range by range, then count the rows that share them.

    The gathered table keeps no collation, so the grouping names each one.
    """
    names = [q(unquote_ident(t.strip())) if tt.column(unquote_ident(t.strip())) else q(t)
             for t, _ in rule.terms]
    nonnull = " AND ".join(f"({t}) IS NOT NULL" for t, _ in rule.terms)
    where = f"{nonnull} AND ({rule.where})" if rule.where else nonnull
    terms = ", ".join(f"{t} AS {n}" for (t, _), n in zip(rule.terms, names))
    group = ", ".join(f"{n} COLLATE {c}" for n, (_, c) in zip(names, rule.terms))
    dupes = (f"SELECT {', '.join(names)}, count(*) AS \"rows\" FROM {GATHERED} GROUP BY {group} "
             "HAVING count(*) > 1")
    return DataCheck(
        tp.target, _columns_named(" ".join(t for t, _ in rule.terms), tt), f"rows violate the new {rule.label}",
        "remove the duplicates in the old database first, or drop the constraint",
        count_sql=f"SELECT coalesce(sum(\"rows\"), 0) FROM ({dupes})",
        sample_sql=f"SELECT * FROM ({dupes}) LIMIT 1",
        gather_sql=f"SELECT {terms} FROM ({mapped_select(tp, tt)}) WHERE {where}",
        **_chunking(src))  # type: ignore[arg-type]


# ---------------------------------------------------------------- FOREIGN KEY

def _fk_check(tp: TablePlan, src: Table, tt: Table, fk: ForeignKey, target: Schema,
              plans: dict[str, TablePlan]) -> DataCheck:
    """Child rows whose reference finds neither a copied parent row nor a seeded one."""
    parent = target.table(fk.ref_table)
    assert parent is not None
    ref_cols = fk.ref_columns or parent.primary_key
    found = [_parent_probe(fk.columns, ref_cols, plans.get(parent.name))]
    seeds = [s.as_dict() for s in target.seeds_of(parent.name)]
    if seeds:
        rows = ", ".join("(" + ", ".join(_lit(d.get(c)) for c in ref_cols) + ")" for d in seeds)
        found.append(f"({', '.join(f'c.{q(a)}' for a in fk.columns)}) IN (VALUES {rows})")
    nonnull = " AND ".join(f"c.{q(a)} IS NOT NULL" for a in fk.columns)
    where = f"{nonnull} AND NOT ({' OR '.join(f for f in found if f)})"
    frm = f"({mapped_select(tp, tt)}) c"
    return DataCheck(tp.target, ", ".join(fk.columns),
                     f"rows reference missing {fk.ref_table} rows (FOREIGN KEY)",
                     "fix or delete those rows in the old database first, or add the parent rows "
                     "as seed rows", count_sql=f"SELECT count(*) FROM {frm} WHERE {where}",
                     sample_sql=f"SELECT c.* FROM {frm} WHERE {where} LIMIT 1",
                     **_chunking(src))  # type: ignore[arg-type]


def _seed_checks(plans: dict[str, TablePlan], old: Schema, target: Schema) -> list[DataCheck]:
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
    selects = ["SELECT " + ", ".join(f"{_lit(r.get(c))} AS {q(c)}" for c in cols) for r in rows]
    return "(" + " UNION ALL ".join(selects) + ")"


def _seed_fk_check(tt: Table, fk: ForeignKey, parent: Table, rows: list[dict[str, Value]],
                   target: Schema, plans: dict[str, TablePlan]) -> DataCheck:
    ref_cols = fk.ref_columns or parent.primary_key
    shown = tuple(dict.fromkeys(tt.primary_key + fk.columns))
    found = [_parent_probe(fk.columns, ref_cols, plans.get(parent.name))]
    parents = [s.as_dict() for s in target.seeds_of(parent.name)]
    if parents:
        values = ", ".join("(" + ", ".join(_lit(d.get(c)) for c in ref_cols) + ")" for d in parents)
        found.append(f"({', '.join(f'c.{q(a)}' for a in fk.columns)}) IN (VALUES {values})")
    nonnull = " AND ".join(f"c.{q(a)} IS NOT NULL" for a in fk.columns)
    frm = f"{_seed_rows_sql(rows, shown)} c"
    where = f"{nonnull} AND NOT ({' OR '.join(found)})"
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
                     **_chunking(src))  # type: ignore[arg-type]


def _parent_probe(child_cols: tuple[str, ...], ref_cols: tuple[str, ...],
                  parent: TablePlan | None) -> str:
    """EXISTS against the old parent table itself, so its index answers."""
    if parent is None or parent.source is None:
        return "0"
    by_target = {c.target.lower(): c.source for c in parent.columns}
    sources = [by_target.get(r.lower()) for r in ref_cols]
    if any(s is None for s in sources):
        return "0"
    match = " AND ".join(f"p.{'rowid' if s == 'rowid' else q(s)} = c.{q(a)}"  # type: ignore[arg-type]
                         for a, s in zip(child_cols, sources))
    return f"EXISTS (SELECT 1 FROM old.{q(parent.source)} p WHERE {match})"


def _lit(v: object) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, (bytes, bytearray)):
        return "X'" + bytes(v).hex() + "'"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, float):
        return repr(v) if v == v and abs(v) != float("inf") else ("1e999" if v > 0 else "-1e999")
    return str(v)

