"""SQLite's values and their lossless JSON encoding (REAL to the bit, BLOBs as hex): how
seed rows and copy progress are stored, and what the schema hash reads."""

from __future__ import annotations

from typing import Any, Union

__all__ = ["Value", "encode_value", "decode_value"]

Value = Union[None, int, float, str, bytes]


def encode_value(v: Value) -> Any:
    """JSON-safe, lossless encoding of an SQLite value (REAL to the bit)."""
    if v is None:
        return None
    if isinstance(v, bool):  # bool is an int subclass; SQLite stores 0/1
        return {"i": int(v)}
    if isinstance(v, int):
        return {"i": str(v)}
    if isinstance(v, float):
        return {"r": v.hex()}
    if isinstance(v, str):
        return {"t": v}
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"b": bytes(v).hex()}
    raise TypeError(f"not an SQLite value: {v!r}")


def decode_value(e: Any) -> Value:
    if e is None:
        return None
    (kind, payload), = e.items()
    if kind == "i":
        return int(payload)
    if kind == "r":
        return float.fromhex(payload)
    if kind == "t":
        return str(payload)
    if kind == "b":
        return bytes.fromhex(payload)
    raise ValueError(f"bad encoded value {e!r}")
