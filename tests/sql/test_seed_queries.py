"""Every query of the seed document, verbatim, gives the answer Athena would give.

The store is small and hand-made: each event is there for a reason, written next
to it, and each expected row below is stated by hand, not computed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accessmon.errors import QueryError
from accessmon.window import Window

from ..conftest import SPEC, build_store, session_for

SEED = SPEC.parent / "seed" / "access-monitoring.txt"
START, END = "2024-03-18", "2024-03-21"
WINDOW = Window.between(START, END)
CLUSTER = "teleport.example.com"

# -- the seed's queries, copied verbatim ----------------------------------------------------

Q_ETC_PASSWD = "SELECT DISTINCT user FROM exec WHERE command LIKE '%/etc/passwd%' ;"
Q_UNIQUE_IPS = (
    "SELECT event_date, identity_user AS user , COUNT ( DISTINCT cert_create.identity_client_ip)"
    " AS unique_ip_count FROM cert_create GROUP BY event_date, identity_user ORDER BY event_date;"
)
Q_MANY_IPS = (
    "SELECT * FROM ( SELECT event_date, identity_user AS user , COUNT ( DISTINCT"
    " cert_create.identity_client_ip) AS unique_ip_count FROM cert_create GROUP BY event_date,"
    " identity_user ORDER BY event_date) AS data WHERE unique_ip_count > 1 ;"
)
Q_ANNIE_IPS = (
    "SELECT DISTINCT identity_client_ip FROM cert_create WHERE identity_user = 'admin-annie'"
)
Q_REQUESTS_REVIEWS = (
    "SELECT * FROM access_request_create, access_request_review"
    " WHERE access_request_create.id = access_request_review.id"
)
Q_REQUEST_DETAILS = (
    "SELECT request.user, request.reason, request.roles, request.resource_ids, review.reviewer,"
    " review.state FROM access_request_create as request, access_request_review as review"
    " WHERE request.id = review.id"
)

R_DB_WEAK = (
    "SELECT event_date, count ( * ) as count, user FROM db_session_start WHERE CARDINALITY"
    " (access_requests) IS NULL AND with_mfa IS NULL AND impersonator IS NULL AND"
    " trusted_device_device_id IS NULL GROUP BY event_date, user ORDER BY event_date"
)
R_SSH_WEAK = (
    "SELECT event_date, count ( * ) as count, user FROM session_start WHERE CARDINALITY"
    " (access_requests) IS NULL AND proto = 'ssh' AND with_mfa IS NULL AND impersonator IS NULL"
    " AND trusted_device_device_id IS NULL GROUP BY event_date, proto, user ORDER BY event_date"
)
R_KUBE_WEAK = (
    "SELECT event_date, count ( * ) as count, user FROM kube_request WHERE CARDINALITY"
    " (access_requests) IS NULL AND with_mfa IS NULL AND impersonator IS NULL AND"
    " trusted_device_device_id IS NULL GROUP BY event_date, user ORDER BY event_date"
)
R_POSTGRES = (
    "SELECT event_date, COUNT ( * ) AS count, user FROM db_session_start WHERE db_protocol ="
    " 'postgres' and db_user = 'postgres' GROUP BY event_date, user ORDER BY event_date"
)
R_KUBE_EXEC = (
    "SELECT event_date, count ( * ) as count, user FROM exec WHERE proto = 'kube' GROUP BY"
    " event_date, proto, user ORDER BY event_date"
)
R_LONG_CERTS = (
    "SELECT DISTINCT event_date, COUNT ( * ) AS count, identity_user AS user FROM cert_create"
    " WHERE from_iso8601_timestamp(identity_expires) - from_iso8601_timestamp( time ) >"
    " INTERVAL '1' DAY GROUP BY event_date, identity_user ORDER BY event_date"
)
R_LONG_TOKENS = (
    "SELECT event_date, COUNT ( * ) as count, node_name, host_id FROM instance_join WHERE"
    " FROM_ISO8601_TIMESTAMP(token_expires) - FROM_ISO8601_TIMESTAMP( time ) > INTERVAL '1' DAY"
    " GROUP BY event_date, node_name, host_id ORDER BY event_date"
)
R_ROOT = (
    "SELECT event_date, COUNT ( * ) as count, user FROM session_start WHERE login = 'root'"
    " GROUP BY event_date, user ORDER BY event_date"
)
R_MASTERS = (
    "SELECT event_date, COUNT ( * ) as count, user FROM kube_request WHERE CONTAINS"
    " (kubernetes_groups, 'system:masters' ) GROUP BY event_date, user ORDER BY event_date"
)

TCTL_EXAMPLE = "select event_time,identity_user from cert_create order by event_date limit 1;"

SEED_QUERIES = [
    TCTL_EXAMPLE,
    Q_ETC_PASSWD,
    Q_UNIQUE_IPS,
    Q_MANY_IPS,
    Q_ANNIE_IPS,
    Q_REQUESTS_REVIEWS,
    Q_REQUEST_DETAILS,
    R_DB_WEAK,
    R_SSH_WEAK,
    R_KUBE_WEAK,
    R_POSTGRES,
    R_KUBE_EXEC,
    R_LONG_CERTS,
    R_LONG_TOKENS,
    R_ROOT,
    R_MASTERS,
]

# -- the store: Teleport's JSON shapes, empty values omitted ---------------------------------


def _event(event: str, code: str, time: str, uid: str, **fields) -> dict:
    return {
        "ei": 0,
        "event": event,
        "uid": uid,
        "code": code,
        "time": time,
        "cluster_name": CLUSTER,
        **fields,
    }


def _ssh(uid, time, user, login, proto="ssh", **fields):
    extra = {"addr.local": "172.31.28.130:3022", "addr.remote": "151.181.228.114:51454"}
    if proto == "kube":
        extra = {"kubernetes_cluster": "prod-eks", "kubernetes_groups": ["devs"]}
    return _event(
        "session.start",
        "T2000I",
        time,
        uid,
        user=user,
        login=login,
        proto=proto,
        namespace="default",
        server_id="de3800ea-69d9-4d72-a108-97e57f8eb393",
        server_hostname="node-1",
        sid=f"sid-{uid}",
        size="80:25",
        **extra,
        **fields,
    )


def _exec(uid, time, user, command, proto, **fields):
    extra = {"addr.local": "172.31.28.130:3022", "addr.remote": "151.181.228.114:51454"}
    if proto == "kube":
        extra = {
            "kubernetes_cluster": "prod-eks",
            "kubernetes_pod_name": "web-0",
            "kubernetes_pod_namespace": "default",
            "kubernetes_groups": ["devs"],
        }
    return _event(
        "exec",
        "T3002I",
        time,
        uid,
        user=user,
        login="ubuntu",
        command=command,
        exitCode="0",
        proto=proto,
        namespace="default",
        server_id="de3800ea",
        sid=f"sid-{uid}",
        **extra,
        **fields,
    )


def _cert(uid, time, user, client_ip, expires):
    identity = {
        "user": user,
        "roles": ["access", "editor"],
        "logins": ["root", "ubuntu"],
        "expires": expires,
        "client_ip": client_ip,
        "route_to_cluster": CLUSTER,
        "teleport_cluster": CLUSTER,
        "traits": {"logins": ["root", "ubuntu"]},
        "prev_identity_expires": "0001-01-01T00:00:00Z",
        "private_key_policy": "none",
    }
    return _event("cert.create", "TC000I", time, uid, cert_type="user", identity=identity)


def _db(uid, time, user, protocol, db_user, **fields):
    return _event(
        "db.session.start",
        "TDB00I",
        time,
        uid,
        user=user,
        db_protocol=protocol,
        db_user=db_user,
        db_name="orders",
        db_service="orders-db",
        db_uri="orders:5432",
        db_type="self-hosted",
        sid=f"sid-{uid}",
        success=True,
        **fields,
    )


def _kube(uid, time, user, **fields):
    return _event(
        "kube.request",
        "T3009I",
        time,
        uid,
        user=user,
        kubernetes_cluster="prod-eks",
        proto="kube",
        verb="GET",
        request_path="/api/v1/namespaces/default/pods",
        resource_kind="pods",
        response_code=200,
        **fields,
    )


def _join(uid, time, node, host, token_expires):
    return _event(
        "instance.join",
        "TJ002I",
        time,
        uid,
        node_name=node,
        host_id=host,
        role="Instance",
        method="token",
        token_name="join-token",
        token_expires=token_expires,
        success=True,
    )


DEVICE = {
    "device_id": "dev-1",
    "asset_tag": "C02XK1",
    "credential_id": "cred-1",
    "os_type": 2,
    "device_origin": 1,
}

EVENTS = [
    # cert.create: identity nested, no top-level user
    _cert(
        "c-1", "2024-03-20T12:12:03.374Z", "alice", "10.0.0.1", "2024-03-21T12:12:03.374000000Z"
    ),  # exactly 1 day
    _cert(
        "c-2", "2024-03-20T13:00:00.000Z", "alice", "10.0.0.2", "2024-03-21T13:00:01.648137154Z"
    ),  # 1 day + 1.6 s
    _cert(
        "c-3", "2024-03-20T14:00:00.000Z", "alice", "10.0.0.3", "2024-03-27T14:00:00.123456789Z"
    ),  # 7 days
    _cert("c-4", "2024-03-20T15:00:00.000Z", "bob", "10.0.0.9", "2024-03-21T03:00:00Z"),  # 12 h
    _cert(
        "c-5", "2024-03-20T16:00:00.000Z", "admin-annie", "192.168.1.5", "2024-03-22T04:00:00Z"
    ),  # 36 h
    _cert(
        "c-6", "2024-03-20T17:00:00.000Z", "admin-annie", "192.168.1.5", "2024-03-21T01:00:00Z"
    ),  # same IP
    _cert("c-7", "2024-03-21T09:00:00.000Z", "admin-annie", "192.168.1.6", "2024-03-21T17:00:00Z"),
    _cert("c-8", "2024-03-21T10:00:00.000Z", "bob", "10.0.0.9", "2024-03-23T10:00:00Z"),  # 2 days
    # exec: ssh and kube
    _exec("e-1", "2024-03-19T10:00:00.000Z", "alice", "cat /etc/passwd", "ssh"),
    _exec("e-2", "2024-03-19T11:00:00.000Z", "bob", "sudo vi /etc/passwd", "ssh"),
    _exec("e-3", "2024-03-20T08:00:00.000Z", "dave", "sh", "kube"),
    _exec("e-4", "2024-03-20T08:30:00.000Z", "dave", "bash", "kube"),
    _exec("e-5", "2024-03-21T09:00:00.000Z", "erin", "cat /etc/passwd", "kube"),
    # session.start
    _ssh("s-1", "2024-03-19T09:00:00.000Z", "alice", "root"),  # weak, root
    _ssh("s-2", "2024-03-19T09:30:00.000Z", "alice", "ubuntu", with_mfa="mfa-dev-1"),
    _ssh("s-3", "2024-03-19T10:00:00.000Z", "bob", "root", access_requests=["req-1"]),  # root
    _ssh("s-4", "2024-03-20T10:00:00.000Z", "bob", "ubuntu", impersonator="admin"),
    _ssh("s-5", "2024-03-20T11:00:00.000Z", "carol", "ubuntu", trusted_device=DEVICE),
    _ssh("s-6", "2024-03-20T12:00:00.000Z", "carol", "ubuntu", proto="kube"),  # not ssh
    _ssh("s-7", "2024-03-20T13:00:00.000Z", "carol", "ubuntu"),  # weak
    _ssh("s-8", "2024-03-21T08:00:00.000Z", "alice", "root"),  # weak, root
    # db.session.start
    _db("d-1", "2024-03-18T10:00:00.000Z", "alice", "postgres", "postgres"),  # weak, pg
    _db("d-2", "2024-03-18T11:00:00.000Z", "alice", "postgres", "postgres", with_mfa="mfa-dev-2"),
    _db("d-3", "2024-03-18T12:00:00.000Z", "bob", "mysql", "postgres"),  # weak, not pg
    _db(
        "d-4",
        "2024-03-19T12:00:00.000Z",
        "bob",
        "postgres",
        "reader",
        access_requests=["r-1", "r-2"],
    ),
    _db("d-5", "2024-03-19T13:00:00.000Z", "carol", "postgres", "postgres", trusted_device=DEVICE),
    _db("d-6", "2024-03-19T14:00:00.000Z", "carol", "postgres", "app", impersonator="admin"),
    # kube.request
    _kube("k-1", "2024-03-20T10:00:00.000Z", "dave", kubernetes_groups=["system:masters", "devs"]),
    _kube(
        "k-2",
        "2024-03-20T10:05:00.000Z",
        "dave",
        kubernetes_groups=["system:masters"],
        with_mfa="m-1",
    ),
    _kube("k-3", "2024-03-20T10:10:00.000Z", "erin", kubernetes_groups=["devs"]),  # weak
    _kube(
        "k-4",
        "2024-03-21T10:00:00.000Z",
        "erin",
        kubernetes_groups=["system:master"],
        access_requests=["r-9"],
    ),
    _kube("k-5", "2024-03-21T11:00:00.000Z", "frank"),  # no groups at all; weak
    # instance.join
    _join("j-1", "2024-03-20T06:00:00.000Z", "node-1", "h-1", "2024-03-20T07:00:00Z"),  # 1 h
    _join("j-2", "2024-03-20T06:30:00.000Z", "node-2", "h-2", "2024-03-23T06:30:00.5Z"),  # 3 days
    _join("j-3", "2024-03-21T06:30:00.000Z", "node-2", "h-2", "2024-03-24T06:30:00Z"),  # 3 days
    _join("j-4", "2024-03-21T07:00:00.000Z", "node-3", "h-3", "2024-03-22T07:00:00Z"),  # 1 day
    # access requests and their reviews
    _event(
        "access_request.create",
        "T5000I",
        "2024-03-19T08:00:00.000Z",
        "ar-1",
        id="req-1",
        user="alice",
        reason="debug prod",
        roles=["dba"],
        state="PENDING",
        resource_ids=[{"cluster": CLUSTER, "kind": "node", "name": "srv-1"}],
    ),
    _event(
        "access_request.create",
        "T5000I",
        "2024-03-19T08:10:00.000Z",
        "ar-2",
        id="req-2",
        user="bob",
        reason="oncall",
        roles=["admin", "dba"],
        state="PENDING",
    ),
    _event(
        "access_request.review",
        "T5002I",
        "2024-03-19T08:05:00.000Z",
        "rv-1",
        id="req-1",
        user="carol",
        reviewer="carol",
        proposed_state="APPROVED",
        state="APPROVED",
        reason="ok",
    ),
    _event(
        "access_request.review",
        "T5002I",
        "2024-03-19T09:00:00.000Z",
        "rv-2",
        id="req-1",
        user="dave",
        reviewer="dave",
        proposed_state="APPROVED",
        state="APPROVED",
    ),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("seed"), EVENTS)


@pytest.fixture(scope="module")
def session(store):
    with session_for(store) as s:
        yield s


def rows(session, sql: str, ordered: bool = False) -> list[tuple]:
    """The rows as tuples of plain Python values; sorted unless the query orders totally."""
    table = session.run(sql, WINDOW).table
    out = [tuple(r.values()) for r in table.to_pylist()]
    return out if ordered else sorted(out, key=repr)


def d(day: int) -> dt.date:
    return dt.date(2024, 3, day)


# -- the seed document itself ------------------------------------------------------------------


@pytest.mark.parametrize("sql", SEED_QUERIES)
def test_queries_are_verbatim_from_the_seed(sql):
    assert sql in " ".join(SEED.read_text(encoding="utf-8").split())


def test_store_holds_every_event(session):
    assert len(EVENTS) <= 40
    total = session.run(
        "SELECT (SELECT count(*) FROM cert_create) + (SELECT count(*) FROM exec)"
        " + (SELECT count(*) FROM session_start) + (SELECT count(*) FROM db_session_start)"
        " + (SELECT count(*) FROM kube_request) + (SELECT count(*) FROM instance_join)"
        " + (SELECT count(*) FROM access_request_create)"
        " + (SELECT count(*) FROM access_request_review) AS n",
        WINDOW,
    ).table.to_pylist()
    assert total == [{"n": len(EVENTS)}]


# -- the six example queries -----------------------------------------------------------------


def test_users_touching_etc_passwd(session):
    assert rows(session, Q_ETC_PASSWD) == [("alice",), ("bob",), ("erin",)]


def test_unique_ips_per_user_and_day(session):
    got = rows(session, Q_UNIQUE_IPS)
    assert got == sorted(
        [
            (d(20), "alice", 3),
            (d(20), "bob", 1),
            (d(20), "admin-annie", 1),  # two certs from one IP count once
            (d(21), "admin-annie", 1),
            (d(21), "bob", 1),
        ],
        key=repr,
    )
    # ORDER BY event_date holds
    dates = [r[0] for r in rows(session, Q_UNIQUE_IPS, ordered=True)]
    assert dates == sorted(dates)


def test_users_with_more_than_one_ip(session):
    assert rows(session, Q_MANY_IPS) == [(d(20), "alice", 3)]


def test_ips_of_admin_annie(session):
    assert rows(session, Q_ANNIE_IPS) == [("192.168.1.5",), ("192.168.1.6",)]


def test_access_requests_joined_to_reviews(session):
    result = session.run(Q_REQUESTS_REVIEWS, WINDOW)
    # two reviews of req-1, none of req-2; all columns of both views
    assert len(result) == 2
    assert result.table.num_columns == 36 + 36
    names = result.table.column_names
    assert names[:2] == ["event_date", "event_time"] and names[36:38] == names[:2]
    first, second = (i for i, n in enumerate(names) if n == "uid")
    assert result.table.column(first).to_pylist() == ["ar-1", "ar-1"]
    assert sorted(result.table.column(second).to_pylist()) == ["rv-1", "rv-2"]


def test_access_request_details_with_reviews(session):
    result = session.run(Q_REQUEST_DETAILS, WINDOW)
    assert result.columns == ["user", "reason", "roles", "resource_ids", "reviewer", "state"]
    resource = {"cluster": CLUSTER, "kind": "node", "name": "srv-1", "sub_resource": None}
    expected = [
        ("alice", "debug prod", ["dba"], [resource], "carol", "APPROVED"),
        ("alice", "debug prod", ["dba"], [resource], "dave", "APPROVED"),
    ]
    assert rows(session, Q_REQUEST_DETAILS) == expected


def test_tctl_example_query(session):
    """The seed's `tctl audit query exec` example; ORDER BY event_date leaves the row open."""
    (row,) = rows(session, TCTL_EXAMPLE)
    assert row[0].date() == d(20)
    assert row[1] in {"alice", "bob", "admin-annie"}


