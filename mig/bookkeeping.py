"""mig's own objects in the databases it migrates, in one place: the names and
columns of its tables, the prefixes of its triggers, the states a marker can
hold, the keys drain leaves for cutover, and the texts a service sees when
mig refuses its write. Phases and the service library (`mig.runtime`) import
this and nothing heavier; SQL elsewhere spells the table names literally,
and tests/test_architecture.py checks that every name it spells is one of
these.

Exact names, not prefixes, for tables: a user table called `_migrations` is
data, and skipping it as mig's would drop it.
"""

from __future__ import annotations

from mig.sql.text import quote_ident as q
from mig.sql.text import quote_str

__all__ = ["TABLE_COLUMNS", "TABLES", "OLD_TABLES", "NEW_TABLES", "CAPTURE_PREFIX", "GUARD_PREFIX",
           "is_internal", "LITESTREAM_TABLES", "DRAINING_MESSAGE", "MIGRATING_MESSAGE", "GUARD_TOKEN",
           "BLOCKED_AT", "DRAIN_BLOCKED_S", "CHECKED_THROUGH", "REVERT_PLAN", "REVERT_CAPTURE", "REVERTED_AT",
           "old_bookkeeping_sql", "new_bookkeeping_sql", "drain_lock_sql", "drain_lock_names",
           "guard_trigger_sql", "guard_trigger_names", "REVERTING_MESSAGE", "REVERT_BLOCK",
           "revert_bookkeeping_sql", "REVERT_TABLES", "old_guard_names", "old_guard_sql", "STASHED_TRIGGERS"]

# Each bookkeeping table with the columns every mig version gave it: a table of that
# name without them is a user's, and skipping it as mig's would drop its rows.
TABLE_COLUMNS = {
    "_migration_marker": {"id", "status", "new_path", "schema_hash"},
    "_migration_log": {"seq", "tbl", "op"},
    "_migration_status": {"id", "status", "old_path"},
    "_migration_progress": {"key", "value"},
    "_id_mapping": {"tbl", "old_key", "new_key"},
    "_schema_identity": {"id", "schema_hash"},
    "_migration_revert": {"id", "status", "old_path", "plan", "capture"},
}
TABLES = frozenset(TABLE_COLUMNS)
OLD_TABLES = ("_migration_marker", "_migration_log")
NEW_TABLES = ("_migration_status", "_migration_progress", "_id_mapping", "_schema_identity")
# The new database's while the revert window is open (cutover to cleanup-old): its own
# log of every write, and the window's state.
REVERT_TABLES = ("_migration_revert", "_migration_log")
CAPTURE_PREFIX = "_mig_capture_"
GUARD_PREFIX = "_mig_guard_"

DRAINING_MESSAGE = ("mig: writes are blocked: this database is draining for a schema migration; "
                    "send writes to the new service after cutover")
MIGRATING_MESSAGE = ("mig: this database is being built by a migration and accepts no writes "
                     "until `mig cutover`")
REVERTING_MESSAGE = ("mig: writes are blocked: this database is reverted to the old one by "
                     "`mig revert`; send writes to the old service")
# The new database's capture triggers refuse every write once a revert starts.
REVERT_BLOCK = (f"SELECT RAISE(ABORT, {quote_str(REVERTING_MESSAGE)}) FROM _migration_revert "
                "WHERE status <> 'open'")
# What the guards ask `sqlite_compileoption_used`: true on mig's connections only.
GUARD_TOKEN = "mig writes here until cutover"

# _migration_progress keys drain leaves for cutover: when it blocked writes (epoch
# seconds), its own share of the window, and the log seq its truth checks reached.
BLOCKED_AT = "blocked_at"
DRAIN_BLOCKED_S = "drain_blocked_seconds"
CHECKED_THROUGH = "checked_through"
# _migration_progress keys migrate leaves for cutover's revert window: the reverse plan and
# the new side's capture (absent when the change cannot be reverted).
REVERT_PLAN = "revert_plan"
REVERT_CAPTURE = "revert_capture"
# The old database's own triggers, kept by a revert in its _migration_progress while it
# replays (they would fire again for writes their new copies already made).
STASHED_TRIGGERS = "stashed_triggers"
# The new database's _migration_progress key a revert leaves (when, epoch seconds): it is
# migrating again, back where migrate left it.
REVERTED_AT = "reverted_at"


# Litestream's own tables in a database it replicates: it writes them itself (a sequence to
# force WAL writes, a lock it takes and rolls back). Never copied, captured or dropped.
LITESTREAM_TABLES = frozenset({"_litestream_seq", "_litestream_lock"})


def is_internal(name: str) -> bool:
    """SQLite's own objects, mig's bookkeeping tables and triggers, and Litestream's tables."""
    low = name.lower()
    return low.startswith(("sqlite_", CAPTURE_PREFIX, GUARD_PREFIX)) or low in TABLES or low in LITESTREAM_TABLES


def old_bookkeeping_sql(width: int) -> list[str]:
    keys = ", ".join(f"k{i + 1}" for i in range(width))
    return [
        "CREATE TABLE _migration_marker (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "status TEXT NOT NULL CHECK (status IN ('recording', 'draining')), "
        "new_path TEXT NOT NULL, schema_hash TEXT NOT NULL, started_at TEXT NOT NULL, "
        "old_fingerprint TEXT NOT NULL)",
        # No AUTOINCREMENT: entries are never deleted before cleanup, so rowids
        # only grow, and the capture trigger stays one b-tree insert.
        f"CREATE TABLE _migration_log (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, "
        f"op TEXT NOT NULL, {keys})",
    ]


