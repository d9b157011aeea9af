"""Synthetic Teleport audit events, so the workbench can be tried without a Teleport cluster.

The events look like the ones Teleport writes to Athena: the same JSON keys (`addr.local`,
`identity.client_ip`, `exitCode`, ...), the same omission of empty values, the same store
columns. On top of ordinary traffic with office-hour rhythms, the generator plants, at the
rates documented by the constants below, every behaviour the Privileged Access Report looks
for, so each of its nine queries returns rows in any 7-day window at the default size.

Generation is column-wise: field values are drawn as numpy arrays, and each JSON key becomes
one Arrow string column of `,"key":value` fragments (null when the value is empty, which is
how omitempty is honoured); the fragments are joined row-wise in key order. No Python object
is built per event, so millions of events take seconds, and the same arguments always give the
same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from accessmon.errors import ConfigError
from accessmon.storage import store as _store

# --------------------------------------------------------------------------------------------
# Planted behaviours: the rates the Privileged Access Report's queries find (tests check them).
# --------------------------------------------------------------------------------------------

#: Share of session.start (proto ssh), db.session.start and kube.request events with none of
#: access_requests, with_mfa, impersonator, trusted_device ("weak security", report queries 1-3).
WEAK_SECURITY_RATE = 0.30
#: Share of ssh session.start events whose login is root (report query 8).
ROOT_LOGIN_RATE = 0.08
#: Share of session.start events that are Kubernetes sessions (proto kube) rather than ssh.
KUBE_SESSION_SHARE = 0.15
#: Share of exec events that are kube exec (proto kube); the rest are ssh exec (query 5).
KUBE_EXEC_SHARE = 0.25
#: Share of ssh exec events whose command touches /etc/passwd (the seed's example query).
ETC_PASSWD_RATE = 0.04
#: Share of kube.request events whose kubernetes_groups contain system:masters (query 9).
SYSTEM_MASTERS_RATE = 0.06
#: Share of db.session.start events on postgres as db_user postgres (query 4).
POSTGRES_SUPERUSER_RATE = 0.10
#: Share of cert.create events whose identity.expires is more than one day after time (query 6).
LONG_CERT_RATE = 0.12
#: Share of instance.join events whose token_expires is more than one day after time (query 7).
LONG_JOIN_TOKEN_RATE = 0.30
#: The user who connects from many distinct client IPs (the seed's unique-IP queries).
MANY_IP_USER = "admin-annie"
#: How many distinct client IPs MANY_IP_USER uses; everyone else uses one to three.
MANY_IP_COUNT = 40
#: Share of access_request.review events per resulting state (reviews share the request's id).
REVIEW_STATE_SHARES = {"APPROVED": 0.70, "DENIED": 0.20, "PENDING": 0.10}

# Noise: failures that carry the W/E code, success false and an error.
#: Share of user.login events that fail (T1000W local, T1001W SSO).
LOGIN_FAILURE_RATE = 0.10
#: Share of db.session.start events that are denied (TDB00W).
DB_DENIED_RATE = 0.05
#: Share of exec events that exit non-zero (T3002E).
EXEC_FAILURE_RATE = 0.08

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

CLUSTER_NAME = "teleport.example.com"
#: At most this many events are built at once; write_demo writes chunk by chunk.
CHUNK_EVENTS = 250_000

_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_EPOCH = dt.date(1970, 1, 1)

# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def generate(
    events: int = 200_000,
    days: int = 90,
    users: int = 40,
    seed: int = 0,
    end_date: dt.date | None = None,
) -> pa.Table:
    """A table of `events` synthetic audit events in the store's schema, over `days` days.

    The same arguments always give the same table. For very large N prefer `write_demo`,
    which never holds more than CHUNK_EVENTS events in memory.
    """
    tables = list(iter_chunks(events, days, users, seed, end_date))
    return pa.concat_tables(tables)  # one Arrow chunk per generated chunk; no copy


def write_demo(
    store: Path,
    events: int = 200_000,
    days: int = 90,
    users: int = 40,
    seed: int = 0,
    end_date: dt.date | None = None,
) -> tuple[int, int]:
    """Generate demo events straight into a store; returns (added, duplicates) as write_events.

    Chunks cover whole days where possible, so a fresh store gets one file per day. The
    store's write lock is held, as by ingest, so a demo beside an ingest stores each event once.
    """
    added = dups = 0
    with _store.write_lock(Path(store)):
        for table in iter_chunks(events, days, users, seed, end_date):
            a, d = _store.write_events(Path(store), table)
            added += a
            dups += d
    return added, dups


def iter_chunks(
    events: int = 200_000,
    days: int = 90,
    users: int = 40,
    seed: int = 0,
    end_date: dt.date | None = None,
    chunk_events: int = CHUNK_EVENTS,
) -> Iterator[pa.Table]:
    """The events of `generate`, as consecutive tables of at most chunk_events rows.

    Each chunk covers whole days where it can, so writing chunk by chunk gives one file per
    day. The chunking is part of the arguments: another chunk_events gives other events.
    """
    end = _check_args(events, days, users, seed, end_date)
    if isinstance(chunk_events, bool) or not isinstance(chunk_events, int) or chunk_events < 1:
        raise ConfigError(f"demo: chunk_events must be a whole number >= 1, got {chunk_events!r}")
    start = end - dt.timedelta(days=days - 1)
    world = _World(users, seed)
    counts = _count_matrix(events, days, start, np.random.default_rng([seed, 1]))
    day0 = (start - _EPOCH).days
    for k, (day_idx, sub) in enumerate(_chunks(counts, chunk_events)):
        rng = np.random.default_rng([seed, 2, k])
        cx = _Ctx(world, rng, (day0 + day_idx) * _DAY_MS, sub)
        yield cx.build()


def _check_args(events, days, users, seed, end_date) -> dt.date:
    for name, value in (("events", events), ("days", days), ("users", users)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ConfigError(f"demo: {name} must be a whole number, got {value!r}")
        if value < 1:
            raise ConfigError(f"demo: {name} must be at least 1, got {value}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"demo: seed must be a whole number >= 0, got {seed!r}")
    if end_date is None:
        end_date = dt.datetime.now(dt.UTC).date()
    if isinstance(end_date, dt.datetime) or not isinstance(end_date, dt.date):
        raise ConfigError(f"demo: end_date must be a date, got {end_date!r}")
    if end_date.year > 9000:
        raise ConfigError(f"demo: end_date {end_date} is too far in the future")
    if (end_date - _EPOCH).days - (days - 1) < 1:
        raise ConfigError(f"demo: {days} days ending {end_date} would start before 1970-01-02")
    return end_date


# --------------------------------------------------------------------------------------------
# How many events of each type on each day, and how they are cut into chunks
# --------------------------------------------------------------------------------------------

_TYPES = tuple(TYPE_WEIGHTS)


def _allocate(events: int) -> np.ndarray:
    """Events per type: a few of every type, the rest by weight (largest remainder, no RNG)."""
    w = np.array([TYPE_WEIGHTS[t] for t in _TYPES])
    w = w / w.sum()
    least = min(3, events // len(_TYPES))
    rest = events - least * len(_TYPES)
    share = w * rest
    out = np.floor(share).astype(np.int64)
    left = rest - int(out.sum())
    order = np.argsort(-(share - out), kind="stable")
    out[order[:left]] += 1
    if least == 0:  # fewer events than types: give the leftovers to the lightest types too
        out[:] = 0
        out[np.argsort(-w, kind="stable")[:events]] = 1
    return out + least


def _count_matrix(events: int, days: int, start: dt.date, rng: np.random.Generator) -> np.ndarray:
    """[type, day] event counts: weekdays busier than weekends, day-to-day noise, last day busy."""
    weekday = np.array([(start.weekday() + i) % 7 for i in range(min(days, 7))])
    weekday = np.resize(weekday, days)
    dayw = np.array(WEEKDAY_PROFILE)[weekday] * rng.lognormal(0.0, 0.15, days)
    p = dayw / dayw.sum()
    totals = _allocate(events)
    counts = np.stack([rng.multinomial(int(t), p) for t in totals])
    if counts[:, -1].sum() == 0:  # the last day must have events, whatever N
        busiest = int(np.argmax(counts.sum(axis=1)))
        donor = int(np.argmax(counts[busiest]))
        counts[busiest, donor] -= 1
        counts[busiest, -1] += 1
    return counts


def _chunks(counts: np.ndarray, limit: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
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


# --------------------------------------------------------------------------------------------
# Fixed-width text (uuids, timestamps) built in numpy, and JSON objects built from fragments
# --------------------------------------------------------------------------------------------

_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_UUID_POS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def _uuid_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 36) ASCII bytes of random version-4 UUIDs."""
    b = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    hexed = np.empty((n, 32), np.uint8)
    hexed[:, 0::2] = _HEX[b >> 4]
    hexed[:, 1::2] = _HEX[b & 0x0F]
    out = np.full((n, 36), ord("-"), np.uint8)
    out[:, _UUID_POS] = hexed
    return out


