"""The chunk context: draws that builders share, and the keys common to every event."""

from __future__ import annotations

import json

import numpy as np
import pytest

from accessmon.demo.context import ChunkContext
from accessmon.demo.events.sessions import session_start
from accessmon.demo.fixed_width import DAY_MS
from accessmon.demo.planted import WEAK_SECURITY_RATE
from accessmon.demo.schedule import EVENT_TYPES
from accessmon.demo.world import CLUSTER_NAME, World

WORLD = World(40, 0)


def context(days: int = 2, per_day: int = 0, seed: int = 0) -> ChunkContext:
    counts = np.full((len(EVENT_TYPES), days), per_day)
    day_ms = (19_000 + np.arange(days)) * DAY_MS
    return ChunkContext(WORLD, np.random.default_rng(seed), day_ms, counts)


def test_security_flags_weak_share_and_bots():
    cx = context()
    actor = cx.actors(40_000, 0.3)
    sec = cx.security(actor)
    none = ~(sec["ar"] | sec["mfa"] | sec["imp"] | sec["td"])
    assert none.mean() == pytest.approx(WEAK_SECURITY_RATE, abs=0.01)
    bot = cx.is_bot(actor)
    assert bot.any() and not (sec["mfa"] & bot).any() and not (sec["td"] & bot).any()


def test_start_writes_the_common_keys_in_the_chunk_days():
    cx = context(days=3, per_day=5)
    f = cx.start("user.login", None)
    assert f.n == 15
    assert ((f.times >= cx.day_ms[0]) & (f.times < cx.day_ms[-1] + DAY_MS)).all()
    ev = json.loads(f.obj.render()[0].as_py())
    assert {"event", "cluster_name", "ei", "uid", "time", "user"} <= set(ev)
    assert ev["event"] == "user.login" and ev["cluster_name"] == CLUSTER_NAME and ev["ei"] == 0


def test_children_follow_their_parents_on_the_same_day():
    cx = context(days=2, per_day=50)
    parent = cx.start("session.start", None)
    pick = np.arange(parent.n)
    child = cx.child("session.command", parent, pick, 1_000, 2 * DAY_MS)
    assert (child.times >= parent.times).all()
    assert (child.times // DAY_MS == parent.times // DAY_MS).all()
    assert (child.actor == parent.actor).all()


def test_a_missing_parent_is_built_unseen():
    cx = context()
    f = cx.parent("session.start", session_start)
    assert f.n == 1 and "session.start" not in cx.batches
    cx.batches["session.start"] = f
    assert cx.parent("session.start", session_start) is f