# -- the nine Privileged Access Report queries -----------------------------------------------

REPORT_EXPECTED = {
    # d-1 only on the 18th for alice (d-2 has MFA); d-3 is mysql but still weak
    "db_weak": (R_DB_WEAK, [(d(18), 1, "alice"), (d(18), 1, "bob")]),
    # s-2 MFA, s-3 access request, s-4 impersonated, s-5 trusted device, s-6 kube
    "ssh_weak": (R_SSH_WEAK, [(d(19), 1, "alice"), (d(20), 1, "carol"), (d(21), 1, "alice")]),
    # k-2 MFA, k-4 access request; k-5 has no groups but is weak
    "kube_weak": (R_KUBE_WEAK, [(d(20), 1, "dave"), (d(20), 1, "erin"), (d(21), 1, "frank")]),
    # d-3 is postgres user on mysql: not counted; d-4/d-6 other users
    "postgres": (R_POSTGRES, [(d(18), 2, "alice"), (d(19), 1, "carol")]),
    # e-1/e-2 are ssh
    "kube_exec": (R_KUBE_EXEC, [(d(20), 2, "dave"), (d(21), 1, "erin")]),
    # c-1 is exactly one day, c-4/c-6/c-7 shorter
    "long_certs": (
        R_LONG_CERTS,
        [(d(20), 2, "alice"), (d(20), 1, "admin-annie"), (d(21), 1, "bob")],
    ),
    # j-1 one hour, j-4 exactly one day
    "long_tokens": (R_LONG_TOKENS, [(d(20), 1, "node-2", "h-2"), (d(21), 1, "node-2", "h-2")]),
    "root": (R_ROOT, [(d(19), 1, "alice"), (d(19), 1, "bob"), (d(21), 1, "alice")]),
    # k-4 is in "system:master" (singular): not counted
    "masters": (R_MASTERS, [(d(20), 2, "dave")]),
}