def _uuid_str(rng: np.random.Generator) -> str:
    return _uuid_bytes(rng, 1)[0].tobytes().decode()


def _hex_bytes(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return _HEX[rng.integers(0, 16, size=(n, width))]


def _put_digits(out: np.ndarray, pos: int, value: np.ndarray, width: int) -> None:
    value = value.copy()
    for i in range(width - 1, -1, -1):
        out[:, pos + i] = 48 + value % 10
        value //= 10


def _time_bytes(ms: np.ndarray, sub_ns: np.ndarray | None = None) -> np.ndarray:
    """RFC 3339 in UTC: `2024-03-20T12:12:03.374Z`, or nanoseconds when sub_ns is given."""
    n = len(ms)
    width = 24 if sub_ns is None else 30
    out = np.empty((n, width), np.uint8)
    if n == 0:
        return out
    day = ms // _DAY_MS
    rem = ms - day * _DAY_MS
    d0 = int(day.min())
    dates = np.frombuffer(
        "".join(
            (_EPOCH + dt.timedelta(days=d)).isoformat() for d in range(d0, int(day.max()) + 1)
        ).encode(),
        np.uint8,
    ).reshape(-1, 10)
    out[:, :10] = dates[day - d0]
    out[:, 10] = ord("T")
    _put_digits(out, 11, rem // _HOUR_MS, 2)
    out[:, 13] = ord(":")
    _put_digits(out, 14, rem // 60_000 % 60, 2)
    out[:, 16] = ord(":")
    _put_digits(out, 17, rem // 1000 % 60, 2)
    out[:, 19] = ord(".")
    if sub_ns is None:
        _put_digits(out, 20, rem % 1000, 3)
    else:
        _put_digits(out, 20, rem % 1000 * 1_000_000 + sub_ns, 9)
    out[:, -1] = ord("Z")
    return out


def _fixed(body: np.ndarray, prefix: str = "", suffix: str = "", valid=None) -> pa.StringArray:
    """An Arrow string column from an (n, width) byte matrix, without a Python loop."""
    n = body.shape[0]
    parts = []
    if prefix:
        parts.append(np.broadcast_to(np.frombuffer(prefix.encode(), np.uint8), (n, len(prefix))))
    parts.append(body)
    if suffix:
        parts.append(np.broadcast_to(np.frombuffer(suffix.encode(), np.uint8), (n, len(suffix))))
    data = np.ascontiguousarray(np.concatenate(parts, axis=1) if len(parts) > 1 else body)
    offsets = np.arange(n + 1, dtype=np.int64) * data.shape[1]
    if offsets[-1] >= 2**31:
        raise ConfigError("demo: chunk too large for one Arrow string column")
    vbuf, nulls = None, 0
    if valid is not None and not valid.all():
        vbuf = pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = int(n - valid.sum())
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data.reshape(-1)), vbuf, nulls
    )


def _empty(v: Any) -> bool:
    """Teleport's omitempty: no key for "", [], {}, false, 0 or null."""
    if v is None or v is False or (isinstance(v, str | list | tuple | dict) and len(v) == 0):
        return True
    return type(v) is int and v == 0


def _dump(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), sort_keys=True)


def _take(vocab: pa.Array, idx: np.ndarray, omit: np.ndarray | None = None) -> pa.Array:
    return vocab.take(pa.array(np.asarray(idx, np.int32), mask=omit))


class _Obj:
    """One JSON object per row, kept as one fragment column per key until rendered."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.frags: dict[str, pa.Array | pa.Scalar] = {}

    def const(self, key: str, value: Any, *, keep: bool = False) -> None:
        """The same value on every row (omitted when empty unless keep)."""
        if keep or not _empty(value):
            self.frags[key] = pa.scalar(f",{_dump(key)}:{_dump(value)}")

    def pick(self, key: str, values: Sequence, idx, omit=None, *, keep: bool = False) -> None:
        """values[idx[i]] on row i; empty values and rows where omit is true have no key."""
        frags = [None if (not keep and _empty(v)) else f",{_dump(key)}:{_dump(v)}" for v in values]
        self.frags[key] = _take(pa.array(frags, pa.string()), idx, omit)

    def text(self, key: str, arr: pa.Array) -> None:
        """A quoted string from JSON-safe Arrow text; null rows have no key."""
        self.frags[key] = pc.binary_join_element_wise(
            pa.scalar(f',{_dump(key)}:"'), arr, pa.scalar('"'), ""
        )

    def fixed(self, key: str, body: np.ndarray, valid=None) -> None:
        """A quoted string from an (n, width) ASCII byte matrix (uuids, timestamps)."""
        self.frags[key] = _fixed(body, f',{_dump(key)}:"', '"', valid)

    def time(self, key: str, ms: np.ndarray, valid=None, sub_ns=None) -> None:
        self.fixed(key, _time_bytes(ms, sub_ns), valid)

    def int(self, key: str, values: np.ndarray, omit=None, *, keep: bool = False) -> None:
        """An integer; zero is omitted unless keep."""
        values = np.asarray(values, np.int64)
        mask = np.zeros(len(values), bool) if keep else values == 0
        if omit is not None:
            mask |= omit
        strs = pc.cast(pa.array(values, mask=mask), pa.string())
        self.frags[key] = pc.binary_join_element_wise(pa.scalar(f",{_dump(key)}:"), strs, "")

    def obj(self, key: str, sub: _Obj, omit=None) -> None:
        """A nested object; an empty one (or an omitted row) has no key."""
        body = sub.render()
        if omit is not None:
            body = pc.if_else(pa.array(omit), pa.scalar(None, pa.string()), body)
        self.frags[key] = pc.binary_join_element_wise(pa.scalar(f",{_dump(key)}:"), body, "")

    def render(self) -> pa.StringArray:
        """Compact JSON text per row, keys in byte order; rows with no key at all are null."""
        parts = [self.frags[k] for k in sorted(self.frags)]
        parts.append(pa.scalar("}"))
        if not any(isinstance(p, pa.Array) for p in parts):
            parts.insert(0, pa.nulls(self.n, pa.string()))
        # every fragment starts with ","; null fragments become "" (the "skip" mode of this
        # kernel drops rows whose inputs are all null, so it is not used)
        out = pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")
        _, obuf, dbuf = out.buffers()
        offsets = np.frombuffer(obuf, np.int32, count=self.n + 1, offset=out.offset * 4)
        data = np.frombuffer(dbuf, np.uint8).copy()
        starts = offsets[:-1]
        full = np.diff(offsets) > 1
        data[starts[full]] = ord("{")
        vbuf, nulls = None, 0
        if not full.all():
            vbuf = pa.py_buffer(np.packbits(full, bitorder="little"))
            nulls = int(self.n - full.sum())
        return pa.StringArray.from_buffers(
            self.n, pa.py_buffer(offsets.copy()), pa.py_buffer(data), vbuf, nulls
        )


# --------------------------------------------------------------------------------------------
# The cast: people, bots, nodes, databases, Kubernetes clusters, desktops
# --------------------------------------------------------------------------------------------

_HUMANS = (
    "admin-annie", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
    "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
    "wendy", "xavier", "yolanda", "zoe", "ops-oscar", "sre-sam", "dev-dana", "dba-dmitri", "kim",
    "lee", "maria", "noah", "omar", "priya", "quinn", "raj", "sofia", "tom", "uma", "vera",
)  # fmt: skip
_BOTS = ("bot-ci", "bot-argocd", "bot-backup", "bot-terraform")
#: Names tried in failed logins that are no Teleport user.
_STRANGERS = ("admin", "root", "test", "oracle", "support", "guest")
_NODE_KINDS = ("web", "api", "worker", "bastion", "batch", "cache", "ml", "jenkins")
_ENVS = ("prod", "prod", "staging", "dev")
_TEAMS = ("payments", "platform", "data", "frontend", "search")
_LOGINS = ("ubuntu", "ec2-user", "deploy", "admin")
_PUBLIC_FIRST = (24, 34, 52, 66, 73, 81, 98, 109, 151, 176, 185, 203, 212)
_DATABASES = (
    # service, protocol, uri, type, region, names, users (the superuser is planted separately)
    ("pg-orders", "postgres", "orders.cluster-c8x2.us-east-1.rds.amazonaws.com:5432", "rds",
     "us-east-1", ("orders", "postgres"), ("app_rw", "app_ro", "alice_ro")),
    ("pg-analytics", "postgres", "analytics.db.internal:5432", "self-hosted", "",
     ("analytics", "warehouse"), ("analyst", "etl", "reporting")),
    ("mysql-billing", "mysql", "billing-mysql.db.internal:3306", "self-hosted", "",
     ("billing", "invoices"), ("billing_ro", "app", "root")),
    ("mongo-events", "mongodb", "mongodb+srv://events.x1y2z.mongodb.net", "self-hosted", "",
     ("events", "admin"), ("reader", "writer")),
    ("pg-payments", "postgres", "payments.cluster-c8x2.eu-west-1.rds.amazonaws.com:5432", "rds",
     "eu-west-1", ("payments",), ("payments_app", "payments_ro")),
)  # fmt: skip
_DB_WEIGHTS = np.array([0.35, 0.2, 0.2, 0.1, 0.15])
_QUERIES = {
    "postgres": (
        "SELECT * FROM orders WHERE id = $1", "SELECT count(*) FROM users",
        "UPDATE orders SET status = 'shipped' WHERE id = 4211", "BEGIN", "COMMIT",
        "SELECT version()", "select * from pg_stat_activity",
        "DELETE FROM sessions WHERE expires < now()",
    ),
    "mysql": (
        "SELECT * FROM invoices WHERE customer_id = ?", "SHOW TABLES", "SELECT @@version",
        "UPDATE invoices SET paid = 1 WHERE id = 991",
    ),
    "mongodb": (
        '{"find":"events","filter":{"type":"click"},"limit":50}',
        '{"aggregate":"events","pipeline":[{"$group":{"_id":"$type","n":{"$sum":1}}}]}',
        '{"insert":"events","ordered":true}',
    ),
}  # fmt: skip
_QUERY_ERRORS = {
    "postgres": "ERROR: permission denied for table users (SQLSTATE 42501)",
    "mysql": "Error 1142 (42000): SELECT command denied to user 'billing_ro' for table 'secrets'",
    "mongodb": "not authorized on admin to execute command { listDatabases: 1 }",
}
_KUBE_CLUSTERS = ("prod-eks", "staging-gke", "dev-kind")
_KUBE_NAMESPACES = ("default", "kube-system", "payments", "frontend", "monitoring", "argocd")
_KUBE_KINDS = (
    # kind, api group ("" = core), namespaced, verbs
    ("pods", "", True, ("GET", "GET", "GET", "DELETE")),
    ("deployments", "apps", True, ("GET", "GET", "PATCH", "POST")),
    ("services", "", True, ("GET",)),
    ("configmaps", "", True, ("GET", "PATCH")),
    ("secrets", "", True, ("GET",)),
    ("events", "", True, ("GET",)),
    ("ingresses", "networking.k8s.io", True, ("GET",)),
    ("nodes", "", False, ("GET",)),
    ("namespaces", "", False, ("GET", "POST")),
    ("clusterrolebindings", "rbac.authorization.k8s.io", False, ("GET", "POST")),
)
_KUBE_GROUPS_MASTERS = (["system:masters"], ["ops", "system:masters"])
_KUBE_GROUPS_OTHER = (["developers"], ["viewers"], ["developers", "viewers"], ["ci-deployers"])
_SSH_COMMANDS = (
    "uptime", "df -h", "ls -la /var/log", "systemctl status nginx", "sudo systemctl restart app",
    "journalctl -u app --since '1 hour ago'", "docker ps", "ps aux --sort=-%mem | head",
    "free -m", "tail -n 200 /var/log/syslog", "sudo apt-get update", "cat /etc/os-release",
    "ansible-playbook site.yml --check", "git -C /srv/app pull", "id",
)  # fmt: skip
_PASSWD_COMMANDS = (
    "cat /etc/passwd", "grep deploy /etc/passwd", "sudo vi /etc/passwd",
    "awk -F: '{print $1}' /etc/passwd", "tail -n 5 /etc/passwd",
)  # fmt: skip
_KUBE_COMMANDS = ("/bin/sh", "sh -c env", "ls /app", "cat /etc/resolv.conf", "bash",
                  "python manage.py migrate", "printenv")  # fmt: skip
_PROGRAMS = (
    ("ls", "/usr/bin/ls", ["-la"]), ("cat", "/usr/bin/cat", ["/etc/hosts"]),
    ("bash", "/usr/bin/bash", []), ("sudo", "/usr/bin/sudo", ["systemctl", "restart", "nginx"]),
    ("vim", "/usr/bin/vim", ["/etc/nginx/nginx.conf"]),
    ("curl", "/usr/bin/curl", ["-s", "localhost:8080/health"]),
    ("grep", "/usr/bin/grep", ["-r", "ERROR", "/var/log/app"]), ("ps", "/usr/bin/ps", ["aux"]),
    ("top", "/usr/bin/top", []), ("psql", "/usr/bin/psql", ["-h", "localhost", "orders"]),
)  # fmt: skip
_USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0",
    "tsh/16.4.2 (darwin-arm64)",
    "tsh/16.4.2 (linux-amd64)",
)
_DESKTOPS = ("win-dc-01", "win-jump-01", "win-jump-02", "win-sql-01")
_SAML_APPS = (
    ("https://signin.aws.amazon.com/saml", "aws"),
    ("https://app.datadoghq.com/account/saml/metadata.xml", "datadog"),
    ("https://grafana.example.com/saml/metadata", "grafana"),
)
_ACCESS_LISTS = ("payments-oncall", "db-admins", "kube-admins", "contractors", "auditors")
_REQUEST_ROLES = (["db-admin"], ["kube-admin"], ["prod-access"], ["root-access"], ["auditor"])
_REQUEST_REASONS = (
    "Investigating incident INC-4821", "Deploy hotfix for checkout", "Quarterly audit",
    "Run a data migration", "Debug failing pods in prod", "Rotate database credentials",
)  # fmt: skip


class _World:
    """Everyone and everything that appears in the events, fixed by (users, seed)."""

    def __init__(self, users: int, seed: int) -> None:
        rng = np.random.default_rng([seed, 0])
        humans = [
            _HUMANS[i % len(_HUMANS)] + (str(i // len(_HUMANS) + 1) if i >= len(_HUMANS) else "")
            for i in range(users)
        ]
        self.n_humans = len(humans)
        self.n_bots = len(_BOTS)
        self.n_actors = self.n_humans + self.n_bots
        #: actors first (humans, then bots), then strangers that only fail to log in
        self.names = [*humans, *_BOTS, *_STRANGERS]
        self.stranger0 = self.n_actors
        w = 1.0 / np.arange(1, users + 1) ** 0.8
        w[0] *= 1.5  # admin-annie is busy
        self.human_p = w / w.sum()

        # client IPs: one to three per person, MANY_IP_COUNT for MANY_IP_USER, one or two per bot
        ips: list[str] = []
        per_actor: list[list[int]] = []
        for a in range(self.n_actors):
            if a < self.n_humans:
                k = MANY_IP_COUNT if self.names[a] == MANY_IP_USER else int(rng.integers(1, 4))
                firsts = rng.choice(_PUBLIC_FIRST, k)
                tail = rng.integers(1, 255, (k, 3))
                new = [f"{f}.{t[0]}.{t[1]}.{t[2]}" for f, t in zip(firsts, tail, strict=True)]
            else:
                k = int(rng.integers(1, 3))
                new = [f"10.20.{rng.integers(0, 32)}.{rng.integers(2, 255)}" for _ in range(k)]
            per_actor.append(list(range(len(ips), len(ips) + k)))
            ips.extend(new)
        self.stranger_ip0 = len(ips)
        ips.extend(
            f"{rng.choice(_PUBLIC_FIRST)}.{rng.integers(1, 255)}.{rng.integers(1, 255)}"
            f".{rng.integers(1, 255)}"
            for _ in range(8)
        )
        self.ips = ips
        self.ip_count = np.array([len(p) for p in per_actor])
        self.ip_table = np.zeros((self.n_actors, self.ip_count.max()), np.int64)
        for a, p in enumerate(per_actor):
            self.ip_table[a, : len(p)] = p

        # per-person security: MFA device, trusted device, roles, logins, login method
        self.mfa: list[str] = []
        self.device: list[dict] = []
        self.roles: list[list[str]] = []
        self.logins: list[list[str]] = []
        self.method: list[str] = []
        for a in range(self.n_actors):
            name = self.names[a]
            if a >= self.n_humans:
                self.mfa.append("")
                self.device.append({})
                self.roles.append([name])
                self.logins.append(["deploy", "ubuntu"])
                self.method.append("")
                continue
            self.mfa.append(_uuid_str(rng))
            self.device.append(
                {
                    "asset_tag": "C02"
                    + "".join(rng.choice(list("ABCDEFGHJKLMNPQRSTVWXYZ0123456789"), 7)),
                    "credential_id": _uuid_str(rng),
                    "device_id": _uuid_str(rng),
                    "device_origin": int(rng.choice([1, 2, 3])),
                    "os_type": int(rng.choice([1, 1, 2, 3])),
                }
            )
            extra = [r for r in ("dev", "db-admin", "kube-admin", "auditor") if rng.random() < 0.3]
            roles = ["access", "editor", "auditor"] if a == 0 else ["access", *extra]
            if a and rng.random() < 0.1:
                roles.append("editor")
            self.roles.append(roles)
            logins = [name.split("-")[-1], "ubuntu", "ec2-user"]
            if "editor" in roles or rng.random() < 0.3:
                logins.append("root")
            self.logins.append(logins)
            self.method.append("local" if a == 0 or rng.random() < 0.2 else "saml")
        self.admins = np.array([a for a in range(self.n_humans) if "editor" in self.roles[a]])

        # nodes (ssh), Kubernetes agents, desktops
        n_nodes = 24
        self.node_host = []
        for i in range(n_nodes):
            if i % 4 == 3:
                self.node_host.append(f"ip-10-0-{rng.integers(0, 64)}-{rng.integers(2, 255)}")
            else:
                self.node_host.append(f"{_NODE_KINDS[i % len(_NODE_KINDS)]}-{i // 3 + 1:02d}")
        self.node_id = [_uuid_str(rng) for _ in range(n_nodes)]
        self.node_addr = [
            f"10.0.{rng.integers(0, 64)}.{rng.integers(2, 255)}:3022" for _ in range(n_nodes)
        ]
        self.node_labels = [
            {"env": _ENVS[i % len(_ENVS)], "team": _TEAMS[i % len(_TEAMS)]} for i in range(n_nodes)
        ]
        nw = 1.0 / np.arange(1, n_nodes + 1) ** 0.6
        self.node_p = nw / nw.sum()
        self.kube_host = [f"kube-agent-{c}-0" for c in _KUBE_CLUSTERS]
        self.kube_id = [_uuid_str(rng) for _ in _KUBE_CLUSTERS]
        self.kube_addr = [
            f"10.1.{i}.{rng.integers(2, 255)}:3026" for i in range(len(_KUBE_CLUSTERS))
        ]
        self.db_host = [f"db-agent-{i}" for i in range(2)]
        self.db_id = [_uuid_str(rng) for _ in range(2)]
        self.desktop_addr = [f"10.0.8.{rng.integers(2, 255)}:3389" for _ in _DESKTOPS]
        self.desktop_service = _uuid_str(rng)
        self.access_list_id = [_uuid_str(rng) for _ in _ACCESS_LISTS]
        #: access request ids carried by sessions that were granted through a request
        self.request_ids = [[_uuid_str(rng)] for _ in range(32)]

        # Kubernetes request templates: kind, group, namespace, name, verb, path
        self.kube_req: list[tuple[str, str, str, str, str, str]] = []
        for kind, group, namespaced, verbs in _KUBE_KINDS:
            base = f"/apis/{group}/v1" if group else "/api/v1"
            for ns in _KUBE_NAMESPACES if namespaced else ("",):
                where = f"{base}/namespaces/{ns}/{kind}" if ns else f"{base}/{kind}"
                for verb in verbs:
                    if verb == "GET":
                        self.kube_req.append((kind, group, ns, "", verb, where))
                    name = f"{kind.rstrip('s')}-{rng.integers(1000, 9999):x}"
                    if verb != "POST":
                        self.kube_req.append((kind, group, ns, name, verb, f"{where}/{name}"))
                    else:
                        self.kube_req.append((kind, group, ns, "", verb, where))
        self.pods = [
            (f"{app}-{rng.integers(16**8):08x}-{rng.integers(16**5):05x}", ns, app, img)
            for app, ns, img in (
                ("api", "payments", "ghcr.io/example/api:2.14.1"),
                ("web", "frontend", "ghcr.io/example/web:5.2.0"),
                ("worker", "payments", "ghcr.io/example/worker:2.14.1"),
                ("prometheus", "monitoring", "quay.io/prometheus/prometheus:v2.51.0"),
                ("coredns", "kube-system", "registry.k8s.io/coredns/coredns:v1.11.1"),
            )
            for _ in range(2)
        ]


# --------------------------------------------------------------------------------------------
# One chunk of events: per-type builders sharing a context
# --------------------------------------------------------------------------------------------


class _Frame:
    """The events of one type in a chunk: their JSON fragments plus values children reuse."""

    def __init__(self, etype: str, n: int) -> None:
        self.etype = etype
        self.n = n
        self.obj = _Obj(n)
        self.actor: np.ndarray | None = None
        self.times = np.zeros(n, np.int64)
        self.sid: np.ndarray | None = None
        self.uid = np.empty((n, 36), np.uint8)
        self.data: pa.Array | None = None
        self.extra: dict[str, Any] = {}


class _Ctx:
    """Draws and builds the events of one chunk: a few days and their per-type counts."""

    def __init__(self, world: _World, rng: np.random.Generator, day_ms: np.ndarray, counts):
        self.w = world
        self.rng = rng
        self.day_ms = day_ms
        self.counts = {t: counts[i] for i, t in enumerate(_TYPES)}
        self.frames: dict[str, _Frame] = {}
        hp = np.array(HOURLY_PROFILE)
        self.hour_p = hp / hp.sum()

    # ---- drawing helpers ----
    def n(self, etype: str) -> int:
        return int(self.counts[etype].sum())

    def times(self, etype: str, flat: np.ndarray | bool = False, n: int | None = None):
        """Times for the type's per-day counts; office hours unless flat (bots, agents)."""
        if n is None:
            days = np.repeat(np.arange(len(self.day_ms)), self.counts[etype])
        else:  # a hidden parent: any day of the chunk
            days = self.rng.integers(0, len(self.day_ms), n)
        m = len(days)
        office = self.rng.choice(24, m, p=self.hour_p) * _HOUR_MS + self.rng.integers(
            0, _HOUR_MS, m
        )
        anytime = self.rng.integers(0, _DAY_MS, m)
        return self.day_ms[days] + np.where(flat, anytime, office)

    def after(self, parent_times: np.ndarray, lo_ms: int, hi_ms: int) -> np.ndarray:
        """Some time after each parent, on the parent's day."""
        t = parent_times + self.rng.integers(lo_ms, hi_ms, len(parent_times))
        end = parent_times // _DAY_MS * _DAY_MS + _DAY_MS - 1
        return np.minimum(t, end)

    def actors(self, n: int, bot_share: float) -> np.ndarray:
        human = self.rng.choice(self.w.n_humans, n, p=self.w.human_p)
        bot = self.w.n_humans + self.rng.integers(0, self.w.n_bots, n)
        return np.where(self.rng.random(n) < bot_share, bot, human)

    def admins(self, n: int) -> np.ndarray:
        pool = self.w.admins if len(self.w.admins) else np.array([0])
        return pool[self.rng.integers(0, len(pool), n)]

    def is_bot(self, actor: np.ndarray) -> np.ndarray:
        return (actor >= self.w.n_humans) & (actor < self.w.n_actors)

    def chance(self, p: float, n: int) -> np.ndarray:
        return self.rng.random(n) < p

    def ip_index(self, actor: np.ndarray) -> np.ndarray:
        """Index into world.ips: each actor's own addresses, the first most often."""
        a = np.minimum(actor, self.w.n_actors - 1)
        k = self.w.ip_count[a]
        j = np.minimum((self.rng.random(len(a)) ** 2 * k).astype(np.int64), k - 1)
        j = np.where(actor == 0, self.rng.integers(0, k), j)  # the many-IP user uses all evenly
        return self.w.ip_table[a, j]

    def port(self, n: int) -> pa.Array:
        body = np.empty((n, 5), np.uint8)
        _put_digits(body, 0, self.rng.integers(49152, 65536, n), 5)
        return _fixed(body)

    def parent(self, etype: str, builder: Callable[[_Ctx, int | None], _Frame]) -> _Frame:
        """The chunk's events of a parent type, or one unseen parent when the chunk has none."""
        f = self.frames.get(etype)
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
    ) -> _Frame:
        """A frame with the common keys (ei, event, uid, time, cluster_name) and the actor."""
        hidden = n is not None
        n = n if hidden else self.n(etype)
        if times is not None:
            n = len(times)
        f = _Frame(etype, n)
        if user:
            f.actor = actor if actor is not None else self.actors(n, bot_share)
        if times is None:
            flat = flat | (self.is_bot(f.actor) if f.actor is not None else False)
            times = self.times(etype, flat, n if hidden else None)
        f.times = np.asarray(times, np.int64)
        f.uid = _uuid_bytes(self.rng, n)
        o = f.obj
        o.const("event", etype)
        o.const("cluster_name", CLUSTER_NAME)
        o.const("ei", 0, keep=True)
        o.fixed("uid", f.uid)
        o.time("time", f.times)
        if f.actor is not None:
            o.pick("user", self.w.names, f.actor)
        return f

    def status(self, f: _Frame, ok: np.ndarray, code_ok: str, code_fail: str, errors=()) -> None:
        """code, success (always written, as Teleport does) and an error on failures."""
        idx = (~ok).astype(np.int32)
        f.obj.pick("code", [code_ok, code_fail], idx)
        f.obj.pick("success", [True, False], idx, keep=True)
        if errors:
            f.obj.pick("error", list(errors), self.rng.integers(0, len(errors), f.n), ok)

    def code(self, f: _Frame, code: str) -> None:
        f.obj.const("code", code)

    def user_meta(self, f: _Frame, sec: dict[str, np.ndarray] | None) -> None:
        """access_requests, impersonator, trusted_device, with_mfa after the security flags."""
        if sec is None:
            return
        n, a, o = f.n, f.actor, f.obj
        o.pick("access_requests", self.w.request_ids, self.rng.integers(0, 32, n), ~sec["ar"])
        imp_names = ["admin-annie", "ops-oscar", *_BOTS]
        imp = np.where(self.is_bot(a), a - self.w.n_humans + 2, (a == 0).astype(np.int64))
        o.pick("impersonator", imp_names, imp, ~sec["imp"])
        o.pick("trusted_device", self.w.device, np.minimum(a, self.w.n_actors - 1), ~sec["td"])
        o.pick("with_mfa", self.w.mfa, np.minimum(a, self.w.n_actors - 1), ~sec["mfa"])

    def remote(self, f: _Frame, ip: np.ndarray | None = None, key="addr.remote") -> np.ndarray:
        if ip is None:
            ip = self.ip_index(f.actor)
        ips = _take(pa.array(self.w.ips), ip)
        f.obj.frags[key] = pc.binary_join_element_wise(
            pa.scalar(f',"{key}":"'), ips, pa.scalar(":"), self.port(f.n), pa.scalar('"'), ""
        )
        return ip

    def node(self, f: _Frame, node: np.ndarray, omit=None) -> None:
        o = f.obj
        o.pick("server_id", self.w.node_id, node, omit)
        o.pick("server_hostname", self.w.node_host, node, omit)
        o.pick("addr.local", self.w.node_addr, node, omit)
        o.pick("server_labels", self.w.node_labels, node, omit)

    def session_keys(self, f: _Frame, sid: np.ndarray | None = None) -> None:
        f.sid = _uuid_bytes(self.rng, f.n) if sid is None else sid
        f.obj.fixed("sid", f.sid)
        f.obj.const("private_key_policy", "none")

    # ---- assembling the chunk ----
    def build(self) -> pa.Table:
        frames = []
        for etype, builder in _BUILDERS.items():
            n = self.n(etype)
            if n == 0:
                continue
            f = builder(self, None)
            f.data = f.obj.render()
            f.obj = _Obj(0)  # free the fragments now: memory stays near one chunk's JSON
            self.frames[etype] = f
            frames.append(f)
        table = _to_table(self.w, frames)
        self.frames.clear()
        return table


