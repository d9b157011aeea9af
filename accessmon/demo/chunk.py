"""One chunk of events as a table in the store's schema: every builder, then sorted by time."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from accessmon.demo.context import ChunkContext, EventBatch
from accessmon.demo.events import BUILDERS
from accessmon.demo.fixed_width import fixed_column
from accessmon.demo.json_objects import JsonObjects, take
from accessmon.demo.world import World
from accessmon.storage import store as _store


def build_chunk(
    world: World, rng: np.random.Generator, day_ms: np.ndarray, counts: np.ndarray
) -> pa.Table:
    """The events of a few days, given their [type, day] counts; parents are built first."""
    cx = ChunkContext(world, rng, day_ms, counts)
    batches = []
    for etype, builder in BUILDERS.items():
        if cx.n(etype) == 0:
            continue
        f = builder(cx, None)
        f.data = f.obj.render()
        f.obj = JsonObjects(0)  # free the fragments now: memory stays near one chunk's JSON
        cx.batches[etype] = f
        batches.append(f)
    return to_table(world, batches)


def to_table(world: World, batches: list[EventBatch]) -> pa.Table:
    """The store's columns from the batches, sorted by event time (ties keep build order)."""
    users_vocab = pa.array([*world.names, ""])
    cols: dict[str, list] = {
        k: [] for k in ("uid", "session_id", "event_type", "event_time", "event_data", "user")
    }
    for f in batches:
        cols["uid"].append(fixed_column(f.uid))
        cols["session_id"].append(
            fixed_column(f.sid) if f.sid is not None else fixed_column(np.empty((f.n, 0), np.uint8))
        )
        cols["event_type"].append(take(pa.array([f.etype]), np.zeros(f.n, np.int32)))
        cols["event_time"].append(pa.array(f.times, pa.timestamp("ms", tz="UTC")))
        cols["event_data"].append(f.data)
        user = f.actor if f.actor is not None else np.full(f.n, len(world.names))
        cols["user"].append(take(users_vocab, user))
    table = pa.table({k: pa.chunked_array(v, _store.SCHEMA.field(k).type) for k, v in cols.items()})
    times = np.concatenate([f.times for f in batches])
    order = np.argsort(times, kind="stable")
    return table.take(pa.array(order)).combine_chunks()
