"""The demo's entry points: a table of events, the same as chunks, or straight into a store.

Generation is column-wise (see accessmon.demo.json_objects): millions of events take seconds,
and the same arguments always give the same bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from accessmon.demo.chunk import build_chunk
from accessmon.demo.fixed_width import DAY_MS, EPOCH
from accessmon.demo.schedule import CHUNK_EVENTS, count_matrix, day_chunks
from accessmon.demo.world import World
from accessmon.errors import ConfigError
from accessmon.storage import store as _store


def generate(
    events: int = 200_000,
    days: int = 90,
    users: int = 40,
    seed: int = 0,
    end_date: dt.date | None = None,
    now: dt.datetime | None = None,
) -> pa.Table:
    """A table of `events` synthetic audit events in the store's schema, over `days` days.

    The same arguments always give the same table. For very large N prefer `write_demo`,
    which never holds more than CHUNK_EVENTS events in memory.
    """
    tables = list(iter_chunks(events, days, users, seed, end_date, now=now))
    if not tables:  # every event would have been later than now
        return _store.SCHEMA.empty_table()
    return pa.concat_tables(tables)  # one Arrow chunk per generated chunk; no copy


def write_demo(
    store: Path,
    events: int = 200_000,
    days: int = 90,
    users: int = 40,
    seed: int = 0,
    end_date: dt.date | None = None,
    now: dt.datetime | None = None,
) -> tuple[int, int]:
    """Generate demo events straight into a store; returns (added, duplicates) as write_events.

    Chunks cover whole days where possible, so a fresh store gets one file per day. The
    store's write lock is held, as by ingest, so a demo beside an ingest stores each event once.
    """
    added = dups = 0
    with _store.write_lock(Path(store)):
        for table in iter_chunks(events, days, users, seed, end_date, now=now):
            a, d = _store.write_events(Path(store), table)
            added += a
            dups += d
    return added, dups


def iter_chunks(
    events: int = 200_000,
    days: int = 90,
    users: int = 40,
    seed: int = 0,
    end_date: dt.date | None = None,
    chunk_events: int = CHUNK_EVENTS,
    now: dt.datetime | None = None,
) -> Iterator[pa.Table]:
    """The events of `generate`, as consecutive tables of at most chunk_events rows.

    Each chunk covers whole days where it can, so writing chunk by chunk gives one file per
    day. The chunking is part of the arguments: another chunk_events gives other events.
    A log ends at `now` (the current time by default), as a real one read now does: the
    events of the last day that would come later are left out, so `events` is an upper bound
    when the window ends today.
    """
    end = _check_args(events, days, users, seed, end_date)
    cutoff = _epoch_ms(now or dt.datetime.now(dt.UTC))
    if isinstance(chunk_events, bool) or not isinstance(chunk_events, int) or chunk_events < 1:
        raise ConfigError(f"demo: chunk_events must be a whole number >= 1, got {chunk_events!r}")
    start = end - dt.timedelta(days=days - 1)
    world = World(users, seed)
    counts = count_matrix(events, days, start, np.random.default_rng([seed, 1]))
    day0 = (start - EPOCH).days
    for k, (day_idx, sub) in enumerate(day_chunks(counts, chunk_events)):
        if not sub.any():
            continue  # no events in these days: nothing to build
        rng = np.random.default_rng([seed, 2, k])
        day_ms = (day0 + day_idx) * DAY_MS
        table = build_chunk(world, rng, day_ms, sub)
        if int(day_ms[-1]) + DAY_MS > cutoff:  # the chunk reaches past now
            limit = pa.scalar(cutoff, pa.timestamp("ms", tz="UTC"))
            table = table.filter(pc.less_equal(table.column("event_time"), limit))
        if table.num_rows:
            yield table


def _epoch_ms(now: dt.datetime) -> int:
    if not isinstance(now, dt.datetime) or now.tzinfo is None:
        raise ConfigError(f"demo: now must be a datetime with a time zone, got {now!r}")
    return int(now.timestamp() * 1000)


def _check_args(events, days, users, seed, end_date) -> dt.date:
    """The last day of the demo, after refusing arguments that cannot give a demo."""
    for name, value in (("events", events), ("days", days), ("users", users)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ConfigError(f"demo: {name} must be a whole number, got {value!r}")
        if value < 1:
            raise ConfigError(f"demo: {name} must be at least 1, got {value}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"demo: seed must be a whole number >= 0, got {seed!r}")
    if end_date is None:
        end_date = dt.datetime.now(dt.UTC).date()
    if isinstance(end_date, dt.datetime) or not isinstance(end_date, dt.date):
        raise ConfigError(f"demo: end_date must be a date, got {end_date!r}")
    if end_date.year > 9000:
        raise ConfigError(f"demo: end_date {end_date} is too far in the future")
    if (end_date - EPOCH).days - (days - 1) < 1:
        raise ConfigError(f"demo: {days} days ending {end_date} would start before 1970-01-02")
    return end_date
