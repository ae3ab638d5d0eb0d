"""The old rows as the new schema sees them, and the small SQL pieces every data check shares.

Pure code: SQL strings out.
"""

from __future__ import annotations

from typing import Any, Callable

from mig.ddl import default_value_sql
from mig.model import Column, ForeignKey, Schema, Table
from mig.plan.ops import RANGE, ColumnSource, TablePlan
from mig.sql.text import KEYWORDS, canonical_type, quote_ident, tokenize, unquote_ident
from mig.sql.text import quote_ident as q

__all__ = ["source_sql", "expression_reads", "renamed_columns", "type_changes", "affinity", "directive_name", "stored_default", "mapped_select", "chunking", "columns_named",
           "collation", "parent_probe", "lit"]


def source_sql(cs: ColumnSource, prefix: str = "") -> str:
    """The SQL of a copied column's old value: its old column (`prefix.col`), the rowid,
    or a conversion's expression with the old columns it reads qualified by `prefix`."""
    if cs.expr is not None:  # converted, or (a revert's) kept
        return "(" + _qualified(cs.expr or "NULL", cs.reads, prefix) + ")"
    name = "rowid" if cs.source == "rowid" else q(cs.source or "")
    return f"{prefix}.{name}" if prefix else name


def _qualified(expr: str, reads: tuple[str, ...], prefix: str) -> str:
    """`expr` with each reference to a column of `reads` written `prefix."col"`."""
    wanted = {r.lower() for r in reads}
    return _columns_rewritten(expr, lambda name: (f"{prefix}.{q(name)}" if prefix else q(name))
                              if name.lower() in wanted else None)


def renamed_columns(expr: str, names: dict[str, str]) -> str:
    """`expr` with each bare reference to a column of `names` (lower-cased keys) written
    under the name it maps to: an expression over the old columns, over the new ones."""
    return _columns_rewritten(expr, lambda name: q(names[name.lower()]) if name.lower() in names else None)


def _columns_rewritten(expr: str, rewrite: Callable[[str], str | None]) -> str:
    """`expr` with each bare column reference replaced by `rewrite(name)`, unless None."""
    out, at = [], 0
    toks = tokenize(expr)
    for i, tok in enumerate(toks):
        new = rewrite(unquote_ident(tok.text)) if _column_ref(toks, i) else None
        if new is not None:
            out.append(expr[at:tok.start])
            out.append(new)
            at = tok.start + len(tok.text)
    return "".join(out) + expr[at:]


def _column_ref(toks: list[Any], i: int) -> bool:
    """Is token `i` a bare name in value position: not a function's name, a type, an alias,
    a collation, nor qualified?"""
    tok = toks[i]
    if tok.kind not in ("word", "ident"):
        return False
    before = toks[i - 1] if i > 0 else None
    after = toks[i + 1].text if i + 1 < len(toks) else ""
    if before is not None and (before.text == "." or before.is_word("AS", "COLLATE")):
        return False  # a qualified name, a CAST's type, an alias or a collation
    return after not in ("(", ".")


_VALUE_WORDS = frozenset({"TRUE", "FALSE"})  # SQLite reads these as values where no column has the name