def _to_table(world: _World, frames: list[_Frame]) -> pa.Table:
    """The store's columns from the frames, sorted by event time (ties keep build order)."""
    users_vocab = pa.array([*world.names, ""])
    cols: dict[str, list] = {
        k: [] for k in ("uid", "session_id", "event_type", "event_time", "event_data", "user")
    }
    for f in frames:
        cols["uid"].append(_fixed(f.uid))
        cols["session_id"].append(
            _fixed(f.sid) if f.sid is not None else _fixed(np.empty((f.n, 0), np.uint8))
        )
        cols["event_type"].append(_take(pa.array([f.etype]), np.zeros(f.n, np.int32)))
        cols["event_time"].append(pa.array(f.times, pa.timestamp("ms", tz="UTC")))
        cols["event_data"].append(f.data)
        user = f.actor if f.actor is not None else np.full(f.n, len(world.names))
        cols["user"].append(_take(users_vocab, user))
    table = pa.table({k: pa.chunked_array(v, _store.SCHEMA.field(k).type) for k, v in cols.items()})
    times = np.concatenate([f.times for f in frames])
    order = np.argsort(times, kind="stable")
    return table.take(pa.array(order)).combine_chunks()


# --------------------------------------------------------------------------------------------
# Builders, one per event type (parents before children)
# --------------------------------------------------------------------------------------------