@pytest.mark.parametrize("name", list(REPORT_EXPECTED))
def test_report_query(session, name):
    sql, expected = REPORT_EXPECTED[name]
    assert rows(session, sql) == sorted(expected, key=repr)
    dates = [r[0] for r in rows(session, sql, ordered=True)]
    assert dates == sorted(dates), "ORDER BY event_date"


def test_report_columns(session):
    for sql, _ in REPORT_EXPECTED.values():
        cols = session.run(sql, WINDOW).columns
        assert cols[:2] == ["event_date", "count"]
    assert session.run(R_LONG_TOKENS, WINDOW).columns == [
        "event_date",
        "count",
        "node_name",
        "host_id",
    ]


def test_long_lived_certificates_compare_at_millisecond_precision(tmp_path):
    """Athena's from_iso8601_timestamp returns timestamp(3): digits after the millisecond are
    dropped, so a 24 h certificate whose `expires` has nanoseconds is exactly one day long and
    not "long-lived". Teleport writes `time` with milliseconds and `expires` with nanoseconds."""
    events = [
        _cert(
            "p-1", "2024-03-20T12:12:03.374Z", "alice", "10.0.0.1", "2024-03-21T12:12:03.374137154Z"
        ),
        _cert(
            "p-2", "2024-03-20T12:12:03.374Z", "bob", "10.0.0.2", "2024-03-21T12:12:03.375000001Z"
        ),
        _join("p-3", "2024-03-20T06:00:00.000Z", "node-9", "h-9", "2024-03-21T06:00:00.000999999Z"),
    ]
    with session_for(build_store(tmp_path, events)) as s:
        assert rows(s, R_LONG_CERTS) == [(d(20), 1, "bob")]
        assert rows(s, R_LONG_TOKENS) == []


