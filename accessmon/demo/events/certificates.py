"""User certificates (cert.create): short-lived for most, longer than a day for some."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from accessmon.demo.context import ChunkContext, EventBatch
from accessmon.demo.fixed_width import HOUR_MS
from accessmon.demo.json_objects import JsonObjects, take
from accessmon.demo.planted import LONG_CERT_RATE
from accessmon.demo.world import CLUSTER_NAME, DATABASES, KUBE_CLUSTERS, KUBE_GROUPS


def cert_create(cx: ChunkContext, n: int | None) -> EventBatch:
    """Certificates issued to people and bots; the identity holds the user, not the event."""
    f = cx.start("cert.create", n, bot_share=0.30)
    n, o, w, a = f.n, f.obj, cx.w, f.actor
    del o.frags["user"]  # cert.create keeps its user inside identity
    cx.code(f, "TC000I")
    o.const("cert_type", "user")
    bot = cx.is_bot(a)
    long = cx.chance(LONG_CERT_RATE, n)
    short_h = np.where(bot, cx.rng.choice([1, 1, 4], n), cx.rng.choice([1, 8, 8, 12, 12, 12], n))
    long_h = cx.rng.choice([26, 30, 72, 7 * 24, 30 * 24], n)
    ttl_ms = np.where(long, long_h, short_h) * HOUR_MS - cx.rng.integers(0, 60_000, n)
    sub_ns = cx.rng.integers(0, 1_000_000, n)
    i = JsonObjects(n)
    i.pick("user", w.names, a)
    i.pick("roles", w.roles, a)
    i.pick("logins", w.logins, a)
    i.pick("traits", [{"logins": lg} for lg in w.logins], a)
    i.time("expires", f.times + ttl_ms, sub_ns=sub_ns)
    i.const("prev_identity_expires", "0001-01-01T00:00:00Z")
    i.const("private_key_policy", "none")
    i.const("route_to_cluster", CLUSTER_NAME)
    i.const("teleport_cluster", CLUSTER_NAME)
    ip = cx.ip_index(a)
    i.text("client_ip", take(pa.array(w.ips), ip))
    kind = cx.rng.choice(3, n, p=[0.6, 0.2, 0.2])  # plain, kube, database
    kube, dbc = kind == 1, kind == 2
    i.pick("kubernetes_cluster", KUBE_CLUSTERS, cx.rng.integers(0, 3, n), ~kube)
    i.pick("kubernetes_groups", KUBE_GROUPS, cx.rng.integers(0, len(KUBE_GROUPS), n), ~kube)
    i.pick("kubernetes_users", [[x] for x in w.names], a, ~kube)
    db = cx.rng.integers(0, len(DATABASES), n)
    route = [
        {"database": d[5][0], "protocol": d[1], "service_name": d[0], "username": d[6][0]}
        for d in DATABASES
    ]
    i.pick("route_to_database", route, db, ~dbc)
    i.pick("database_names", [list(d[5]) for d in DATABASES], db, ~dbc)
    i.pick("database_users", [list(d[6]) for d in DATABASES], db, ~dbc)
    i.pick("usage", [["usage:kube"], ["usage:db"]], (kind - 1).clip(0), kind == 0)
    mfa = ~bot & cx.chance(0.2, n)
    i.pick("mfa_device_uuid", w.mfa, np.minimum(a, w.n_actors - 1), ~mfa)
    i.pick("access_requests", w.request_ids, cx.rng.integers(0, 32, n), ~cx.chance(0.1, n))
    i.pick("impersonator", [*w.names], a, ~bot)
    i.pick("disallow_reissue", [True], np.zeros(n, np.int32), ~(bot & cx.chance(0.5, n)))
    o.obj("identity", i)
    f.extra["identity_user"] = a
    f.actor = None  # no top-level user: the store's user column is ""
    return f
