"""The nine Privileged Access Report queries, run verbatim, against plain Python.

A few hundred random events (fixed seed) with every relevant key randomly present or
absent, as Teleport omits empty values; each report's rows must equal, as a multiset,
what a direct reading of the same event dicts gives under Athena's semantics.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable

import pytest

from accessmon.window import Window

from ..conftest import build_store, session_for
from ..sql.test_seed_queries import (
    R_DB_WEAK,
    R_KUBE_EXEC,
    R_KUBE_WEAK,
    R_LONG_CERTS,
    R_LONG_TOKENS,
    R_MASTERS,
    R_POSTGRES,
    R_ROOT,
    R_SSH_WEAK,
)

FIRST_DAY = dt.date(2024, 3, 16)
DAYS = 5
N_EVENTS = 400
USERS = ["alice", "bob", "carol", "dave", "erin", "admin-annie", "bot-ci"]
NODES = [("node-1", "h-1"), ("node-2", "h-2"), ("node-3", "h-3"), ("db-proxy", "h-4")]
TTLS = [
    dt.timedelta(hours=1),
    dt.timedelta(hours=12),
    dt.timedelta(days=1),
    dt.timedelta(hours=30),
    dt.timedelta(days=3),
    dt.timedelta(days=7),
]


# -- generating events ------------------------------------------------------------------------


def rfc3339(t: dt.datetime, digits: int = 3, rng: random.Random | None = None) -> str:
    """Teleport's text of a UTC time at millisecond `t`, with 0, 3 or 9 fraction digits;
    the 9-digit form adds random sub-millisecond digits, like Go's time.RFC3339Nano."""
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    if digits == 0:
        return base + "Z"
    ms = f"{t.microsecond // 1000:03d}"
    if digits == 3:
        return f"{base}.{ms}Z"
    return f"{base}.{ms}{(rng or random.Random(0)).randrange(10**6):06d}Z"