def test_lifetimes_read_the_caches_parsed_times_with_the_same_answers(tmp_path):
    """The report's lifetime checks read the cache's parsed copies of `time` and `expires`;
    offsets, missing zones and nanoseconds give Trino's answers, cached or parsed."""
    events = [
        _cert(
            "o-1", "2024-03-20T10:00:00.000Z", "offset", "10.0.0.1", "2024-03-21T12:00:00.001+02:00"
        ),
        _cert("o-2", "2024-03-20T10:00:00.000Z", "no-zone", "10.0.0.2", "2024-03-21 10:00:00.001"),
        _cert(
            "o-3", "2024-03-20T10:00:00.000Z", "nanos", "10.0.0.3", "2024-03-21T10:00:00.000999Z"
        ),
        _cert(
            "o-4", "2024-03-20T10:00:00.000Z", "late", "10.0.0.4", "2024-03-21T09:00:00.001-01:00"
        ),
        _cert(
            "o-5", "2024-03-20T10:00:00.000Z", "east", "10.0.0.5", "2024-03-21T11:00:00.000+02:00"
        ),
    ]
    store = build_store(tmp_path, events)
    for use_cache in (True, False):
        with session_for(store, duckdb={"cache": use_cache}) as s:
            sql = s.prepare(R_LONG_CERTS, WINDOW)[2]
            assert ("COALESCE(__instant__identity_expires" in sql) is use_cache
            assert rows(s, R_LONG_CERTS) == [(d(20), 1, "late"), (d(20), 1, "no-zone"),
                                             (d(20), 1, "offset")], use_cache  # fmt: skip
            columns = s.run("SELECT * FROM cert_create", WINDOW).table.column_names
            assert not [c for c in columns if c.startswith("__")]


