"""How many events of each type fall on each day, and how the days are cut into chunks.

The type mix and the weekly rhythm are drawn here, before any event is built, so a chunk's
events depend only on its own counts and seed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np

#: Share of all events per event type (normalised); every type also gets a few events at small N.
TYPE_WEIGHTS: dict[str, float] = {
    "kube.request": 0.20,
    "db.session.query": 0.12,
    "cert.create": 0.10,
    "session.command": 0.10,
    "exec": 0.08,
    "session.start": 0.07,
    "db.session.start": 0.05,
    "user.login": 0.05,
    "bot.join": 0.015,
    "device.authenticate": 0.015,
    "access_request.review": 0.012,
    "access_request.create": 0.01,
    "session.join": 0.01,
    "auth": 0.008,
    "db.session.query.failed": 0.008,
    "windows.desktop.session.start": 0.008,
    "windows.desktop.session.end": 0.007,
    "instance.join": 0.006,
    "saml.idp.auth": 0.006,
    "session.rejected": 0.004,
    "device.enroll": 0.001,
    "join_token.create": 0.001,
    "user.password_change": 0.001,
    "recovery_code.used": 0.0008,
    "reset_password_token.create": 0.0008,
    "user.create": 0.0008,
    "lock.created": 0.0006,
    "lock.deleted": 0.0004,
    "access_list.create": 0.0004,
    "access_list.update": 0.0006,
    "access_list.delete": 0.0002,
    "access_list.review": 0.0004,
    "access_list.member.create": 0.0008,
    "access_list.member.update": 0.0004,
    "access_list.member.delete": 0.0004,
}

#: Relative activity per hour of day (UTC) for people; bots and agents work around the clock.
HOURLY_PROFILE = (
    *(0.15, 0.10, 0.10, 0.10, 0.12, 0.20, 0.40, 0.80),
    *(1.40, 2.00, 2.20, 2.10, 1.60, 1.90, 2.20, 2.10),
    *(1.90, 1.50, 1.00, 0.70, 0.50, 0.40, 0.30, 0.20),
)
#: Relative activity per weekday, Monday first.
WEEKDAY_PROFILE = (1.0, 1.05, 1.05, 1.0, 0.9, 0.22, 0.18)

#: At most this many events are built at once; write_demo writes chunk by chunk.
CHUNK_EVENTS = 250_000

#: The event types in TYPE_WEIGHTS order: the rows of the [type, day] count matrix.
EVENT_TYPES = tuple(TYPE_WEIGHTS)


def allocate(events: int) -> np.ndarray:
    """Events per type: a few of every type, the rest by weight (largest remainder, no RNG)."""
    w = np.array([TYPE_WEIGHTS[t] for t in EVENT_TYPES])
    w = w / w.sum()
    least = min(3, events // len(EVENT_TYPES))
    rest = events - least * len(EVENT_TYPES)
    share = w * rest
    out = np.floor(share).astype(np.int64)
    left = rest - int(out.sum())
    order = np.argsort(-(share - out), kind="stable")
    out[order[:left]] += 1
    if least == 0:  # fewer events than types: give the leftovers to the lightest types too
        out[:] = 0
        out[np.argsort(-w, kind="stable")[:events]] = 1
    return out + least


def count_matrix(events: int, days: int, start: dt.date, rng: np.random.Generator) -> np.ndarray:
    """[type, day] event counts: weekdays busier than weekends, day-to-day noise, last day busy."""
    weekday = np.array([(start.weekday() + i) % 7 for i in range(min(days, 7))])
    weekday = np.resize(weekday, days)
    dayw = np.array(WEEKDAY_PROFILE)[weekday] * rng.lognormal(0.0, 0.15, days)
    p = dayw / dayw.sum()
    totals = allocate(events)
    counts = np.stack([rng.multinomial(int(t), p) for t in totals])
    if counts[:, -1].sum() == 0:  # the last day must have events, whatever N
        busiest = int(np.argmax(counts.sum(axis=1)))
        donor = int(np.argmax(counts[busiest]))
        counts[busiest, donor] -= 1
        counts[busiest, -1] += 1
    return counts


def day_chunks(counts: np.ndarray, limit: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Consecutive whole days up to `limit` events; a day bigger than that is split."""
    per_day = counts.sum(axis=0)
    lo, total = 0, 0
    for d in range(counts.shape[1]):
        if per_day[d] > limit:
            if d > lo:
                yield np.arange(lo, d), counts[:, lo:d]
            k = -(-int(per_day[d]) // limit)
            cuts = counts[:, d : d + 1] * np.arange(k + 1) // k
            for j in range(k):
                yield np.array([d]), cuts[:, j + 1 : j + 2] - cuts[:, j : j + 1]
            lo, total = d + 1, 0
            continue
        if total + per_day[d] > limit and d > lo:
            yield np.arange(lo, d), counts[:, lo:d]
            lo, total = d, 0
        total += int(per_day[d])
    if counts.shape[1] > lo:
        yield np.arange(lo, counts.shape[1]), counts[:, lo:]
