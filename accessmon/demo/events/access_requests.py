"""Access requests and their reviews; a review carries the id of the request it answers."""

from __future__ import annotations

import numpy as np

from accessmon.demo.context import ChunkContext, EventBatch
from accessmon.demo.fixed_width import HOUR_MS, uuid_bytes
from accessmon.demo.planted import REVIEW_STATE_SHARES
from accessmon.demo.world import CLUSTER_NAME, DATABASES, KUBE_CLUSTERS

_REQUEST_ROLES = (["db-admin"], ["kube-admin"], ["prod-access"], ["root-access"], ["auditor"])
_REQUEST_REASONS = (
    "Investigating incident INC-4821", "Deploy hotfix for checkout", "Quarterly audit",
    "Run a data migration", "Debug failing pods in prod", "Rotate database credentials",
)  # fmt: skip


def access_request_create(cx: ChunkContext, n: int | None) -> EventBatch:
    """Requests for roles or resources, with a reason; every one starts PENDING."""
    f = cx.start("access_request.create", n)
    n, o = f.n, f.obj
    cx.code(f, "T5000I")
    rid = uuid_bytes(cx.rng, n)
    o.fixed("id", rid)
    roles = cx.rng.integers(0, len(_REQUEST_ROLES), n)
    o.pick("roles", _REQUEST_ROLES, roles)
    o.pick("reason", _REQUEST_REASONS, cx.rng.integers(0, len(_REQUEST_REASONS), n))
    o.const("state", "PENDING")
    w = cx.w
    res = (
        [
            [{"cluster": CLUSTER_NAME, "kind": "node", "name": w.node_id[i]}]
            for i in range(len(w.node_id))
        ]
        + [[{"cluster": CLUSTER_NAME, "kind": "db", "name": d[0]}] for d in DATABASES]
        + [[{"cluster": CLUSTER_NAME, "kind": "kube_cluster", "name": c}] for c in KUBE_CLUSTERS]
        + [
            [
                {
                    "cluster": CLUSTER_NAME,
                    "kind": "namespace",
                    "name": "prod-eks",
                    "sub_resource": "payments",
                }
            ],
        ]
    )
    o.pick("resource_ids", res, cx.rng.integers(0, len(res), n), ~cx.chance(0.4, n))
    o.time("expires", f.times + cx.rng.choice([1, 4, 8], n) * HOUR_MS)
    o.time("max_duration", f.times + cx.rng.choice([8, 24], n) * HOUR_MS)
    f.extra.update(roles=roles, rid=rid)
    return f


def access_request_review(cx: ChunkContext, n: int | None) -> EventBatch:
    """Reviews of the chunk's requests by someone other than the requester."""
    p = cx.parent("access_request.create", access_request_create)
    w = cx.w
    m = cx.n("access_request.review") if n is None else n
    pick = cx.rng.integers(0, p.n, m)
    # the reviewer is someone else, an admin when possible
    reviewer = cx.admins(m)
    same = reviewer == p.actor[pick]
    reviewer = np.where(same, (reviewer + 1) % w.n_humans, reviewer)
    f = cx.child("access_request.review", p, pick, 30_000, 3 * HOUR_MS, actor=reviewer)
    o = f.obj
    cx.code(f, "T5002I")
    o.fixed("id", p.extra["rid"][pick])
    o.pick("reviewer", w.names, reviewer)
    states = list(REVIEW_STATE_SHARES)
    st = cx.rng.choice(len(states), m, p=list(REVIEW_STATE_SHARES.values()))
    o.pick("state", states, st)
    o.pick("proposed_state", ["APPROVED", "DENIED", "APPROVED"], st)
    o.pick("reason", ["Approved, ticket linked", "Not justified", "Need a second approval"], st)
    o.pick("roles", _REQUEST_ROLES, p.extra["roles"][pick])
    return f
