"""The weekly and daily rhythm, and how events are shared among types, days and chunks."""

from __future__ import annotations

import collections
import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from accessmon.demo.schedule import EVENT_TYPES, TYPE_WEIGHTS, allocate, count_matrix, day_chunks

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


def test_allocate_gives_every_type_a_few_events_and_exactly_n():
    for events in (1, 7, 34, 35, 36, 104, 105, 2000, 200_000):
        counts = allocate(events)
        assert counts.sum() == events
        assert counts.min() >= min(3, events // len(EVENT_TYPES))
    tiny = allocate(5)
    assert (tiny <= 1).all() and tiny.sum() == 5
    weights = [TYPE_WEIGHTS[t] for t in EVENT_TYPES]
    assert EVENT_TYPES[int(np.argmax(allocate(100_000)))] == EVENT_TYPES[int(np.argmax(weights))]


def test_count_matrix_keeps_totals_and_a_busy_last_day():
    start = dt.date(2024, 3, 1)
    for events, days in ((1, 30), (40, 90), (5000, 14)):
        counts = count_matrix(events, days, start, np.random.default_rng(3))
        assert counts.shape == (len(EVENT_TYPES), days)
        assert (counts.sum(axis=1) == allocate(events)).all()
        assert counts[:, -1].sum() > 0


def test_day_chunks_cover_every_event_once_within_the_limit():
    counts = count_matrix(5000, 10, dt.date(2024, 3, 1), np.random.default_rng(4))
    for limit in (100, 700, 5000):
        chunks = list(day_chunks(counts, limit))
        # whole days stay within the limit; the parts of a split day are cut per type (rounded
        # down at each cut), so one part may exceed it by fewer events than there are types
        assert all(sub.sum() <= limit for days, sub in chunks if sub.shape[1] > 1)
        assert all(sub.sum() < limit + len(EVENT_TYPES) for _, sub in chunks)
        total = np.zeros_like(counts)
        for days, sub in chunks:
            assert list(days) == list(range(days[0], days[0] + len(days)))  # consecutive days
            total[:, days] += sub if len(days) > 1 else sub[:, :1]
        assert (total == counts).all()
    assert len(list(day_chunks(counts, 5000))) == 1
