"""Access lists: the lists themselves, their members and their reviews."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from accessmon.demo.context import Builder, ChunkContext, EventBatch
from accessmon.demo.fixed_width import uuid_bytes
from accessmon.demo.json_objects import JsonObjects
from accessmon.demo.world import ACCESS_LISTS


def _access_list(cx: ChunkContext, n: int | None, etype: str, code: str) -> EventBatch:
    """One access_list.* type, by an admin; member events carry the member, reviews the removed."""
    f = cx.start(etype, n, actor=cx.admins(cx.n(etype) if n is None else n))
    n, o, w = f.n, f.obj, cx.w
    del o.frags["user"]  # access list events name their actor in updated_by only
    fail = cx.chance(0.03, n)
    cx.status(f, ~fail, code + "I", code + "E", ["access denied"])
    al = cx.rng.integers(0, len(ACCESS_LISTS), n)
    o.pick("name", w.access_list_id, al)
    o.pick("updated_by", w.names, f.actor)
    if ".member." in etype:
        o.pick("access_list_name", w.access_list_id, al)
        member = cx.actors(n, 0.0)
        sub = JsonObjects(n)
        sub.pick("member_name", w.names, member)
        if etype.endswith("delete"):
            sub.time("removed_on", f.times)
        else:
            sub.time("joined_on", f.times)
            sub.pick("reason", ["", "onboarding", "on-call rotation"], cx.rng.integers(0, 3, n))
        f.obj.frags["members"] = pc.binary_join_element_wise(
            pa.scalar(',"members":['), sub.render(), pa.scalar("]"), ""
        )
    if etype == "access_list.review":
        o.fixed("review_id", uuid_bytes(cx.rng, n))
        o.pick("removed_members", [[x] for x in w.names], cx.actors(n, 0.0), ~cx.chance(0.3, n))
        o.pick("review_frequency_changed", ["", "3 months", "6 months"], cx.rng.integers(0, 3, n))
    f.extra["updated_by"] = f.actor
    f.actor = None  # no top-level user: the store's user column is ""
    return f


def access_list_builder(etype: str, code: str) -> Builder:
    """The builder of one access_list.* type; codes end in I on success and E on failure."""
    return lambda cx, n: _access_list(cx, n, etype, code)
