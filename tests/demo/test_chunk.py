"""One chunk: every builder's events as one table in the store's schema, in time order."""

from __future__ import annotations

import numpy as np

from accessmon.demo.chunk import build_chunk
from accessmon.demo.fixed_width import DAY_MS
from accessmon.demo.schedule import EVENT_TYPES
from accessmon.demo.world import World
from accessmon.storage import store


def test_a_chunk_is_a_store_table_in_time_order():
    table = build_chunk(World(40, 0), np.random.default_rng(2), np.array([19_000 * DAY_MS]),
                        np.full((len(EVENT_TYPES), 1), 3))  # fmt: skip
    assert table.schema == store.SCHEMA
    assert table.num_rows == 3 * len(EVENT_TYPES)
    times = table.column("event_time").to_pylist()
    assert times == sorted(times)


def test_events_without_a_top_level_user_have_an_empty_user_column():
    table = build_chunk(World(40, 0), np.random.default_rng(3), np.array([19_000 * DAY_MS]),
                        np.full((len(EVENT_TYPES), 1), 2))  # fmt: skip
    rows = table.select(["event_type", "user"]).to_pylist()
    assert {r["user"] for r in rows if r["event_type"] == "cert.create"} == {""}
    assert all(r["user"] for r in rows if r["event_type"] == "user.login")
