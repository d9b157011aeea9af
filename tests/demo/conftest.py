"""The default-size demo table, built once for every demo test module."""

from __future__ import annotations

import collections
import datetime as dt
import json
import re

import pyarrow as pa
import pytest

from accessmon.demo import generate

#: A fixed last day, so the tests do not depend on today's date.
END = dt.date(2024, 3, 20)


@pytest.fixture(scope="session")
def default_table() -> pa.Table:
    """`accessmon demo`'s default size and seed, ending on END."""
    return generate(end_date=END)


@pytest.fixture(scope="session")
def parsed(default_table) -> dict[str, list[dict]]:
    """event_data parsed with json.loads, by event type."""
    out: dict[str, list[dict]] = collections.defaultdict(list)
    for text in default_table.column("event_data").to_pylist():
        ev = json.loads(text)
        out[ev["event"]].append(ev)
    return out


def ts(text: str) -> dt.datetime:
    """RFC 3339 with up to nanoseconds (Python keeps microseconds)."""
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", text)
    assert m, text
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    return dt.datetime.fromisoformat(m.group(1)).replace(microsecond=int(frac), tzinfo=dt.UTC)


def day(ev: dict) -> dt.date:
    """The UTC day of a parsed event."""
    return dt.date.fromisoformat(ev["time"][:10])


def no_security(ev: dict) -> bool:
    """None of the four things the report counts as strong security."""
    return not any(
        k in ev for k in ("access_requests", "with_mfa", "impersonator", "trusted_device")
    )