def test_lifetimes_outside_where_keep_their_shape(tmp_path):
    """Only WHERE reads the parsed copies: in GROUP BY, HAVING or ORDER BY the extra column
    would have to be grouped too, and a lambda's parameter may shadow the column."""
    d = "from_iso8601_timestamp(identity_expires) - from_iso8601_timestamp(time)"
    queries = [
        f"SELECT {d} AS d, count(*) AS n FROM cert_create GROUP BY identity_expires, time",
        "SELECT identity_user FROM cert_create GROUP BY identity_user, identity_expires, time"
        f" HAVING {d} > INTERVAL '1' DAY",
        f"SELECT identity_expires, time FROM cert_create GROUP BY identity_expires, time ORDER BY {d}",
        "SELECT uid FROM cert_create WHERE cardinality(filter(ARRAY['2024-03-21T12:00:00Z'],"
        " time -> from_iso8601_timestamp(time) > from_iso8601_timestamp(identity_expires))) > 0",
    ]
    events = [_cert(f"g-{i}", "2024-03-20T10:00:00.000Z", "u", "10.0.0.1", e)
              for i, e in enumerate(["2024-03-21T10:00:00Z", "2024-03-22T10:00:00Z"])]  # fmt: skip
    store = build_store(tmp_path, events)
    for sql in queries:
        answers = []
        for use_cache in (True, False):
            with session_for(store, duckdb={"cache": use_cache}) as s:
                answers.append(rows(s, sql))
        assert answers[0] == answers[1] and answers[0], sql