def _session_start(cx: _Ctx, n: int | None) -> _Frame:
    f = cx.start("session.start", n, bot_share=0.08)
    n, o, w = f.n, f.obj, cx.w
    kube = cx.chance(KUBE_SESSION_SHARE, n)
    root = ~kube & cx.chance(ROOT_LOGIN_RATE, n)
    sec = cx.security(f.actor)
    cx.user_meta(f, sec)
    cx.code(f, "T2000I")
    node, cluster = _on_host(cx, o, w, f, kube, n)
    logins = [*_LOGINS, "root", *w.names]
    own = len(_LOGINS) + 1 + f.actor
    login = np.where(cx.chance(0.4, n), own, cx.rng.integers(0, len(_LOGINS), n))
    login = np.where(root, len(_LOGINS), login)
    login = np.where(kube, own, login)
    o.pick("login", logins, login)
    o.pick("proto", ["ssh", "kube"], kube.astype(np.int32))
    o.const("namespace", "default")
    o.const("session_recording", "node")
    o.pick("size", ["80:25", "120:40", "200:50", "237:63"], cx.rng.integers(0, 4, n), kube)
    cmd = [["uptime"], ["bash", "-lc", "tail -f /var/log/app.log"], ["htop"]]
    o.pick("initial_command", cmd, cx.rng.integers(0, 3, n), kube | ~cx.chance(0.1, n))
    cx.session_keys(f)
    # Kubernetes session details
    groups = [*_KUBE_GROUPS_MASTERS, *_KUBE_GROUPS_OTHER]
    g = np.where(
        cx.chance(SYSTEM_MASTERS_RATE, n),
        cx.rng.integers(0, 2, n),
        2 + cx.rng.integers(0, len(_KUBE_GROUPS_OTHER), n),
    )
    pod = cx.rng.integers(0, len(w.pods), n)
    o.pick("kubernetes_cluster", _KUBE_CLUSTERS, cluster, ~kube)
    o.pick("kubernetes_groups", groups, g, ~kube)
    o.pick("kubernetes_users", [[x] for x in w.names], f.actor, ~kube)
    o.pick("kubernetes_pod_name", [p[0] for p in w.pods], pod, ~kube)
    o.pick("kubernetes_pod_namespace", [p[1] for p in w.pods], pod, ~kube)
    o.pick("kubernetes_container_name", [p[2] for p in w.pods], pod, ~kube)
    o.pick("kubernetes_container_image", [p[3] for p in w.pods], pod, ~kube)
    o.pick(
        "kubernetes_node_name", [f"ip-10-1-{i}-17.ec2.internal" for i in range(7)], pod % 7, ~kube
    )
    f.extra.update(kube=kube, node=node, login=login, logins=logins, sec=sec)
    return f


