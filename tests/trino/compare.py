"""How the differential tests compare an answer of accessmon's DuckDB engine with Trino's:
by type, timestamps to the millisecond, rows by field name, arrays in order, NULL as None.
Every Trino test compares through here, so "the same answer" means one thing."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any


def normal(value: Any) -> Any:
    """One value as both engines should give it: timestamps to the millisecond, rows by
    field name, arrays in order, NULL as None."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="milliseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "_names"):  # the trino client's row: a tuple that knows its field names
        return {name: normal(v) for name, v in zip(value._names, value, strict=True)}
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normal(v) for v in value]
    return value


def keyed(columns: list[str], rows: list[tuple]) -> list[tuple]:
    """Rows as normal tuples, in one order (event_time, uid, then the whole row)."""
    out = [tuple(normal(v) for v in row) for row in rows]
    t, u = columns.index("event_time"), columns.index("uid")
    return sorted(out, key=lambda r: (r[t], str(r[u]), repr(r)))


def same_value(mine: Any, theirs: Any) -> bool:
    """Equal after `normal`; doubles within 1e-9 relative."""
    a, b = normal(mine), normal(theirs)
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b  # by type: 3 is not 3.0, true is not 1
