"""Windows desktop sessions: their start and their end."""

from __future__ import annotations

import numpy as np

from accessmon.demo.context import ChunkContext, EventBatch
from accessmon.demo.fixed_width import HOUR_MS
from accessmon.demo.world import DESKTOPS


def desktop_start(cx: ChunkContext, n: int | None) -> EventBatch:
    """Desktop sessions, as a named user or as Administrator."""
    f = cx.start("windows.desktop.session.start", n)
    n, o, w = f.n, f.obj, cx.w
    fail = cx.chance(0.05, n)
    cx.status(f, ~fail, "TDP00I", "TDP00W", ["access denied", "desktop is not reachable"])
    d = cx.rng.integers(0, len(DESKTOPS), n)
    o.pick("desktop_name", DESKTOPS, d)
    o.pick("desktop_addr", w.desktop_addr, d)
    o.const("windows_desktop_service", w.desktop_service)
    o.const("windows_domain", "corp.example.com")
    wu = np.where(cx.chance(0.3, n), 0, 1 + f.actor)
    o.pick("windows_user", ["Administrator", *w.names], wu)
    o.pick("login", ["Administrator", *w.names], wu)
    o.pick("allow_user_creation", [True], np.zeros(n, np.int32), ~cx.chance(0.2, n))
    o.const("proto", "tdp")
    cx.remote(f)
    o.const("addr.local", "10.0.3.15:3080")
    cx.session_keys(f)
    cx.user_meta(f, cx.security(f.actor))
    f.extra.update(d=d, wu=wu)
    return f


def desktop_end(cx: ChunkContext, n: int | None) -> EventBatch:
    """The end of a started desktop session, with its recording and its times."""
    p = cx.parent("windows.desktop.session.start", desktop_start)
    m = cx.n("windows.desktop.session.end") if n is None else n
    pick = cx.rng.integers(0, p.n, m)
    f = cx.child("windows.desktop.session.end", p, pick, 60_000, 3 * HOUR_MS)
    o, w = f.obj, cx.w
    cx.code(f, "TDP01I")
    d = p.extra["d"][pick]
    o.pick("desktop_name", DESKTOPS, d)
    o.pick("desktop_addr", w.desktop_addr, d)
    o.const("windows_desktop_service", w.desktop_service)
    o.const("windows_domain", "corp.example.com")
    o.pick("windows_user", ["Administrator", *w.names], p.extra["wu"][pick])
    o.pick("participants", [[x] for x in w.names], f.actor)
    o.const("recorded", True)
    o.time("session_start", p.times[pick])
    o.time("session_stop", f.times)
    o.fixed("sid", p.sid[pick])
    f.sid = p.sid[pick]
    return f