def _child_of(
    cx: _Ctx, etype: str, parent: _Frame, pick: np.ndarray, lo: int, hi: int, *, actor=None
) -> _Frame:
    times = cx.after(parent.times[pick], lo, hi)
    return cx.start(etype, None, actor=parent.actor[pick] if actor is None else actor, times=times)


def _session_command(cx: _Ctx, n: int | None) -> _Frame:
    p = cx.parent("session.start", _session_start)
    ssh = np.flatnonzero(~p.extra["kube"])
    if len(ssh) == 0:
        p, ssh = _session_start(cx, 1), np.array([0])
        p.extra["kube"][:] = False
    m = cx.n("session.command") if n is None else n
    pick = ssh[cx.rng.integers(0, len(ssh), m)]
    f = _child_of(cx, "session.command", p, pick, 1_000, 2 * _HOUR_MS)
    o, m = f.obj, f.n
    cx.code(f, "T4000I")
    o.int("ei", cx.rng.integers(1, 2000, m), keep=True)
    o.fixed("sid", p.sid[pick])
    f.sid = p.sid[pick]
    cx.node(f, p.extra["node"][pick])
    o.frags.pop("addr.local")
    o.pick("login", p.extra["logins"], p.extra["login"][pick])
    o.const("namespace", "default")
    prog = cx.rng.integers(0, len(_PROGRAMS), m)
    o.pick("program", [x[0] for x in _PROGRAMS], prog)
    o.pick("path", [x[1] for x in _PROGRAMS], prog)
    o.pick("argv", [x[2] for x in _PROGRAMS], prog)
    o.int("pid", cx.rng.integers(1000, 65000, m))
    o.int("ppid", cx.rng.integers(100, 1000, m))
    o.int("cgroup_id", cx.rng.integers(4_000, 9_000, m))
    o.int("return_code", np.where(cx.chance(0.06, m), 1, 0))
    cx.user_meta(f, {k: v[pick] for k, v in p.extra["sec"].items()})
    o.const("private_key_policy", "none")
    return f