def generate(rng: random.Random) -> list[dict]:
    types = [
        "db.session.start",
        "session.start",
        "kube.request",
        "exec",
        "cert.create",
        "instance.join",
    ]
    start = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC)
    events = []
    for i in range(N_EVENTS):
        kind = types[i % len(types)]
        # times cluster near midnight now and then, to test the UTC partition date
        if rng.random() < 0.1:
            offset = dt.timedelta(days=rng.randrange(DAYS), hours=23, minutes=59, seconds=59)
            offset += dt.timedelta(microseconds=rng.randrange(1_000_000))
        else:
            offset = dt.timedelta(seconds=rng.uniform(0, DAYS * 86400 - 1))
        when = start + offset
        when = when.replace(microsecond=when.microsecond // 1000 * 1000)
        e: dict = {
            "ei": 0,
            "event": kind,
            "uid": f"{kind}-{i}",
            "time": rfc3339(when),
            "cluster_name": "teleport.example.com",
        }
        if kind == "cert.create":
            identity = {"user": rng.choice(USERS), "roles": ["access"]}
            if rng.random() < 0.9:
                expires = (
                    when
                    + rng.choice(TTLS)
                    + dt.timedelta(milliseconds=rng.choice([-2, -1, 0, 0, 0, 1, 2]))
                )
                identity["expires"] = rfc3339(expires, rng.choice([0, 3, 9, 9]), rng)
            if rng.random() < 0.8:
                identity["client_ip"] = f"10.0.0.{rng.randrange(1, 5)}"
            e.update(cert_type="user", identity=identity)
        elif kind == "instance.join":
            node, host = rng.choice(NODES)
            e.update(node_name=node, host_id=host, role="Instance", method="token", success=True)
            if rng.random() < 0.9:
                expires = (
                    when + rng.choice(TTLS) + dt.timedelta(milliseconds=rng.choice([-1, 0, 0, 1]))
                )
                e["token_expires"] = rfc3339(expires, rng.choice([0, 3, 9]), rng)
            if rng.random() < 0.1:  # a join without a node name
                del e["node_name"]
        else:
            if rng.random() < 0.97:
                e["user"] = rng.choice(USERS)
            if rng.random() < 0.3:
                e["access_requests"] = [f"req-{rng.randrange(100)}"]
            if rng.random() < 0.25:
                e["with_mfa"] = f"mfa-{rng.randrange(10)}"
            if rng.random() < 0.15:
                e["impersonator"] = "admin"
            r = rng.random()
            if r < 0.15:
                e["trusted_device"] = {"device_id": f"dev-{rng.randrange(5)}", "os_type": 2}
            elif r < 0.2:  # a trusted device without an id still counts as none
                e["trusted_device"] = {"asset_tag": "C02XK1"}
            if kind == "db.session.start":
                e["db_protocol"] = rng.choice(["postgres", "postgres", "mysql", "mongodb"])
                if rng.random() < 0.9:
                    e["db_user"] = rng.choice(["postgres", "postgres", "reader", "root"])
                e["proto"] = "db"
            elif kind in ("session.start", "exec"):
                proto = rng.choice(["ssh", "ssh", "kube", None])
                if proto:
                    e["proto"] = proto
                if rng.random() < 0.9:
                    e["login"] = rng.choice(["root", "ubuntu", "ec2-user"])
                if kind == "exec":
                    e["command"] = rng.choice(["ls", "cat /etc/passwd", "sh"])
            elif kind == "kube.request":
                e["proto"] = "kube"
                groups = rng.choice(
                    [
                        None,
                        ["devs"],
                        ["system:masters"],
                        ["devs", "system:masters"],
                        ["system:master"],
                    ]
                )
                if groups:
                    e["kubernetes_groups"] = groups
        events.append(e)
    return events


# -- Athena's semantics, in Python ------------------------------------------------------------


def athena_ts(text: str | None) -> dt.datetime | None:
    """from_iso8601_timestamp: timestamp(3) with time zone, further digits dropped."""
    if text is None:
        return None
    head, _, frac = text.rstrip("Z").partition(".")
    ms = int((frac + "000")[:3]) if frac else 0
    return dt.datetime.fromisoformat(head).replace(tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)


def event_date(e: dict) -> dt.date:
    return athena_ts(e["time"]).date()


def longer_than_a_day(expires: str | None, time: str) -> bool:
    return expires is not None and athena_ts(expires) - athena_ts(time) > dt.timedelta(days=1)


def weak(e: dict) -> bool:
    return (
        "access_requests" not in e
        and "with_mfa" not in e
        and "impersonator" not in e
        and e.get("trusted_device", {}).get("device_id") is None
    )


def count_rows(events, kind: str, keep: Callable[[dict], bool], keys: Callable[[dict], tuple]):
    """GROUP BY event_date, keys ... -> (event_date, count, *keys) rows."""
    groups = Counter((event_date(e), *keys(e)) for e in events if e["event"] == kind and keep(e))
    return Counter((day, n, *rest) for (day, *rest), n in groups.items())


def user(e):
    return (e.get("user"),)


EXPECTED: dict[str, tuple[str, Callable[[list[dict]], Counter]]] = {
    "database_sessions_with_weak_security": (
        R_DB_WEAK,
        lambda ev: count_rows(ev, "db.session.start", weak, user),
    ),
    "ssh_sessions_with_weak_security": (
        R_SSH_WEAK,
        lambda ev: count_rows(
            ev, "session.start", lambda e: weak(e) and e.get("proto") == "ssh", user
        ),
    ),
    "kube_access_with_weak_security": (
        R_KUBE_WEAK,
        lambda ev: count_rows(ev, "kube.request", weak, user),
    ),
    "db_postgres_user": (
        R_POSTGRES,
        lambda ev: count_rows(
            ev,
            "db.session.start",
            lambda e: e.get("db_protocol") == "postgres" and e.get("db_user") == "postgres",
            user,
        ),
    ),
    "kube_execs": (
        R_KUBE_EXEC,
        lambda ev: count_rows(ev, "exec", lambda e: e.get("proto") == "kube", user),
    ),
    "cert_expiration_more_than_1d": (
        R_LONG_CERTS,
        lambda ev: count_rows(
            ev,
            "cert.create",
            lambda e: longer_than_a_day(e["identity"].get("expires"), e["time"]),
            lambda e: (e["identity"].get("user"),),
        ),
    ),
    "instance_join_token_less_than_1d": (
        R_LONG_TOKENS,
        lambda ev: count_rows(
            ev,
            "instance.join",
            lambda e: longer_than_a_day(e.get("token_expires"), e["time"]),
            lambda e: (e.get("node_name"), e.get("host_id")),
        ),
    ),
    "session_start_root_user": (
        R_ROOT,
        lambda ev: count_rows(ev, "session.start", lambda e: e.get("login") == "root", user),
    ),
    "kube_system_api_calls": (
        R_MASTERS,
        lambda ev: count_rows(
            ev,
            "kube.request",
            lambda e: "system:masters" in e.get("kubernetes_groups", []),
            user,
        ),
    ),
}


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return generate(random.Random(7))


@pytest.fixture(scope="module")
def session(tmp_path_factory, events):
    store = build_store(tmp_path_factory.mktemp("equivalence"), events)
    with session_for(store) as s:
        yield s


def test_the_events_cover_every_case(events):
    kinds = Counter(e["event"] for e in events)
    assert len(kinds) == 6 and min(kinds.values()) >= 60
    for name, (_sql, expected) in EXPECTED.items():
        assert sum(expected(events).values()) >= 3, f"{name}: too few rows to mean anything"
    # both sides of each boundary are present
    certs = [e for e in events if e["event"] == "cert.create"]
    assert any(
        e["identity"].get("expires")
        and athena_ts(e["identity"]["expires"]) - athena_ts(e["time"]) == dt.timedelta(days=1)
        for e in certs
    )
    assert any(e["event"] != "cert.create" and "user" not in e for e in events)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_report_query_matches_python(session, events, name):
    sql, expected = EXPECTED[name]
    table = session.run(sql, Window.between(FIRST_DAY, FIRST_DAY + dt.timedelta(days=DAYS))).table
    got = Counter(tuple(r.values()) for r in table.to_pylist())
    want = expected(events)
    assert got == want, (
        f"only in SQL: {sorted(got - want, key=repr)}; only in Python: {sorted(want - got, key=repr)}"
    )
    dates = table.column("event_date").to_pylist()
    assert dates == sorted(dates)