def expression_reads(expr: str, src: Table) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(old columns `expr` reads, names in it that are neither a column of `src` nor SQL)."""
    toks = tokenize(expr)
    reads: list[str] = []
    unknown: list[str] = []
    for i, tok in enumerate(toks):
        if not _column_ref(toks, i):
            continue
        name = unquote_ident(tok.text)
        col = src.column(name)
        if col is not None:
            reads += [col.name] if col.name not in reads else []
        elif tok.kind == "ident" or name.upper() not in KEYWORDS | _VALUE_WORDS:
            unknown.append(name)
    return tuple(reads), tuple(unknown)


def type_changes(tables: tuple[TablePlan, ...], old: Schema, target: Schema) -> dict[str, dict[str, str]]:
    """Per target table, each copied column whose declared type changes: `OLD -> NEW`.
    The plan accepts these (the checks found no value they would change); `mig plan`
    shows them so that none passes unseen."""
    out: dict[str, dict[str, str]] = {}
    for tp in tables:
        src, dst = old.table(tp.source or ""), target.table(tp.target)
        if src is None or dst is None:
            continue
        for c in tp.copied_columns:
            if c.how == "converted":  # shown as its conversion
                continue
            before, after = src.column(c.source or ""), dst.column(c.target)
            if before is None or after is None or canonical_type(before.type) == canonical_type(after.type):
                continue
            out.setdefault(tp.target, {})[c.target] = f"{before.type or '(none)'} -> {after.type or '(none)'}"
    return out


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


def stored_default(col: Column) -> str | None:
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
            default = stored_default(col)
            expr = default_value_sql(default) if default is not None else "NULL"
        else:
            expr = source_sql(cs)
        cols.append(f"{expr} AS {q(cs.target)}")
    sql = f"SELECT {', '.join(cols)} FROM old.{q(tp.source or '')} WHERE {RANGE}"
    # A generated column can read the ones before it: one layer each, in column order.
    for col in tt.columns:
        if col.generated is not None:
            sql = f"SELECT *, ({col.generated}) AS {q(col.name)} FROM ({sql})"
    return sql


def chunking(src: Table) -> dict[str, object]:
    """How the runner walks `src` in short reads: its rowid, or its primary key."""
    return {"chunk_table": src.name, "chunk_key": tuple(src.primary_key) if src.without_rowid else ("rowid",)}


def columns_named(sql: str, tt: Table) -> str | None:
    """The table's columns an expression reads, for the refusal to name."""
    names: list[str] = []
    for tok in tokenize(sql):
        col = tt.column(unquote_ident(tok.text)) if tok.kind in ("word", "ident") else None
        if col is not None and col.name not in names:
            names.append(col.name)
    return ", ".join(names) or None


def collation(tt: Table, name: str) -> str:
    col = tt.column(name)
    return (col.collation or "BINARY").upper() if col is not None else "BINARY"


def parent_probe(child_cols: tuple[str, ...], ref_cols: tuple[str, ...],
                  parent: TablePlan | None) -> str:
    """EXISTS against the old parent table itself, so its index answers."""
    if parent is None or parent.source is None:
        return "0"
    by_target = {c.target.lower(): c for c in parent.columns if c.source is not None}
    sources = [by_target.get(r.lower()) for r in ref_cols]
    if any(s is None for s in sources):
        return "0"
    match = " AND ".join(f"{source_sql(s, 'p')} = c.{q(a)}"  # type: ignore[arg-type]
                         for a, s in zip(child_cols, sources))
    return f"EXISTS (SELECT 1 FROM old.{q(parent.source)} p WHERE {match})"


def missing_parent(fk: ForeignKey, parent: Table, target: Schema, plans: dict[str, TablePlan]) -> str:
    """The condition on child row `c` whose reference finds neither a copied parent row
    nor a seeded one (a NULL in the reference finds nothing and needs nothing)."""
    ref_cols = fk.ref_columns or parent.primary_key
    found = [parent_probe(fk.columns, ref_cols, plans.get(parent.name))]
    seeds = [s.as_dict() for s in target.seeds_of(parent.name)]
    if seeds:
        rows = ", ".join("(" + ", ".join(lit(d.get(c)) for c in ref_cols) + ")" for d in seeds)
        found.append(f"({', '.join(f'c.{q(a)}' for a in fk.columns)}) IN (VALUES {rows})")
    nonnull = " AND ".join(f"c.{q(a)} IS NOT NULL" for a in fk.columns)
    return f"{nonnull} AND NOT ({' OR '.join(found)})"


def lit(v: object) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, (bytes, bytearray)):
        return "X'" + bytes(v).hex() + "'"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, float):
        return repr(v) if v == v and abs(v) != float("inf") else ("1e999" if v > 0 else "-1e999")
    return str(v)
