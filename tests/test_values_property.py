"""Invariant 3 as a property: any value, copied or replayed, reads back identical in type and value."""

from __future__ import annotations

import math
import sqlite3
import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mig.commands import Inputs, cutover_command, drain_command, migrate_command

SCHEMA = "CREATE TABLE v (id INTEGER PRIMARY KEY, x, r REAL, b BLOB, t TEXT);\n"
# The target adds an index, so that there is a migration: the same schema is nothing to do
TARGET = SCHEMA + "CREATE INDEX v_t ON v (t);\n"

values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False).filter(lambda f: f != 0.0 or math.copysign(1, f) > 0),
    st.binary(max_size=300),
    st.text(max_size=40).filter(lambda s: "\x00" not in s),
)


def typed(v: object) -> tuple[str, object]:
    return ("real", struct.pack("<d", v)) if isinstance(v, float) else (type(v).__name__, v)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.lists(values, min_size=1, max_size=8), during=st.lists(values, min_size=1, max_size=8))
def test_copied_and_replayed_values_are_identical(before: list[object], during: list[object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "p"
        d.mkdir()
        (d / "schema.sql").write_text(TARGET)
        old = d / "p-0000000000000001.sqlite"
        conn = sqlite3.connect(old, isolation_level=None)
        conn.executescript(SCHEMA)
        conn.executemany("INSERT INTO v (x) VALUES (?)", [(v,) for v in before])
        migrate_command(Inputs(d))
        conn.executemany("INSERT INTO v (x) VALUES (?)", [(v,) for v in during])
        conn.executemany("UPDATE v SET x = ? WHERE id = ?", [(v, 1) for v in during[:1]])
        drain_command(Inputs(d))
        report = cutover_command(Inputs(d))
        new = sqlite3.connect(report.new)
        expected = [tuple(map(typed, r)) for r in conn.execute("SELECT id, x FROM v ORDER BY id")]
        actual = [tuple(map(typed, r)) for r in new.execute("SELECT id, x FROM v ORDER BY id")]
        assert actual == expected
        new.close()
        conn.close()