def drain_lock_sql() -> list[str]:
    """Triggers that refuse every write to mig's own tables of the old database once
    it drains: a client that set the marker back to `recording` would reopen the
    database to writes nobody replays, and one that wrote the log would change
    what drain replays (invariant 6). mig itself only drops these tables, which
    fires no trigger; the names carry the capture prefix, so abort and cleanup-old
    drop the triggers with the rest and introspection never counts them."""
    return [f"CREATE TRIGGER IF NOT EXISTS {q(name)} "
            f"BEFORE {op} ON {table} BEGIN SELECT RAISE(ABORT, {quote_str(DRAINING_MESSAGE)}); END"
            for name, table, op in _drain_locks()]


def drain_lock_names() -> list[str]:
    """The triggers drain_lock_sql creates: dropped again when a failed drain reopens writes."""
    return [name for name, _, _ in _drain_locks()]


def _drain_locks() -> list[tuple[str, str, str]]:
    return [(f"{CAPTURE_PREFIX}lock{table}_{op.lower()}", table, op)
            for table in ("_migration_marker", "_migration_log") for op in ("INSERT", "UPDATE", "DELETE")]


def guard_trigger_names(table: str) -> list[str]:
    return [GUARD_PREFIX + table + s for s in ("_ins", "_upd", "_del")]


def guard_trigger_sql(table: str, cache_size: int | None = None) -> list[str]:
    """Triggers that refuse writes from any connection but mig's (invariant 7).

    They ask SQLite's built-in `sqlite_compileoption_used` about GUARD_TOKEN, which
    is no compile option: 0 on every connection but mig's own, which override the
    function (db.mig_writer). Nothing a client can read from the schema or set
    with a PRAGMA lets it pass; only code that overrides a built-in does. A
    built-in, so that the write is prepared everywhere and refused when it runs:
    an unknown function would fail at prepare, where SQLite does not notice a
    schema changed since, and a connection refused before cutover would stay
    refused after it. `cache_size`: the guards of migrations an older mig started
    (they let through a connection with that page-cache size), for tests of those."""
    cond = (f"NOT sqlite_compileoption_used({quote_str(GUARD_TOKEN)})" if cache_size is None
            else f"(SELECT cache_size FROM pragma_cache_size) <> {cache_size}")
    raise_ = f"SELECT RAISE(ABORT, {quote_str(MIGRATING_MESSAGE)}) WHERE {cond};"
    return [f"CREATE TRIGGER {q(n)} BEFORE {op} ON {q(table)} BEGIN {raise_} END"
            for n, op in zip(guard_trigger_names(table), ("INSERT", "UPDATE", "DELETE"))]


def old_guard_names(table: str) -> list[str]:
    """A revert's guards on an old table: the names of its capture triggers they replace,
    so that everything that takes capture out (abort, cleanup-old) takes them too."""
    return [CAPTURE_PREFIX + table + s for s in ("_ins", "_upd", "_del")]


def old_guard_sql(table: str) -> list[str]:
    """While a revert replays into the old database, its service's writes are still refused
    as drain refused them (WritesBlocked); mig's connection alone passes, as on the new
    database before cutover."""
    raise_ = (f"SELECT RAISE(ABORT, {quote_str(DRAINING_MESSAGE)}) "
              f"WHERE NOT sqlite_compileoption_used({quote_str(GUARD_TOKEN)});")
    return [f"CREATE TRIGGER {q(n)} BEFORE {op} ON {q(table)} BEGIN {raise_} END"
            for n, op in zip(old_guard_names(table), ("INSERT", "UPDATE", "DELETE"))]


def new_bookkeeping_sql() -> list[str]:
    return [
        "CREATE TABLE _migration_status (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "status TEXT NOT NULL CHECK (status IN ('migrating', 'ready')), old_path TEXT NOT NULL, "
        "plan TEXT NOT NULL, seeds TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE TABLE _migration_progress (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
        "CREATE TABLE _id_mapping (tbl TEXT NOT NULL, old_key, new_key, PRIMARY KEY (tbl, old_key))",
        "CREATE TABLE _schema_identity (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "schema_hash TEXT NOT NULL, schema_commit TEXT, created_at TEXT NOT NULL)",
    ]


def revert_bookkeeping_sql(width: int) -> list[str]:
    """The new database's revert window, made by cutover: the log its capture triggers
    write (the old database's shape), the window's state, and triggers that let no
    connection but mig's write either table but the capture (invariant 6, the other
    way round)."""
    keys = ", ".join(f"k{i + 1}" for i in range(width))
    not_mig = f"NOT sqlite_compileoption_used({quote_str(GUARD_TOKEN)})"
    locks = [("_migration_revert", op, not_mig) for op in ("INSERT", "UPDATE", "DELETE")]
    locks += [("_migration_log", op, not_mig) for op in ("UPDATE", "DELETE")]
    return [
        "CREATE TABLE _migration_revert (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "status TEXT NOT NULL CHECK (status IN ('open', 'reverting')), "
        "old_path TEXT NOT NULL, plan TEXT NOT NULL, capture TEXT NOT NULL, opened_at TEXT NOT NULL, "
        "old_log_top INTEGER)",
        f"CREATE TABLE _migration_log (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op TEXT NOT NULL, {keys})",
        *(f"CREATE TRIGGER {q(f'{CAPTURE_PREFIX}lock{table}_{op.lower()}')} BEFORE {op} ON {table} "
          f"WHEN {when} BEGIN SELECT RAISE(ABORT, {quote_str(REVERTING_MESSAGE)}); END"
          for table, op, when in locks),
    ]
