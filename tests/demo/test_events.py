"""The builders: one per event type, parents before children, each writing its own type."""

from __future__ import annotations

import json

import numpy as np
import pytest

from accessmon.demo.chunk import build_chunk
from accessmon.demo.context import ChunkContext
from accessmon.demo.events import BUILDERS
from accessmon.demo.fixed_width import DAY_MS
from accessmon.demo.schedule import EVENT_TYPES, TYPE_WEIGHTS
from accessmon.demo.world import World

WORLD = World(40, 0)
#: child type -> the parent whose session id or request id it carries
PARENTS = {
    "session.command": "session.start",
    "session.join": "session.start",
    "db.session.query": "db.session.start",
    "db.session.query.failed": "db.session.start",
    "access_request.review": "access_request.create",
    "windows.desktop.session.end": "windows.desktop.session.start",
}


def context(per_day: int, days: int = 2) -> ChunkContext:
    counts = np.full((len(EVENT_TYPES), days), per_day)
    return ChunkContext(
        WORLD, np.random.default_rng(0), (19_000 + np.arange(days)) * DAY_MS, counts
    )


def test_one_builder_per_type_parents_first():
    assert set(BUILDERS) == set(TYPE_WEIGHTS)
    order = list(BUILDERS)
    for child, parent in PARENTS.items():
        assert order.index(parent) < order.index(child)


@pytest.mark.parametrize("etype", list(BUILDERS))
def test_each_builder_writes_its_type(etype):
    cx = context(per_day=0)  # nothing else in the chunk: children build an unseen parent
    f = BUILDERS[etype](cx, 4)
    assert f.etype == etype and f.n == 4 and len(f.times) == 4
    for text in f.obj.render().to_pylist():
        ev = json.loads(text)
        assert ev["event"] == etype and isinstance(ev["code"], str)


def test_children_carry_their_parents_ids():
    table = build_chunk(WORLD, np.random.default_rng(1), (19_000 + np.arange(2)) * DAY_MS,
                        np.full((len(EVENT_TYPES), 2), 20))  # fmt: skip
    events = [json.loads(t) for t in table.column("event_data").to_pylist()]
    by_type: dict[str, list[dict]] = {}
    for ev in events:
        by_type.setdefault(ev["event"], []).append(ev)
    for child, parent in PARENTS.items():
        key = "id" if child.startswith("access_request") else "sid"
        parents = {ev[key] for ev in by_type[parent]}
        assert {ev[key] for ev in by_type[child]} <= parents, child