def test_a_time_that_is_no_time_fails_the_lifetime_check_as_on_athena(tmp_path):
    """Athena fails the query on a malformed time; the cache's parsed copy is NULL there, and
    the query parses the text itself, so it fails too rather than dropping the row."""
    events = [_cert("x-1", "2024-03-20T10:00:00.000Z", "eve", "10.0.0.9", "next tuesday")]
    with session_for(build_store(tmp_path, events)) as s:
        with pytest.raises(QueryError, match="next tuesday"):
            s.run(R_LONG_CERTS, WINDOW)
        with pytest.raises(QueryError, match="unknown column __instant__time"):
            s.run("SELECT __instant__time FROM cert_create", WINDOW)


# -- Trino semantics the analysts rely on ----------------------------------------------------


def one(session, sql):
    result = session.run(sql, WINDOW).table.to_pylist()
    assert len(result) == 1, result
    return result[0]


def test_date_diff_counts_whole_days_like_trino(session):
    ts = "from_iso8601_timestamp('{}')"
    cases = [
        ("2024-03-20T23:00:00Z", "2024-03-21T01:00:00Z", "day", 0),
        ("2024-03-20T23:00:00Z", "2024-03-21T01:00:00Z", "hour", 2),
        ("2024-03-20T01:00:00Z", "2024-03-21T02:00:00Z", "day", 1),
        ("2024-03-21T01:00:00Z", "2024-03-20T23:00:00Z", "day", 0),
        ("2024-03-22T00:00:00Z", "2024-03-20T00:00:00Z", "day", -2),
        ("2024-03-20T00:00:00Z", "2024-04-19T23:59:59Z", "month", 0),
    ]
    for a, b, unit, expected in cases:
        sql = f"SELECT date_diff('{unit}', {ts.format(a)}, {ts.format(b)}) AS n"
        assert one(session, sql) == {"n": expected}, (a, b, unit)
    # over a view's columns: c-5 was issued for 36 h
    sql = (
        "SELECT date_diff('day', event_time, from_iso8601_timestamp(identity_expires)) AS n,"
        " date_diff('hour', event_time, from_iso8601_timestamp(identity_expires)) AS h,"
        " date_diff('day', DATE '2024-03-18', event_date) AS days"
        " FROM cert_create WHERE uid = 'c-5'"
    )
    assert one(session, sql) == {"n": 1, "h": 36, "days": 2}