def _session_join(cx: _Ctx, n: int | None) -> _Frame:
    p = cx.parent("session.start", _session_start)
    m = cx.n("session.join") if n is None else n
    pick = cx.rng.integers(0, p.n, m)
    joiner = cx.actors(m, 0.0)
    f = _child_of(cx, "session.join", p, pick, 5_000, _HOUR_MS, actor=joiner)
    o = f.obj
    cx.code(f, "T2001I")
    o.int("ei", cx.rng.integers(1, 50, m), keep=True)
    kube = p.extra["kube"][pick]
    o.pick("proto", ["ssh", "kube"], kube.astype(np.int32))
    o.fixed("sid", p.sid[pick])
    f.sid = p.sid[pick]
    cx.node(f, p.extra["node"][pick], kube)
    o.pick("login", [*cx.w.names], joiner)
    o.pick("kubernetes_cluster", _KUBE_CLUSTERS, cx.rng.integers(0, 3, m), ~kube)
    o.const("namespace", "default")
    cx.remote(f)
    cx.user_meta(f, cx.security(joiner))
    return f


def _exec(cx: _Ctx, n: int | None) -> _Frame:
    f = cx.start("exec", n, bot_share=0.15)
    n, o, w = f.n, f.obj, cx.w
    kube = cx.chance(KUBE_EXEC_SHARE, n)
    passwd = ~kube & cx.chance(ETC_PASSWD_RATE, n)
    fail = cx.chance(EXEC_FAILURE_RATE, n)
    f.obj.pick("code", ["T3002I", "T3002E"], fail.astype(np.int32))
    cmds = [*_SSH_COMMANDS, *_PASSWD_COMMANDS, *_KUBE_COMMANDS]
    c = cx.rng.integers(0, len(_SSH_COMMANDS), n)
    c = np.where(passwd, len(_SSH_COMMANDS) + cx.rng.integers(0, len(_PASSWD_COMMANDS), n), c)
    k0 = len(_SSH_COMMANDS) + len(_PASSWD_COMMANDS)
    c = np.where(kube, k0 + cx.rng.integers(0, len(_KUBE_COMMANDS), n), c)
    o.pick("command", cmds, c)
    code = np.where(fail, cx.rng.choice([1, 2, 127, 130], n), 0)
    which = np.searchsorted([0, 1, 2, 127, 130], code)
    o.pick("exitCode", ["0", "1", "2", "127", "130"], which)
    o.pick("exitError", ["", *(f"exit status {c}" for c in (1, 2, 127, 130))], which)
    o.pick("proto", ["ssh", "kube"], kube.astype(np.int32))
    _node, cluster = _on_host(cx, o, w, f, kube, n)
    logins = [*_LOGINS, "root", *w.names]
    login = np.where(cx.chance(0.5, n), len(_LOGINS) + 1 + f.actor, cx.rng.integers(0, 5, n))
    o.pick("login", logins, login)
    o.const("namespace", "default")
    cx.session_keys(f)
    cx.user_meta(f, cx.security(f.actor))
    groups = [*_KUBE_GROUPS_MASTERS, *_KUBE_GROUPS_OTHER]
    pod = cx.rng.integers(0, len(w.pods), n)
    o.pick("kubernetes_cluster", _KUBE_CLUSTERS, cluster, ~kube)
    o.pick("kubernetes_groups", groups, cx.rng.integers(0, len(groups), n), ~kube)
    o.pick("kubernetes_users", [[x] for x in w.names], f.actor, ~kube)
    o.pick("kubernetes_pod_name", [p[0] for p in w.pods], pod, ~kube)
    o.pick("kubernetes_pod_namespace", [p[1] for p in w.pods], pod, ~kube)
    o.pick("kubernetes_container_name", [p[2] for p in w.pods], pod, ~kube)
    o.pick("kubernetes_container_image", [p[3] for p in w.pods], pod, ~kube)
    return f


def _kube_request(cx: _Ctx, n: int | None) -> _Frame:
    f = cx.start("kube.request", n, bot_share=0.25)
    n, o, w = f.n, f.obj, cx.w
    cx.code(f, "T3009I")
    cx.user_meta(f, cx.security(f.actor))
    cluster = cx.rng.choice(len(_KUBE_CLUSTERS), n, p=[0.6, 0.25, 0.15])
    o.pick("kubernetes_cluster", _KUBE_CLUSTERS, cluster)
    groups = [*_KUBE_GROUPS_MASTERS, *_KUBE_GROUPS_OTHER]
    g = np.where(
        cx.chance(SYSTEM_MASTERS_RATE, n),
        cx.rng.integers(0, 2, n),
        2 + cx.rng.integers(0, len(_KUBE_GROUPS_OTHER), n),
    )
    o.pick("kubernetes_groups", groups, g)
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


def _db_session_start(cx: _Ctx, n: int | None) -> _Frame:
    f = cx.start("db.session.start", n, bot_share=0.15)
    n, o, w = f.n, f.obj, cx.w
    denied = cx.chance(DB_DENIED_RATE, n)
    cx.status(
        f,
        ~denied,
        "TDB00I",
        "TDB00W",
        ["access to db denied. User does not have permissions. Confirm database user and name."],
    )
    o.pick("message", ["", "access to db denied"], denied.astype(np.int32))
    sec = cx.security(f.actor)
    cx.user_meta(f, sec)
    superuser = cx.chance(POSTGRES_SUPERUSER_RATE, n)
    db = cx.rng.choice(len(_DATABASES), n, p=_DB_WEIGHTS / _DB_WEIGHTS.sum())
    pg = np.array([i for i, d in enumerate(_DATABASES) if d[1] == "postgres"])
    db = np.where(superuser, pg[cx.rng.integers(0, len(pg), n)], db)
    # database users: each database's own, then "postgres" (planted)
    users = [u for d in _DATABASES for u in d[6]]
    first = np.cumsum([0, *[len(d[6]) for d in _DATABASES]])
    counts = np.array([len(d[6]) for d in _DATABASES])
    du = first[db] + (cx.rng.random(n) * counts[db]).astype(np.int64)
    du = np.where(superuser, len(users), du)
    o.pick("db_user", [*users, "postgres"], du)
    names = [x for d in _DATABASES for x in d[5]]
    nfirst = np.cumsum([0, *[len(d[5]) for d in _DATABASES]])
    ncounts = np.array([len(d[5]) for d in _DATABASES])
    dn = nfirst[db] + (cx.rng.random(n) * ncounts[db]).astype(np.int64)
    o.pick("db_name", names, dn)
    o.pick("db_service", [d[0] for d in _DATABASES], db)
    o.pick("db_protocol", [d[1] for d in _DATABASES], db)
    o.pick("db_uri", [d[2] for d in _DATABASES], db)
    o.pick("db_type", [d[3] for d in _DATABASES], db)
    o.pick("db_aws_region", [d[4] for d in _DATABASES], db)
    o.pick("db_origin", ["config", "dynamic"], (db % 2).astype(np.int32))
    agent = db % 2
    o.pick("server_id", w.db_id, agent)
    o.pick("server_hostname", w.db_host, agent)
    o.const("namespace", "default")
    o.const("proto", "db")
    cx.remote(f)
    o.const("addr.local", "10.0.3.15:3080")
    cx.session_keys(f)
    f.extra.update(
        db=db, du=du, dn=dn, denied=denied, sec=sec, users=[*users, "postgres"], names=names
    )
    return f


def _db_query(cx: _Ctx, n: int | None, etype: str = "db.session.query") -> _Frame:
    p = cx.parent("db.session.start", _db_session_start)
    okp = np.flatnonzero(~p.extra["denied"])
    if len(okp) == 0:
        okp = np.arange(p.n)
    m = cx.n(etype) if n is None else n
    pick = okp[cx.rng.integers(0, len(okp), m)]
    f = _child_of(cx, etype, p, pick, 200, _HOUR_MS)
    o, db = f.obj, p.extra["db"][pick]
    failed = etype.endswith("failed")
    o.int("ei", cx.rng.integers(1, 5000, m), keep=True)
    proto = [d[1] for d in _DATABASES]
    queries = [q for d in _DATABASES for q in _QUERIES[d[1]]]
    qfirst = np.cumsum([0, *[len(_QUERIES[d[1]]) for d in _DATABASES]])
    qcount = np.array([len(_QUERIES[d[1]]) for d in _DATABASES])
    o.pick("db_query", queries, qfirst[db] + (cx.rng.random(m) * qcount[db]).astype(np.int64))
    if failed:
        cx.status(f, np.zeros(m, bool), "TDB02I", "TDB02W")
        o.pick("error", [_QUERY_ERRORS[x] for x in proto], db)
    else:
        o.const("code", "TDB02I")
        o.const("success", True)
    o.pick("db_user", p.extra["users"], p.extra["du"][pick])
    o.pick("db_name", p.extra["names"], p.extra["dn"][pick])
    o.pick("db_service", [d[0] for d in _DATABASES], db)
    o.pick("db_protocol", proto, db)
    o.pick("db_uri", [d[2] for d in _DATABASES], db)
    o.pick("db_type", [d[3] for d in _DATABASES], db)
    o.pick("db_aws_region", [d[4] for d in _DATABASES], db)
    o.fixed("sid", p.sid[pick])
    f.sid = p.sid[pick]
    cx.user_meta(f, {k: v[pick] for k, v in p.extra["sec"].items()})
    return f


