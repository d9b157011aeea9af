"""Machines joining the cluster: bots (tbot) and instances, some with long-lived tokens."""

from __future__ import annotations

import numpy as np

from accessmon.demo.context import ChunkContext, EventBatch
from accessmon.demo.fixed_width import DAY_MS, HOUR_MS
from accessmon.demo.planted import LONG_JOIN_TOKEN_RATE
from accessmon.demo.world import BOTS


def bot_join(cx: ChunkContext, n: int | None) -> EventBatch:
    """Bots joining with their tokens, around the clock."""
    f = cx.start("bot.join", n, user=False, flat=True)
    n, o = f.n, f.obj
    fail = cx.chance(0.03, n)
    cx.status(f, ~fail, "TJ001I", "TJ001E", ["token expired or not found"])
    b = cx.rng.integers(0, len(BOTS), n)
    o.pick("bot_name", [x.removeprefix("bot-") for x in BOTS], b)
    o.pick("method", ["github", "kubernetes", "token", "iam"], b % 4)
    o.pick("token_name", ["github-ci", "argocd-k8s", "backup-token", "terraform-iam"], b % 4)
    return f


def instance_join(cx: ChunkContext, n: int | None) -> EventBatch:
    """Nodes and agents joining; token_expires is more than a day away for some."""
    f = cx.start("instance.join", n, user=False, flat=True)
    n, o, w = f.n, f.obj, cx.w
    fail = cx.chance(0.03, n)
    cx.status(f, ~fail, "TJ002I", "TJ002E", ["token expired or not found"])
    node = cx.rng.integers(0, len(w.node_id), n)
    o.pick("node_name", w.node_host, node)
    o.pick("host_id", w.node_id, node)
    o.pick("role", ["Instance", "Node", "Db", "Kube"], cx.rng.choice(4, n, p=[0.5, 0.3, 0.1, 0.1]))
    method = cx.rng.choice(3, n, p=[0.6, 0.25, 0.15])
    o.pick("method", ["token", "iam", "ec2"], method)
    masked = [f"****************{x:04x}" for x in range(0, 65536, 4099)]
    tok = cx.rng.integers(0, len(masked), n)
    o.pick(
        "token_name",
        [*masked, "iam-join", "ec2-join"],
        np.where(method == 0, tok, len(masked) + method - 1),
    )
    long = cx.chance(LONG_JOIN_TOKEN_RATE, n)
    short = cx.rng.integers(5 * 60_000, 4 * HOUR_MS, n)
    lng = cx.rng.choice([2, 7, 30, 365], n) * DAY_MS + cx.rng.integers(0, HOUR_MS, n)
    o.time("token_expires", f.times + np.where(long, lng, short))
    return f