def test_instants_compared_without_a_time_zone_keep_their_offsets(session):
    """The difference or comparison of two from_iso8601_timestamp values skips DuckDB's
    zone-aware parser for strings ending in Z; offsets and zone-less strings still count."""
    ts = "from_iso8601_timestamp('{}')"
    cases = [
        ("2024-03-21T12:00:00+02:00", "2024-03-20T10:00:00Z", (1, 0)),
        ("2024-03-20T20:00:00-05:00", "2024-03-21T01:00:00Z", (0, 0)),
        ("2024-03-21 10:00:00", "2024-03-21T09:00:00Z", (0, 3600 * 10**9)),
        ("2024-03-21T10:00:00.123456789Z", "2024-03-20T10:00:00.1239Z", (1, 0)),
    ]
    for a, b, (days, nanoseconds) in cases:
        sql = (
            f"SELECT {ts.format(a)} - {ts.format(b)} AS d, {ts.format(a)} = {ts.format(b)} AS same,"
            f" {ts.format(a)} > {ts.format(b)} AS later"
        )
        assert "ENDS_WITH" in session.prepare(sql, WINDOW)[2]
        got = one(session, sql)
        assert (got["d"].days, got["d"].nanoseconds) == (days, nanoseconds), (a, b)
        assert (got["same"], got["later"]) == (days == nanoseconds == 0, days + nanoseconds > 0)


def test_date_trunc_on_timestamps(session):
    sql = (
        "SELECT date_trunc('day', event_time) AS d, date_trunc('hour', event_time) AS h"
        " FROM cert_create WHERE uid = 'c-1'"
    )
    assert one(session, sql) == {"d": dt.datetime(2024, 3, 20), "h": dt.datetime(2024, 3, 20, 12)}


def test_date_trunc_of_a_date_is_a_date(session):
    """Trino: date_trunc(unit, x) has the type of x; on event_date it stays a DATE."""
    sql = "SELECT date_trunc('month', event_date) AS m FROM cert_create WHERE uid = 'c-1'"
    assert one(session, sql) == {"m": dt.date(2024, 3, 1)}


def test_interval_arithmetic(session):
    sql = (
        "SELECT event_time + INTERVAL '1' DAY AS t, event_time - INTERVAL '12' HOUR AS u"
        " FROM cert_create WHERE uid = 'c-1'"
    )
    assert one(session, sql) == {
        "t": dt.datetime(2024, 3, 21, 12, 12, 3, 374000),
        "u": dt.datetime(2024, 3, 20, 0, 12, 3, 374000),
    }
    sql = (
        "SELECT count(*) AS n FROM cert_create"
        " WHERE event_time >= TIMESTAMP '2024-03-21 00:00:00' - INTERVAL '1' DAY"
    )
    assert one(session, sql) == {"n": 8}
    sql = (
        "SELECT count(*) AS n FROM cert_create WHERE from_iso8601_timestamp(identity_expires)"
        " - from_iso8601_timestamp(time) > INTERVAL '2' DAY"
    )
    assert one(session, sql) == {"n": 1}  # c-3 (c-8 is exactly two days)


def test_date_plus_interval_is_a_date(session):
    """Trino: DATE '2012-08-08' - INTERVAL '2' DAY is the DATE 2012-08-06."""
    sql = (
        "SELECT event_date - INTERVAL '1' DAY AS y, event_date + INTERVAL '1' DAY AS t"
        " FROM cert_create WHERE uid = 'c-1'"
    )
    assert one(session, sql) == {"y": d(19), "t": d(21)}
    sql = "SELECT date_add('day', 1, event_date) AS a FROM cert_create WHERE uid = 'c-1'"
    assert one(session, sql) == {"a": d(21)}


def test_regexp_like_split_part_element_at(session):
    sql = "SELECT count(*) AS n FROM exec WHERE regexp_like(command, '^(cat|sudo vi) /etc/pass.d$')"
    assert one(session, sql) == {"n": 3}
    assert rows(
        session,
        "SELECT split_part(identity_client_ip, '.', 4) AS last FROM cert_create"
        " WHERE identity_user = 'admin-annie'",
    ) == [("5",), ("5",), ("6",)]
    sql = (
        "SELECT element_at(kubernetes_groups, 1) AS first, element_at(kubernetes_groups, 2) AS"
        " second, element_at(kubernetes_groups, 3) AS third FROM kube_request WHERE uid = 'k-1'"
    )
    assert one(session, sql) == {"first": "system:masters", "second": "devs", "third": None}


def test_cross_join_unnest(session):
    sql = (
        "SELECT role, count(*) AS n FROM cert_create CROSS JOIN UNNEST(identity_roles) AS t(role)"
        " GROUP BY role ORDER BY role"
    )
    assert rows(session, sql, ordered=True) == [("access", 8), ("editor", 8)]
    sql = (
        "SELECT request.id, r FROM access_request_create AS request"
        " CROSS JOIN UNNEST(request.roles) AS t(r) ORDER BY request.id, r"
    )
    assert rows(session, sql, ordered=True) == [
        ("req-1", "dba"),
        ("req-2", "admin"),
        ("req-2", "dba"),
    ]