def _db_query_failed(cx: _Ctx, n: int | None) -> _Frame:
    return _db_query(cx, n, "db.session.query.failed")


def _cert_create(cx: _Ctx, n: int | None) -> _Frame:
    f = cx.start("cert.create", n, bot_share=0.30)
    n, o, w, a = f.n, f.obj, cx.w, f.actor
    del o.frags["user"]  # cert.create keeps its user inside identity
    cx.code(f, "TC000I")
    o.const("cert_type", "user")
    bot = cx.is_bot(a)
    long = cx.chance(LONG_CERT_RATE, n)
    short_h = np.where(bot, cx.rng.choice([1, 1, 4], n), cx.rng.choice([1, 8, 8, 12, 12, 12], n))
    long_h = cx.rng.choice([26, 30, 72, 7 * 24, 30 * 24], n)
    ttl_ms = np.where(long, long_h, short_h) * _HOUR_MS - cx.rng.integers(0, 60_000, n)
    sub_ns = cx.rng.integers(0, 1_000_000, n)
    i = _Obj(n)
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
    i.text("client_ip", _take(pa.array(w.ips), ip))
    kind = cx.rng.choice(3, n, p=[0.6, 0.2, 0.2])  # plain, kube, database
    kube, dbc = kind == 1, kind == 2
    i.pick("kubernetes_cluster", _KUBE_CLUSTERS, cx.rng.integers(0, 3, n), ~kube)
    groups = [*_KUBE_GROUPS_MASTERS, *_KUBE_GROUPS_OTHER]
    i.pick("kubernetes_groups", groups, cx.rng.integers(0, len(groups), n), ~kube)
    i.pick("kubernetes_users", [[x] for x in w.names], a, ~kube)
    db = cx.rng.integers(0, len(_DATABASES), n)
    route = [
        {"database": d[5][0], "protocol": d[1], "service_name": d[0], "username": d[6][0]}
        for d in _DATABASES
    ]
    i.pick("route_to_database", route, db, ~dbc)
    i.pick("database_names", [list(d[5]) for d in _DATABASES], db, ~dbc)
    i.pick("database_users", [list(d[6]) for d in _DATABASES], db, ~dbc)
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


def _user_login(cx: _Ctx, n: int | None) -> _Frame:
    f = cx.start("user.login", n, bot_share=0.0)
    n, o, w = f.n, f.obj, cx.w
    fail = cx.chance(LOGIN_FAILURE_RATE, n)
    stranger = fail & cx.chance(0.3, n)
    f.actor = np.where(stranger, w.stranger0 + cx.rng.integers(0, len(_STRANGERS), n), f.actor)
    o.pick("user", w.names, f.actor)
    a = np.minimum(f.actor, w.n_actors - 1)
    method = np.array([w.method[x] if x < w.n_humans else "local" for x in range(w.n_actors)])[a]
    method = np.where(stranger, "local", method)
    sso = method != "local"
    o.pick("method", ["local", "saml"], sso.astype(np.int32))
    code = np.where(sso, 2, 0) + fail
    o.pick("code", ["T1000I", "T1000W", "T1001I", "T1001W"], code)
    o.pick("success", [True, False], fail.astype(np.int32), keep=True)
    errors = [
        "invalid username, password or second factor",
        "access denied: user is locked",
        'user(name="admin") not found',
    ]
    err = np.where(stranger, 2, cx.rng.choice([0, 0, 0, 1], n))
    o.pick("error", errors, err, ~fail)
    mfa = ~fail & ~sso
    dev = [
        {"mfa_device_name": "yubikey", "mfa_device_type": "WebAuthn", "mfa_device_uuid": m}
        if m
        else {}
        for m in w.mfa
    ]
    o.pick("mfa_device", [*dev, *([{}] * len(_STRANGERS))], f.actor, ~mfa)
    ip = np.where(stranger, w.stranger_ip0 + cx.rng.integers(0, 8, n), cx.ip_index(a))
    cx.remote(f, ip)
    o.pick("user_agent", _USER_AGENTS, cx.rng.integers(0, len(_USER_AGENTS), n))
    return f


def _auth(cx: _Ctx, n: int | None) -> _Frame:
    f = cx.start("auth", n, bot_share=0.05)
    n, o, w = f.n, f.obj, cx.w
    cx.status(
        f,
        np.zeros(n, bool),
        "T3007I",
        "T3007W",
        [
            'ssh: principal "root" not in the set of valid principals for given certificate',
            "ssh: cert has expired",
            "access denied to alice connecting to web-01",
            "ssh: handshake failed: EOF",
        ],
    )
    o.pick("login", [*_LOGINS, "root"], cx.rng.integers(0, 5, n))
    o.const("proto", "ssh")
    cx.remote(f)
    node = cx.rng.choice(len(w.node_id), n, p=w.node_p)
    o.pick("addr.local", w.node_addr, node)
    return f


def _session_rejected(cx: _Ctx, n: int | None) -> _Frame:
    f = cx.start("session.rejected", n, bot_share=0.05)
    n, o, w = f.n, f.obj, cx.w
    cx.code(f, "T1006W")
    reasons = [
        "max number of concurrent sessions reached",
        'lock targeting User:"mallory" is in force',
        "session requires MFA but the user has no MFA device",
    ]
    r = cx.rng.integers(0, 3, n)
    o.pick("reason", reasons, r)
    o.int("max", np.where(r == 0, 5, 0))
    cx.node(f, cx.rng.choice(len(w.node_id), n, p=w.node_p))
    cx.remote(f)
    o.pick("login", [*_LOGINS, "root"], cx.rng.integers(0, 5, n))
    o.const("namespace", "default")
    o.const("proto", "ssh")
    return f


def _access_request_create(cx: _Ctx, n: int | None) -> _Frame:
    f = cx.start("access_request.create", n)
    n, o = f.n, f.obj
    cx.code(f, "T5000I")
    rid = _uuid_bytes(cx.rng, n)
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
        + [[{"cluster": CLUSTER_NAME, "kind": "db", "name": d[0]}] for d in _DATABASES]
        + [[{"cluster": CLUSTER_NAME, "kind": "kube_cluster", "name": c}] for c in _KUBE_CLUSTERS]
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
    o.time("expires", f.times + cx.rng.choice([1, 4, 8], n) * _HOUR_MS)
    o.time("max_duration", f.times + cx.rng.choice([8, 24], n) * _HOUR_MS)
    f.extra.update(roles=roles, rid=rid)
    return f


def _access_request_review(cx: _Ctx, n: int | None) -> _Frame:
    p = cx.parent("access_request.create", _access_request_create)
    w = cx.w
    m = cx.n("access_request.review") if n is None else n
    pick = cx.rng.integers(0, p.n, m)
    # the reviewer is someone else, an admin when possible
    reviewer = cx.admins(m)
    same = reviewer == p.actor[pick]
    reviewer = np.where(same, (reviewer + 1) % w.n_humans, reviewer)
    f = _child_of(cx, "access_request.review", p, pick, 30_000, 3 * _HOUR_MS, actor=reviewer)
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


def _bot_join(cx: _Ctx, n: int | None) -> _Frame:
    f = cx.start("bot.join", n, user=False, flat=True)
    n, o = f.n, f.obj
    fail = cx.chance(0.03, n)
    cx.status(f, ~fail, "TJ001I", "TJ001E", ["token expired or not found"])
    b = cx.rng.integers(0, len(_BOTS), n)
    o.pick("bot_name", [x.removeprefix("bot-") for x in _BOTS], b)
    o.pick("method", ["github", "kubernetes", "token", "iam"], b % 4)
    o.pick("token_name", ["github-ci", "argocd-k8s", "backup-token", "terraform-iam"], b % 4)
    return f


