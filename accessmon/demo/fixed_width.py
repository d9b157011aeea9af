"""Fixed-width text (uuids, RFC 3339 timestamps) built as numpy byte matrices, then Arrow.

Every event carries a uuid and a timestamp; building them as (n, width) byte matrices and
wrapping the bytes in an Arrow string column avoids one Python string per event.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from accessmon.errors import ConfigError

#: Event times are epoch milliseconds (the store's timestamp unit).
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
EPOCH = dt.date(1970, 1, 1)

_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_UUID_POS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def uuid_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 36) ASCII bytes of random version-4 UUIDs."""
    b = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    hexed = np.empty((n, 32), np.uint8)
    hexed[:, 0::2] = _HEX[b >> 4]
    hexed[:, 1::2] = _HEX[b & 0x0F]
    out = np.full((n, 36), ord("-"), np.uint8)
    out[:, _UUID_POS] = hexed
    return out


def uuid_str(rng: np.random.Generator) -> str:
    """One random uuid as text, for the world's fixed ids."""
    return uuid_bytes(rng, 1)[0].tobytes().decode()


def put_digits(out: np.ndarray, pos: int, value: np.ndarray, width: int) -> None:
    """Write each value as `width` zero-padded ASCII digits into out[:, pos : pos + width]."""
    value = value.copy()
    for i in range(width - 1, -1, -1):
        out[:, pos + i] = 48 + value % 10
        value //= 10


def time_bytes(ms: np.ndarray, sub_ns: np.ndarray | None = None) -> np.ndarray:
    """RFC 3339 in UTC: `2024-03-20T12:12:03.374Z`, or nanoseconds when sub_ns is given."""
    n = len(ms)
    width = 24 if sub_ns is None else 30
    out = np.empty((n, width), np.uint8)
    if n == 0:
        return out
    day = ms // DAY_MS
    rem = ms - day * DAY_MS
    d0 = int(day.min())
    dates = np.frombuffer(
        "".join(
            (EPOCH + dt.timedelta(days=d)).isoformat() for d in range(d0, int(day.max()) + 1)
        ).encode(),
        np.uint8,
    ).reshape(-1, 10)
    out[:, :10] = dates[day - d0]
    out[:, 10] = ord("T")
    put_digits(out, 11, rem // HOUR_MS, 2)
    out[:, 13] = ord(":")
    put_digits(out, 14, rem // 60_000 % 60, 2)
    out[:, 16] = ord(":")
    put_digits(out, 17, rem // 1000 % 60, 2)
    out[:, 19] = ord(".")
    if sub_ns is None:
        put_digits(out, 20, rem % 1000, 3)
    else:
        put_digits(out, 20, rem % 1000 * 1_000_000 + sub_ns, 9)
    out[:, -1] = ord("Z")
    return out


def fixed_column(
    body: np.ndarray, prefix: str = "", suffix: str = "", valid=None
) -> pa.StringArray:
    """An Arrow string column from an (n, width) byte matrix, without a Python loop."""
    n = body.shape[0]
    parts = []
    if prefix:
        parts.append(np.broadcast_to(np.frombuffer(prefix.encode(), np.uint8), (n, len(prefix))))
    parts.append(body)
    if suffix:
        parts.append(np.broadcast_to(np.frombuffer(suffix.encode(), np.uint8), (n, len(suffix))))
    data = np.ascontiguousarray(np.concatenate(parts, axis=1) if len(parts) > 1 else body)
    offsets = np.arange(n + 1, dtype=np.int64) * data.shape[1]
    if offsets[-1] >= 2**31:
        raise ConfigError("demo: chunk too large for one Arrow string column")
    vbuf, nulls = None, 0
    if valid is not None and not valid.all():
        vbuf = pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = int(n - valid.sum())
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data.reshape(-1)), vbuf, nulls
    )
