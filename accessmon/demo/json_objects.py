"""JSON objects built column-wise: one Arrow fragment column per key, joined row-wise.

Each key becomes a column of `,"key":value` fragments, null where the value is empty (how
Teleport's omitempty is honoured); rendering joins them in key order, so no Python object is
built per event and the same draws always give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from accessmon.demo.fixed_width import fixed_column, time_bytes


def _empty(v: Any) -> bool:
    """Teleport's omitempty: no key for "", [], {}, false, 0 or null."""
    if v is None or v is False or (isinstance(v, str | list | tuple | dict) and len(v) == 0):
        return True
    return type(v) is int and v == 0


def _dump(v: Any) -> str:
    """Compact JSON with sorted keys, as Teleport writes nested values."""
    return json.dumps(v, separators=(",", ":"), sort_keys=True)


def take(vocab: pa.Array, idx: np.ndarray, omit: np.ndarray | None = None) -> pa.Array:
    """vocab[idx[i]] per row without a Python loop; null where omit is true."""
    return vocab.take(pa.array(np.asarray(idx, np.int32), mask=omit))


class JsonObjects:
    """One JSON object per row, kept as one fragment column per key until rendered."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.frags: dict[str, pa.Array | pa.Scalar] = {}

    def const(self, key: str, value: Any, *, keep: bool = False) -> None:
        """The same value on every row (omitted when empty unless keep)."""
        if keep or not _empty(value):
            self.frags[key] = pa.scalar(f",{_dump(key)}:{_dump(value)}")

    def pick(self, key: str, values: Sequence, idx, omit=None, *, keep: bool = False) -> None:
        """values[idx[i]] on row i; empty values and rows where omit is true have no key."""
        frags = [None if (not keep and _empty(v)) else f",{_dump(key)}:{_dump(v)}" for v in values]
        self.frags[key] = take(pa.array(frags, pa.string()), idx, omit)

    def text(self, key: str, arr: pa.Array) -> None:
        """A quoted string from JSON-safe Arrow text; null rows have no key."""
        self.frags[key] = pc.binary_join_element_wise(
            pa.scalar(f',{_dump(key)}:"'), arr, pa.scalar('"'), ""
        )

    def fixed(self, key: str, body: np.ndarray, valid=None) -> None:
        """A quoted string from an (n, width) ASCII byte matrix (uuids, timestamps)."""
        self.frags[key] = fixed_column(body, f',{_dump(key)}:"', '"', valid)

    def time(self, key: str, ms: np.ndarray, valid=None, sub_ns=None) -> None:
        """An RFC 3339 UTC timestamp from epoch milliseconds (nanoseconds when sub_ns)."""
        self.fixed(key, time_bytes(ms, sub_ns), valid)

    def int(self, key: str, values: np.ndarray, omit=None, *, keep: bool = False) -> None:
        """An integer; zero is omitted unless keep."""
        values = np.asarray(values, np.int64)
        mask = np.zeros(len(values), bool) if keep else values == 0
        if omit is not None:
            mask |= omit
        strs = pc.cast(pa.array(values, mask=mask), pa.string())
        self.frags[key] = pc.binary_join_element_wise(pa.scalar(f",{_dump(key)}:"), strs, "")

    def obj(self, key: str, sub: JsonObjects, omit=None) -> None:
        """A nested object; an empty one (or an omitted row) has no key."""
        body = sub.render()
        if omit is not None:
            body = pc.if_else(pa.array(omit), pa.scalar(None, pa.string()), body)
        self.frags[key] = pc.binary_join_element_wise(pa.scalar(f",{_dump(key)}:"), body, "")

    def render(self) -> pa.StringArray:
        """Compact JSON text per row, keys in byte order; rows with no key at all are null."""
        parts = [self.frags[k] for k in sorted(self.frags)]
        parts.append(pa.scalar("}"))
        if not any(isinstance(p, pa.Array) for p in parts):
            parts.insert(0, pa.nulls(self.n, pa.string()))
        # every fragment starts with ","; null fragments become "" (the "skip" mode of this
        # kernel drops rows whose inputs are all null, so it is not used)
        out = pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")
        _, obuf, dbuf = out.buffers()
        offsets = np.frombuffer(obuf, np.int32, count=self.n + 1, offset=out.offset * 4)
        data = np.frombuffer(dbuf, np.uint8).copy()
        starts = offsets[:-1]
        full = np.diff(offsets) > 1
        data[starts[full]] = ord("{")
        vbuf, nulls = None, 0
        if not full.all():
            vbuf = pa.py_buffer(np.packbits(full, bitorder="little"))
            nulls = int(self.n - full.sum())
        return pa.StringArray.from_buffers(
            self.n, pa.py_buffer(offsets.copy()), pa.py_buffer(data), vbuf, nulls
        )