def _instance_join(cx: _Ctx, n: int | None) -> _Frame:
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
    short = cx.rng.integers(5 * 60_000, 4 * _HOUR_MS, n)
    lng = cx.rng.choice([2, 7, 30, 365], n) * _DAY_MS + cx.rng.integers(0, _HOUR_MS, n)
    o.time("token_expires", f.times + np.where(long, lng, short))
    return f


def _desktop_start(cx: _Ctx, n: int | None) -> _Frame:
    f = cx.start("windows.desktop.session.start", n)
    n, o, w = f.n, f.obj, cx.w
    fail = cx.chance(0.05, n)
    cx.status(f, ~fail, "TDP00I", "TDP00W", ["access denied", "desktop is not reachable"])
    d = cx.rng.integers(0, len(_DESKTOPS), n)
    o.pick("desktop_name", _DESKTOPS, d)
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


def _desktop_end(cx: _Ctx, n: int | None) -> _Frame:
    p = cx.parent("windows.desktop.session.start", _desktop_start)
    m = cx.n("windows.desktop.session.end") if n is None else n
    pick = cx.rng.integers(0, p.n, m)
    f = _child_of(cx, "windows.desktop.session.end", p, pick, 60_000, 3 * _HOUR_MS)
    o, w = f.obj, cx.w
    cx.code(f, "TDP01I")
    d = p.extra["d"][pick]
    o.pick("desktop_name", _DESKTOPS, d)
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


def _device(cx: _Ctx, n: int | None, etype: str, code: str) -> _Frame:
    f = cx.start(etype, n)
    n, o, w = f.n, f.obj, cx.w
    fail = cx.chance(0.03, n)
    cx.status(f, ~fail, code, code, ["device not enrolled", "device authentication failed"])
    o.pick("device", w.device, f.actor)
    o.pick("trusted_device", w.device, f.actor, fail | (etype == "device.enroll"))
    return f


def _device_authenticate(cx: _Ctx, n: int | None) -> _Frame:
    return _device(cx, n, "device.authenticate", "TV006I")


def _device_enroll(cx: _Ctx, n: int | None) -> _Frame:
    return _device(cx, n, "device.enroll", "TV005I")


def _saml_idp(cx: _Ctx, n: int | None) -> _Frame:
    f = cx.start("saml.idp.auth", n)
    n, o = f.n, f.obj
    fail = cx.chance(0.04, n)
    cx.status(f, ~fail, "TSI000I", "TSI000I", ["user does not have access to this app"])
    app = cx.rng.integers(0, len(_SAML_APPS), n)
    o.pick("service_provider_entity_id", [x[0] for x in _SAML_APPS], app)
    o.pick("service_provider_shortcut", [x[1] for x in _SAML_APPS], app)
    cx.session_keys(f)
    o.frags.pop("private_key_policy")
    return f


def _access_list(cx: _Ctx, n: int | None, etype: str, code: str) -> _Frame:
    f = cx.start(etype, n, actor=cx.admins(cx.n(etype) if n is None else n))
    n, o, w = f.n, f.obj, cx.w
    del o.frags["user"]  # access list events name their actor in updated_by only
    fail = cx.chance(0.03, n)
    cx.status(f, ~fail, code + "I", code + "E", ["access denied"])
    al = cx.rng.integers(0, len(_ACCESS_LISTS), n)
    o.pick("name", w.access_list_id, al)
    o.pick("updated_by", w.names, f.actor)
    if ".member." in etype:
        o.pick("access_list_name", w.access_list_id, al)
        member = cx.actors(n, 0.0)
        sub = _Obj(n)
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
        o.fixed("review_id", _uuid_bytes(cx.rng, n))
        o.pick("removed_members", [[x] for x in w.names], cx.actors(n, 0.0), ~cx.chance(0.3, n))
        o.pick("review_frequency_changed", ["", "3 months", "6 months"], cx.rng.integers(0, 3, n))
    f.extra["updated_by"] = f.actor
    f.actor = None  # no top-level user: the store's user column is ""
    return f


def _builder_access_list(etype: str, code: str) -> Callable[[_Ctx, int | None], _Frame]:
    return lambda cx, n: _access_list(cx, n, etype, code)


def _admin_event(cx: _Ctx, n: int | None, etype: str, code: str) -> _Frame:
    """Events an administrator causes: tokens, locks, users."""
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
        o.time("expires", f.times + cx.rng.choice([1, 24, 24 * 30], n) * _HOUR_MS)
        o.pick("updated_by", w.names, f.actor)
    elif etype == "lock.created":
        o.fixed("name", _uuid_bytes(cx.rng, n))
        kind = cx.rng.integers(0, 3, n)
        t = _Obj(n)
        t.pick("user", w.names, target, kind != 0)
        t.pick("node", w.node_id, cx.rng.integers(0, len(w.node_id), n), kind != 1)
        t.pick("role", ["contractor", "root-access"], cx.rng.integers(0, 2, n), kind != 2)
        o.obj("target", t)
        o.time("expires", f.times + 24 * _HOUR_MS, valid=cx.chance(0.5, n))
        o.pick("updated_by", w.names, f.actor)
    elif etype == "lock.deleted":
        o.fixed("name", _uuid_bytes(cx.rng, n))
    elif etype == "reset_password_token.create":
        o.pick("name", w.names, target)
        o.const("ttl", "8h0m0s")
    elif etype == "user.create":
        o.pick("name", [f"new-{x}" for x in w.names], target)
        o.pick("roles", [["access"], ["access", "dev"], ["auditor"]], cx.rng.integers(0, 3, n))
        o.pick("connector", ["local", "saml"], cx.rng.integers(0, 2, n))
        o.pick("updated_by", w.names, f.actor)
    return f


def _builder_admin(etype: str, code: str) -> Callable[[_Ctx, int | None], _Frame]:
    return lambda cx, n: _admin_event(cx, n, etype, code)


def _self_event(cx: _Ctx, n: int | None, etype: str) -> _Frame:
    f = cx.start(etype, n)
    if etype == "recovery_code.used":
        fail = cx.chance(0.2, f.n)
        cx.status(f, ~fail, "T1009I", "T1009W", ["invalid recovery code"])
    else:
        cx.code(f, "T1005I")
    return f


_BUILDERS: dict[str, Callable[[_Ctx, int | None], _Frame]] = {
    "session.start": _session_start,
    "session.command": _session_command,
    "session.join": _session_join,
    "exec": _exec,
    "kube.request": _kube_request,
    "db.session.start": _db_session_start,
    "db.session.query": _db_query,
    "db.session.query.failed": _db_query_failed,
    "cert.create": _cert_create,
    "user.login": _user_login,
    "auth": _auth,
    "session.rejected": _session_rejected,
    "access_request.create": _access_request_create,
    "access_request.review": _access_request_review,
    "bot.join": _bot_join,
    "instance.join": _instance_join,
    "windows.desktop.session.start": _desktop_start,
    "windows.desktop.session.end": _desktop_end,
    "device.authenticate": _device_authenticate,
    "device.enroll": _device_enroll,
    "saml.idp.auth": _saml_idp,
    "access_list.create": _builder_access_list("access_list.create", "TAL001"),
    "access_list.update": _builder_access_list("access_list.update", "TAL002"),
    "access_list.delete": _builder_access_list("access_list.delete", "TAL003"),
    "access_list.review": _builder_access_list("access_list.review", "TAL004"),
    "access_list.member.create": _builder_access_list("access_list.member.create", "TAL005"),
    "access_list.member.update": _builder_access_list("access_list.member.update", "TAL006"),
    "access_list.member.delete": _builder_access_list("access_list.member.delete", "TAL007"),
    "join_token.create": _builder_admin("join_token.create", "TJT00I"),
    "lock.created": _builder_admin("lock.created", "TLK00I"),
    "lock.deleted": _builder_admin("lock.deleted", "TLK01I"),
    "reset_password_token.create": _builder_admin("reset_password_token.create", "T6000I"),
    "user.create": _builder_admin("user.create", "T1002I"),
    "recovery_code.used": lambda cx, n: _self_event(cx, n, "recovery_code.used"),
    "user.password_change": lambda cx, n: _self_event(cx, n, "user.password_change"),
}


def _on_host(cx, o, w, f, kube, n):
    """Where a session or command ran: ssh on a node, kube on the cluster's agent."""
    node = cx.rng.choice(len(w.node_id), n, p=w.node_p)
    cluster = cx.rng.integers(0, len(_KUBE_CLUSTERS), n)
    host = np.where(kube, len(w.node_id) + cluster, node)
    o.pick("server_id", [*w.node_id, *w.kube_id], host)
    o.pick("server_hostname", [*w.node_host, *w.kube_host], host)
    o.pick("addr.local", [*w.node_addr, *w.kube_addr], host)
    o.pick("server_labels", w.node_labels, node, kube)
    cx.remote(f)
    return node, cluster
