"""Kubernetes API requests through the Teleport Kubernetes agent."""

from __future__ import annotations

import numpy as np

from accessmon.demo.context import ChunkContext, EventBatch
from accessmon.demo.world import KUBE_CLUSTERS, KUBE_GROUPS


def kube_request(cx: ChunkContext, n: int | None) -> EventBatch:
    """API calls on the clusters; some as system:masters, some answered 403 or 404."""
    f = cx.start("kube.request", n, bot_share=0.25)
    n, o, w = f.n, f.obj, cx.w
    cx.code(f, "T3009I")
    cx.user_meta(f, cx.security(f.actor))
    cluster = cx.rng.choice(len(KUBE_CLUSTERS), n, p=[0.6, 0.25, 0.15])
    o.pick("kubernetes_cluster", KUBE_CLUSTERS, cluster)
    o.pick("kubernetes_groups", KUBE_GROUPS, cx.kube_groups(n))
    o.pick("kubernetes_users", [[x] for x in w.names], f.actor, cx.chance(0.3, n))
    req = cx.rng.integers(0, len(w.kube_req), n)
    r = w.kube_req
    o.pick("resource_kind", [x[0] for x in r], req)
    o.pick("resource_api_group", [f"{x[1]}/v1" if x[1] else "core/v1" for x in r], req)
    o.pick("resource_namespace", [x[2] for x in r], req)
    o.pick("resource_name", [x[3] for x in r], req)
    o.pick("verb", [x[4] for x in r], req)
    o.pick("request_path", [x[5] for x in r], req)
    post = np.array([x[4] == "POST" for x in r])[req]
    code = cx.rng.choice([200, 403, 404, 500], n, p=[0.9, 0.05, 0.04, 0.01])
    o.int("response_code", np.where(post & (code == 200), 201, code))
    o.pick("server_id", w.kube_id, cluster)
    o.pick("server_hostname", w.kube_host, cluster)
    o.pick("addr.local", w.kube_addr, cluster)
    cx.remote(f)
    o.pick("login", w.names, f.actor)
    o.const("namespace", "default")
    o.const("proto", "kube")
    return f
