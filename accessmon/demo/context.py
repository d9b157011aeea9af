"""What every event builder shares: the draws of one chunk and the keys common to many types.

A builder (one per event type, in accessmon.demo.events) gets a ChunkContext and returns an
EventBatch; children (session.command, db.session.query, ...) reuse their parent's batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from accessmon.demo.fixed_width import DAY_MS, HOUR_MS, fixed_column, put_digits, uuid_bytes
from accessmon.demo.json_objects import JsonObjects, take
from accessmon.demo.planted import SYSTEM_MASTERS_RATE, WEAK_SECURITY_RATE
from accessmon.demo.schedule import EVENT_TYPES, HOURLY_PROFILE
from accessmon.demo.world import BOTS, CLUSTER_NAME, KUBE_GROUPS_OTHER, World


class EventBatch:
    """The events of one type in a chunk: their JSON fragments plus values children reuse."""

    def __init__(self, etype: str, n: int) -> None:
        self.etype = etype
        self.n = n
        self.obj = JsonObjects(n)
        self.actor: np.ndarray | None = None
        self.times = np.zeros(n, np.int64)
        self.sid: np.ndarray | None = None
        self.uid = np.empty((n, 36), np.uint8)
        self.data: pa.Array | None = None
        self.extra: dict[str, Any] = {}


class ChunkContext:
    """The random draws of one chunk (a few days and their per-type counts) and the keys that
    many event types share. Builders run in a fixed order on one random stream (see
    accessmon.demo.events.BUILDERS), so the same chunk always gives the same events.
    """

    def __init__(
        self, world: World, rng: np.random.Generator, day_ms: np.ndarray, counts: np.ndarray
    ) -> None:
        self.w = world
        self.rng = rng
        self.day_ms = day_ms
        self.counts = {t: counts[i] for i, t in enumerate(EVENT_TYPES)}
        #: the batches built so far in this chunk, by event type: the parents of later types
        self.batches: dict[str, EventBatch] = {}
        hp = np.array(HOURLY_PROFILE)
        self.hour_p = hp / hp.sum()

    # ---- drawing helpers ----
    def n(self, etype: str) -> int:
        """How many events of this type the chunk has."""
        return int(self.counts[etype].sum())

    def times(
        self, etype: str, flat: np.ndarray | bool = False, n: int | None = None
    ) -> np.ndarray:
        """Times for the type's per-day counts; office hours unless flat (bots, agents)."""
        if n is None:
            days = np.repeat(np.arange(len(self.day_ms)), self.counts[etype])
        else:  # a hidden parent: any day of the chunk
            days = self.rng.integers(0, len(self.day_ms), n)
        m = len(days)
        office = self.rng.choice(24, m, p=self.hour_p) * HOUR_MS + self.rng.integers(0, HOUR_MS, m)
        anytime = self.rng.integers(0, DAY_MS, m)
        return self.day_ms[days] + np.where(flat, anytime, office)

    def after(self, parent_times: np.ndarray, lo_ms: int, hi_ms: int) -> np.ndarray:
        """Some time after each parent, on the parent's day."""
        t = parent_times + self.rng.integers(lo_ms, hi_ms, len(parent_times))
        end = parent_times // DAY_MS * DAY_MS + DAY_MS - 1
        return np.minimum(t, end)

    def actors(self, n: int, bot_share: float) -> np.ndarray:
        """Indexes into world.names: busy people most often, bots for about bot_share."""
        human = self.rng.choice(self.w.n_humans, n, p=self.w.human_p)
        bot = self.w.n_humans + self.rng.integers(0, self.w.n_bots, n)
        return np.where(self.rng.random(n) < bot_share, bot, human)

    def admins(self, n: int) -> np.ndarray:
        """People with the editor role (admin-annie when there is nobody else)."""
        pool = self.w.admins if len(self.w.admins) else np.array([0])
        return pool[self.rng.integers(0, len(pool), n)]

    def is_bot(self, actor: np.ndarray) -> np.ndarray:
        return (actor >= self.w.n_humans) & (actor < self.w.n_actors)

    def chance(self, p: float, n: int) -> np.ndarray:
        """True for about a share p of n rows."""
        return self.rng.random(n) < p

    def ip_index(self, actor: np.ndarray) -> np.ndarray:
        """Index into world.ips: each actor's own addresses, the first most often."""
        a = np.minimum(actor, self.w.n_actors - 1)
        k = self.w.ip_count[a]
        j = np.minimum((self.rng.random(len(a)) ** 2 * k).astype(np.int64), k - 1)
        j = np.where(actor == 0, self.rng.integers(0, k), j)  # the many-IP user uses all evenly
        return self.w.ip_table[a, j]

    def port(self, n: int) -> pa.Array:
        """Ephemeral client ports as text."""
        body = np.empty((n, 5), np.uint8)
        put_digits(body, 0, self.rng.integers(49152, 65536, n), 5)
        return fixed_column(body)

    def parent(self, etype: str, builder: Builder) -> EventBatch:
        """The chunk's events of a parent type, or one unseen parent when the chunk has none."""
        f = self.batches.get(etype)
        if f is not None and f.n:
            return f
        return builder(self, 1)

    def security(self, actor: np.ndarray) -> dict[str, np.ndarray]:
        """Which of access request / MFA / impersonation / trusted device each event has.

        WEAK_SECURITY_RATE of events (on average) have none; bots never have MFA or a device, so
        theirs become impersonation (tbot impersonates the bot's role).
        """
        n = len(actor)
        weak = self.chance(WEAK_SECURITY_RATE, n)
        ar = self.chance(0.35, n)
        mfa = self.chance(0.6, n)
        imp = self.chance(0.08, n)
        td = self.chance(0.55, n)
        mfa |= ~(ar | mfa | imp | td)
        bot = self.is_bot(actor)
        imp |= bot & (mfa | td)
        mfa &= ~bot
        td &= ~bot
        return {k: v & ~weak for k, v in {"ar": ar, "mfa": mfa, "imp": imp, "td": td}.items()}

    def kube_groups(self, n: int) -> np.ndarray:
        """Indexes into world.KUBE_GROUPS: system:masters for SYSTEM_MASTERS_RATE of rows."""
        return np.where(
            self.chance(SYSTEM_MASTERS_RATE, n),
            self.rng.integers(0, 2, n),
            2 + self.rng.integers(0, len(KUBE_GROUPS_OTHER), n),
        )

    # ---- fragments shared by many event types ----
    def start(
        self,
        etype: str,
        n: int | None,
        *,
        actor=None,
        times=None,
        bot_share=0.0,
        flat=False,
        user=True,
    ) -> EventBatch:
        """A batch with the common keys (ei, event, uid, time, cluster_name) and the actor."""
        hidden = n is not None
        n = n if hidden else self.n(etype)
        if times is not None:
            n = len(times)
        f = EventBatch(etype, n)
        if user:
            f.actor = actor if actor is not None else self.actors(n, bot_share)
        if times is None:
            flat = flat | (self.is_bot(f.actor) if f.actor is not None else False)
            times = self.times(etype, flat, n if hidden else None)
        f.times = np.asarray(times, np.int64)
        f.uid = uuid_bytes(self.rng, n)
        o = f.obj
        o.const("event", etype)
        o.const("cluster_name", CLUSTER_NAME)
        o.const("ei", 0, keep=True)
        o.fixed("uid", f.uid)
        o.time("time", f.times)
        if f.actor is not None:
            o.pick("user", self.w.names, f.actor)
        return f

    def status(
        self, f: EventBatch, ok: np.ndarray, code_ok: str, code_fail: str, errors=()
    ) -> None:
        """code, success (always written, as Teleport does) and an error on failures."""
        idx = (~ok).astype(np.int32)
        f.obj.pick("code", [code_ok, code_fail], idx)
        f.obj.pick("success", [True, False], idx, keep=True)
        if errors:
            f.obj.pick("error", list(errors), self.rng.integers(0, len(errors), f.n), ok)

    def child(
        self, etype: str, parent: EventBatch, pick: np.ndarray, lo: int, hi: int, *, actor=None
    ) -> EventBatch:
        """Events that follow parent[pick] by lo to hi ms, by the parent's actor by default."""
        times = self.after(parent.times[pick], lo, hi)
        actor = parent.actor[pick] if actor is None else actor
        return self.start(etype, None, actor=actor, times=times)

    def code(self, f: EventBatch, code: str) -> None:
        """A code that does not depend on the outcome."""
        f.obj.const("code", code)

    def user_meta(self, f: EventBatch, sec: dict[str, np.ndarray] | None) -> None:
        """access_requests, impersonator, trusted_device, with_mfa after the security flags."""
        if sec is None:
            return
        n, a, o = f.n, f.actor, f.obj
        o.pick("access_requests", self.w.request_ids, self.rng.integers(0, 32, n), ~sec["ar"])
        imp_names = ["admin-annie", "ops-oscar", *BOTS]
        imp = np.where(self.is_bot(a), a - self.w.n_humans + 2, (a == 0).astype(np.int64))
        o.pick("impersonator", imp_names, imp, ~sec["imp"])
        o.pick("trusted_device", self.w.device, np.minimum(a, self.w.n_actors - 1), ~sec["td"])
        o.pick("with_mfa", self.w.mfa, np.minimum(a, self.w.n_actors - 1), ~sec["mfa"])

    def remote(self, f: EventBatch, ip: np.ndarray | None = None, key="addr.remote") -> np.ndarray:
        """addr.remote as ip:port, from each actor's own addresses unless ip is given."""
        if ip is None:
            ip = self.ip_index(f.actor)
        ips = take(pa.array(self.w.ips), ip)
        f.obj.frags[key] = pc.binary_join_element_wise(
            pa.scalar(f',"{key}":"'), ips, pa.scalar(":"), self.port(f.n), pa.scalar('"'), ""
        )
        return ip

    def node(self, f: EventBatch, node: np.ndarray, omit=None) -> None:
        """The keys that name the SSH node an event ran on."""
        o = f.obj
        o.pick("server_id", self.w.node_id, node, omit)
        o.pick("server_hostname", self.w.node_host, node, omit)
        o.pick("addr.local", self.w.node_addr, node, omit)
        o.pick("server_labels", self.w.node_labels, node, omit)

    def session_keys(self, f: EventBatch, sid: np.ndarray | None = None) -> None:
        """A new session id per event (the store's session_id column) and the key policy."""
        f.sid = uuid_bytes(self.rng, f.n) if sid is None else sid
        f.obj.fixed("sid", f.sid)
        f.obj.const("private_key_policy", "none")


#: Builds the events of one type: the chunk's count when n is None, else n unseen parents.
Builder = Callable[[ChunkContext, int | None], EventBatch]
