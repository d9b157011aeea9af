"""Events an administrator causes: join tokens, locks, password resets, new users."""

from __future__ import annotations

from accessmon.demo.context import Builder, ChunkContext, EventBatch
from accessmon.demo.fixed_width import HOUR_MS, uuid_bytes
from accessmon.demo.json_objects import JsonObjects


def _admin_event(cx: ChunkContext, n: int | None, etype: str, code: str) -> EventBatch:
    """One administrative event type, caused by someone with the editor role."""
    f = cx.start(etype, n, actor=cx.admins(cx.n(etype) if n is None else n))
    n, o, w = f.n, f.obj, cx.w
    cx.code(f, code)
    target = cx.actors(n, 0.0)
    if etype == "join_token.create":
        o.pick(
            "name",
            [f"************{x:04x}" for x in range(0, 65536, 4099)],
            cx.rng.integers(0, 16, n),
        )
        o.pick("roles", [["Node"], ["Db"], ["Kube"], ["Bot"]], cx.rng.integers(0, 4, n))
        o.pick("join_method", ["token", "iam", "github"], cx.rng.integers(0, 3, n))
        o.time("expires", f.times + cx.rng.choice([1, 24, 24 * 30], n) * HOUR_MS)
        o.pick("updated_by", w.names, f.actor)
    elif etype == "lock.created":
        o.fixed("name", uuid_bytes(cx.rng, n))
        kind = cx.rng.integers(0, 3, n)
        t = JsonObjects(n)
        t.pick("user", w.names, target, kind != 0)
        t.pick("node", w.node_id, cx.rng.integers(0, len(w.node_id), n), kind != 1)
        t.pick("role", ["contractor", "root-access"], cx.rng.integers(0, 2, n), kind != 2)
        o.obj("target", t)
        o.time("expires", f.times + 24 * HOUR_MS, valid=cx.chance(0.5, n))
        o.pick("updated_by", w.names, f.actor)
    elif etype == "lock.deleted":
        o.fixed("name", uuid_bytes(cx.rng, n))
    elif etype == "reset_password_token.create":
        o.pick("name", w.names, target)
        o.const("ttl", "8h0m0s")
    elif etype == "user.create":
        o.pick("name", [f"new-{x}" for x in w.names], target)
        o.pick("roles", [["access"], ["access", "dev"], ["auditor"]], cx.rng.integers(0, 3, n))
        o.pick("connector", ["local", "saml"], cx.rng.integers(0, 2, n))
        o.pick("updated_by", w.names, f.actor)
    return f


def admin_builder(etype: str, code: str) -> Builder:
    """The builder of one administrative event type."""
    return lambda cx, n: _admin_event(cx, n, etype, code)