def test_approx_distinct(session):
    assert one(session, "SELECT approx_distinct(identity_client_ip) AS n FROM cert_create") == {
        "n": 6
    }


def test_window_function(session):
    sql = (
        "SELECT user, sid, row_number() over (partition by user order by event_time) AS rn"
        " FROM session_start ORDER BY user, rn"
    )
    assert rows(session, sql, ordered=True) == [
        ("alice", "sid-s-1", 1),
        ("alice", "sid-s-2", 2),
        ("alice", "sid-s-8", 3),
        ("bob", "sid-s-3", 1),
        ("bob", "sid-s-4", 2),
        ("carol", "sid-s-5", 1),
        ("carol", "sid-s-6", 2),
        ("carol", "sid-s-7", 3),
    ]


def test_unquoted_user_is_the_events_user(session):
    assert rows(session, "SELECT DISTINCT user FROM session_start") == [
        ("alice",),
        ("bob",),
        ("carol",),
    ]
    assert rows(session, "SELECT user, count(*) AS n FROM exec GROUP BY user") == [
        ("alice", 1),
        ("bob", 1),
        ("dave", 2),
        ("erin", 1),
    ]
    # qualified, as in the seed's request.user
    assert rows(session, "SELECT r.user FROM access_request_review AS r") == [
        ("carol",),
        ("dave",),
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT user FROM cert_create",
        'SELECT "user" FROM cert_create',
        "SELECT DISTINCT user FROM instance_join",
        "SELECT identity_user, user FROM cert_create",
        "SELECT count(*) AS n FROM cert_create WHERE user = 'duckdb'",
        "SELECT u FROM (SELECT user AS u FROM cert_create)",
        "WITH c AS (SELECT * FROM cert_create) SELECT user FROM c",
        "SELECT identity_user FROM cert_create WHERE EXISTS (SELECT 1 WHERE user = 'duckdb')",
    ],
)
def test_user_on_a_view_without_user_is_an_error(session, sql):
    """cert_create and instance_join have no `user` column; Athena says so. DuckDB would
    answer with its own current user, 'duckdb', for every row."""
    with pytest.raises(QueryError, match="user"):
        result = session.run(sql, WINDOW)
        assert "duckdb" not in str(result.table.to_pylist())


# -- the CLI, as tctl prints -------------------------------------------------------------------


def cli(store: Path, tmp_path: Path, *args: str, stdin: str | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSMON_")}
    cmd = [sys.executable, "-m", "accessmon", "query", "exec", "--store", str(store)]
    cmd += ["--from", START, "--to", END, *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env, input=stdin, capture_output=True, text=True)


FIRST_CERT = "select event_time, identity_user from cert_create order by event_time limit 1"


def test_cli_prints_tctl_json(store, tmp_path):
    out = cli(store, tmp_path, FIRST_CERT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        '[{"data": ["event_time", "identity_user"]}, {"data": ["2024-03-20 12:12:03.374", "alice"]}]'
    )


def test_cli_prints_values_as_athena_strings(store, tmp_path):
    sql = (
        "select event_date, identity_roles, identity_impersonator, ei,"
        " from_iso8601_timestamp(identity_expires) as expires"
        " from cert_create where uid = 'c-4'"
    )
    out = cli(store, tmp_path, sql)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        {"data": ["event_date", "identity_roles", "identity_impersonator", "ei", "expires"]},
        {"data": ["2024-03-20", "[access, editor]", "", "0", "2024-03-21 03:00:00.000 UTC"]},
    ]


def test_cli_reads_sql_from_stdin(store, tmp_path):
    out = cli(store, tmp_path, stdin=FIRST_CERT + "\n")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[1] == {"data": ["2024-03-20 12:12:03.374", "alice"]}


def test_cli_csv_and_table(store, tmp_path):
    out = cli(store, tmp_path, "--format", "csv", FIRST_CERT)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "event_time,identity_user\n2024-03-20 12:12:03.374,alice\n"
    out = cli(store, tmp_path, "--format", "table", FIRST_CERT)
    assert out.returncode == 0, out.stderr
    for text in ("event_time", "identity_user", "2024-03-20 12:12:03.374", "alice"):
        assert text in out.stdout


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select * from cert_creat", "unknown view cert_creat (did you mean cert_create?)"),
        ("DROP TABLE cert_create", "DROP is not allowed: queries are read-only"),
        ("select comand from exec", "unknown column comand"),
    ],
)
def test_cli_bad_query_is_one_line_on_stderr(store, tmp_path, sql, message):
    out = cli(store, tmp_path, sql)
    assert out.returncode != 0
    assert out.stdout == ""
    assert "Traceback" not in out.stderr
    # one error line; an RBAC notice ("no roles are configured") may precede it
    lines = [
        line for line in out.stderr.splitlines() if not line.startswith(("notice:", "warning:"))
    ]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
