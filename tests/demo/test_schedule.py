"""The weekly and daily rhythm, and how events are shared among types, days and chunks."""

from __future__ import annotations

import collections
import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from .conftest import END


def test_time_span_and_office_hours(default_table):
    times = default_table.column("event_time")
    dates = collections.Counter(times.cast(pa.date32()).to_pylist())
    assert max(dates) == END
    assert min(dates) == END - dt.timedelta(days=89)
    assert len(dates) == 90  # every day has events, the last one too
    weekday = [c for d, c in dates.items() if d.weekday() < 5]
    weekend = [c for d, c in dates.items() if d.weekday() >= 5]
    assert sum(weekday) / len(weekday) > 2.5 * sum(weekend) / len(weekend)
    hours = collections.Counter(pc.hour(times).to_pylist())
    assert sum(hours[h] for h in range(10, 16)) > 3 * sum(hours[h] for h in range(0, 6))
    assert sum(hours[h] for h in range(0, 6)) > 0  # some night work
