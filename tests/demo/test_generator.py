"""The demo generator: every view gets events shaped like Teleport's; the report finds its rows."""

from __future__ import annotations

import collections
import datetime as dt
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from accessmon.demo import events as demo
from accessmon.errors import AccessmonError
from accessmon.sql.views import all_views
from accessmon.storage import store

from .conftest import END

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
RFC3339_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
#: Teleport writes these two without omitempty: "ei":0 and "success":false are real.
ALWAYS_WRITTEN = {"ei", "success"}
#: Map-valued keys: their keys are free-form, not view columns.
FREE_FORM = {"traits", "server_labels", "db_labels", "kubernetes_labels", "desktop_labels"}


def teleport_views():
    """Teleport's 35 views; accessmon's own secreports.* events are not demo material."""
    return [
        v
        for v in all_views().values()
        if getattr(v, "teleport", True) and not v.event_type.startswith("secreports.")
    ]


#: Event types without a top-level user (cert.create keeps it in identity.user).
NO_USER = {v.event_type for v in teleport_views() if "user" not in v.column_names}


def ts(text: str) -> dt.datetime:
    """RFC 3339 with up to nanoseconds (Python keeps microseconds)."""
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", text)
    assert m, text
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    return dt.datetime.fromisoformat(m.group(1)).replace(microsecond=int(frac), tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def parsed(default_table) -> dict[str, list[dict]]:
    """event_data parsed with json.loads, by event type."""
    out: dict[str, list[dict]] = collections.defaultdict(list)
    for text in default_table.column("event_data").to_pylist():
        ev = json.loads(text)
        out[ev["event"]].append(ev)
    return out


def day(ev: dict) -> dt.date:
    return dt.date.fromisoformat(ev["time"][:10])


def no_security(ev: dict) -> bool:
    return not any(
        k in ev for k in ("access_requests", "with_mfa", "impersonator", "trusted_device")
    )


# ---------------------------------------------------------------------------------------------
# Coverage and shape
# ---------------------------------------------------------------------------------------------


def test_every_view_has_events_even_at_small_n():
    view_types = {v.event_type for v in teleport_views()}
    assert len(view_types) == 35
    assert set(demo.TYPE_WEIGHTS) == view_types
    table = demo.generate(2000, end_date=END)
    assert table.num_rows == 2000
    counts = collections.Counter(table.column("event_type").to_pylist())
    assert set(counts) == view_types
    assert min(counts.values()) >= 3


def test_exact_row_count_and_schema_for_tiny_sizes():
    for n in (1, 7, 35, 36, 101):
        table = demo.generate(n, days=30, end_date=END)
        assert table.schema == store.SCHEMA
        assert table.num_rows == n
        assert max(t.date() for t in table.column("event_time").to_pylist()) == END


def test_deterministic_and_seeded():
    a = demo.generate(3000, seed=7, end_date=END)
    b = demo.generate(3000, seed=7, end_date=END)
    assert a.equals(b)
    assert not a.equals(demo.generate(3000, seed=8, end_date=END))


def test_write_demo_gives_identical_stores(tmp_path):
    kwargs = {"events": 3000, "days": 10, "seed": 3, "end_date": END}
    assert demo.write_demo(tmp_path / "a", **kwargs) == (3000, 0)
    assert demo.write_demo(tmp_path / "b", **kwargs) == (3000, 0)
    assert demo.write_demo(tmp_path / "a", **kwargs) == (0, 3000)  # uids are stable
    days = store.partitions(tmp_path / "a")
    assert days == store.partitions(tmp_path / "b")
    assert days[-1] == END and len(days) == 10
    for d in days:
        files_a = store.partition_files(tmp_path / "a", d)
        files_b = store.partition_files(tmp_path / "b", d)
        assert len(files_a) == len(files_b) == 1  # one file per day on a fresh store
        ta = pq.read_table(files_a[0]).sort_by("uid")
        tb = pq.read_table(files_b[0]).sort_by("uid")
        assert ta.equals(tb)


def test_store_columns_follow_the_event(default_table):
    rows = default_table.slice(0, 20_000).to_pylist() + default_table.slice(180_000).to_pylist()
    seen_cert = 0
    for row in rows:
        ev = json.loads(row["event_data"])
        assert row["uid"] == ev["uid"] and UUID4.match(ev["uid"])
        assert row["event_type"] == ev["event"]
        assert row["session_id"] == ev.get("sid", "")
        assert RFC3339_MS.match(ev["time"])
        assert row["event_time"] == ts(ev["time"])
        assert ev["cluster_name"] == demo.CLUSTER_NAME
        assert isinstance(ev["ei"], int) and isinstance(ev["code"], str)
        if ev["event"] in NO_USER:
            assert "user" not in ev and row["user"] == ""
        else:
            assert row["user"] == ev["user"] != ""
        if ev["event"] == "cert.create":
            seen_cert += 1
            assert ev["identity"]["user"]
            assert RFC3339_NS.match(ev["identity"]["expires"])
    assert seen_cert > 100


def test_event_data_is_compact_json_without_empty_values(parsed, default_table):
    def check(obj, top: bool):
        for k, v in obj.items():
            if top and k in ALWAYS_WRITTEN:
                continue
            assert v not in ("", [], {}, None), (k, v)
            assert v is not False, k
            assert not (type(v) is int and v == 0), k
            if isinstance(v, dict):
                check(v, False)
            elif isinstance(v, list):
                for item in v:
                    if isinstance(item, dict):
                        check(item, False)

    for events in parsed.values():
        for ev in events:
            check(ev, True)
    sample = default_table.column("event_data")[0].as_py()
    assert json.dumps(json.loads(sample), separators=(",", ":"), sort_keys=True) == sample


def test_json_keys_and_types_match_the_views(parsed):
    """Every key is a view column's JSON path (or a free-form map) with the column's type."""
    for view in teleport_views():
        events = parsed[view.event_type]
        assert events, view.event_type
        paths = {c.path: c.type for c in view.columns if c.path}
        heads = {p[0] for p in paths}
        for ev in events[:2000]:
            for k, v in ev.items():
                assert k in heads, (view.event_type, k)
                if isinstance(v, dict) and k not in FREE_FORM:
                    for k2 in v:
                        assert k2 in FREE_FORM or any(p[:2] == (k, k2) for p in paths), (k, k2)
            for path, typ in paths.items():
                v = ev
                for part in path:
                    v = v.get(part) if isinstance(v, dict) else None
                if v is None:
                    continue
                if typ == "integer":
                    assert type(v) is int, (path, v)
                elif typ == "boolean":
                    assert type(v) is bool, (path, v)
                elif typ.startswith("array"):
                    assert isinstance(v, list), (path, v)
                elif path[0] not in FREE_FORM:
                    assert isinstance(v, str), (path, v)


def test_teleport_specific_keys(parsed):
    start = parsed["session.start"][0]
    assert "addr.local" in start and "addr.remote" in start
    assert re.match(r"^\d+\.\d+\.\d+\.\d+:\d+$", start["addr.remote"])
    execs = parsed["exec"]
    assert all("exitCode" in e for e in execs)
    assert any("exitError" in e and e["code"] == "T3002E" for e in execs)
    assert all(isinstance(e["identity"], dict) for e in parsed["cert.create"])
    ids = [r for e in parsed["access_request.create"] for r in e.get("resource_ids", [])]
    assert ids and all({"cluster", "kind", "name"} <= set(r) for r in ids)
    assert all(
        isinstance(m, dict) for e in parsed["access_list.member.create"] for m in e["members"]
    )
    assert all("target" in e for e in parsed["lock.created"])
    assert any("mfa_device" in e for e in parsed["user.login"])
    assert any("device_id" in e["device"] for e in parsed["device.enroll"])
    dbs = parsed["db.session.start"]
    assert {e["db_protocol"] for e in dbs} == {"postgres", "mysql", "mongodb"}
    assert all({"db_user", "db_name", "db_service", "db_uri"} <= set(e) for e in dbs)
    kube = parsed["kube.request"]
    assert all(
        {"kubernetes_cluster", "verb", "request_path", "resource_kind"} <= set(e) for e in kube
    )
    assert all(isinstance(e["response_code"], int) for e in kube)
    users = {e["user"] for e in parsed["session.start"]}
    assert {"alice", "bob", "admin-annie"} <= users
    assert any(u.startswith("bot-") for u in users)


def test_uids_unique_and_rows_in_time_order(default_table):
    assert pc.count_distinct(default_table.column("uid")).as_py() == default_table.num_rows
    times = default_table.column("event_time").cast(pa.int64()).to_numpy()
    assert (np.diff(times) >= 0).all()


# ---------------------------------------------------------------------------------------------
# Time rhythm and arguments
# ---------------------------------------------------------------------------------------------


def test_time_span_and_office_hours(default_table):
    times = default_table.column("event_time")
    dates = collections.Counter(times.cast(pa.date32()).to_pylist())
    assert max(dates) == END
    assert min(dates) == END - dt.timedelta(days=89)
    assert len(dates) == 90  # every day has events, the last one too
    weekday = [c for d, c in dates.items() if d.weekday() < 5]
    weekend = [c for d, c in dates.items() if d.weekday() >= 5]
    assert sum(weekday) / len(weekday) > 2.5 * sum(weekend) / len(weekend)
    hours = collections.Counter(pc.hour(times).to_pylist())
    assert sum(hours[h] for h in range(10, 16)) > 3 * sum(hours[h] for h in range(0, 6))
    assert sum(hours[h] for h in range(0, 6)) > 0  # some night work


def test_default_end_date_is_today_utc():
    before = dt.datetime.now(dt.UTC).date()
    table = demo.generate(200, days=3)
    after = dt.datetime.now(dt.UTC).date()
    last = max(t.date() for t in table.column("event_time").to_pylist())
    assert last in (before, after)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"events": 0},
        {"events": -5},
        {"days": 0},
        {"users": 0},
        {"seed": -1},
        {"events": 2.5},
        {"end_date": "2024-03-20"},
        {"days": 30_000, "end_date": END},
    ],
)
def test_bad_arguments(kwargs, tmp_path):
    with pytest.raises(AccessmonError):
        demo.generate(**kwargs)
    with pytest.raises(AccessmonError):
        demo.write_demo(tmp_path, **kwargs)
    assert not tmp_path.joinpath("2024-03-20").exists()


def test_chunks_cover_days_and_split_big_days():
    chunks = list(demo.iter_chunks(5000, days=6, end_date=END, chunk_events=1000))
    assert len(chunks) >= 5 and all(c.num_rows <= 1000 for c in chunks)
    assert sum(c.num_rows for c in chunks) == 5000
    one_day = list(demo.iter_chunks(2500, days=1, end_date=END, chunk_events=1000))
    assert len(one_day) == 3 and all(c.num_rows <= 1000 for c in one_day)
    assert sum(c.num_rows for c in one_day) == 2500
    uids = [u for c in one_day for u in c.column("uid").to_pylist()]
    assert len(set(uids)) == 2500
    with pytest.raises(AccessmonError):
        next(demo.iter_chunks(10, chunk_events=0))


def test_more_users_get_distinct_names():
    table = demo.generate(3000, users=90, end_date=END)
    users = set(table.column("user").to_pylist())
    assert "alice2" in users or "alice3" in users


# ---------------------------------------------------------------------------------------------
# The Privileged Access Report finds its rows in every week
# ---------------------------------------------------------------------------------------------


def every_week_has(events: list[dict], what) -> None:
    """The condition holds for some event in each 7-day window of the 90 days."""
    days = {day(ev) for ev in events if what(ev)}
    first = END - dt.timedelta(days=89)
    for k in range(0, 84):
        window = {first + dt.timedelta(days=k + i) for i in range(7)}
        assert days & window, f"no event in the week starting {first + dt.timedelta(days=k)}"


def longer_than_a_day(later: str, earlier: str) -> bool:
    return ts(later) - ts(earlier) > dt.timedelta(days=1)


def test_report_queries_find_rows_every_week(parsed):
    ssh = [e for e in parsed["session.start"] if e["proto"] == "ssh"]
    # 1-3: weak security, and strong security beside it
    for events in (parsed["db.session.start"], ssh, parsed["kube.request"]):
        every_week_has(events, no_security)
        every_week_has(events, lambda e: not no_security(e))
    # 4: privileged postgres
    every_week_has(
        parsed["db.session.start"],
        lambda e: e["db_protocol"] == "postgres" and e["db_user"] == "postgres",
    )
    # 5: kube exec beside ssh exec, some touching /etc/passwd
    every_week_has(parsed["exec"], lambda e: e["proto"] == "kube")
    every_week_has(parsed["exec"], lambda e: e["proto"] == "ssh")
    every_week_has(parsed["exec"], lambda e: "/etc/passwd" in e["command"])
    # 6: long-lived certificates beside short ones
    certs = parsed["cert.create"]
    every_week_has(certs, lambda e: longer_than_a_day(e["identity"]["expires"], e["time"]))
    every_week_has(certs, lambda e: not longer_than_a_day(e["identity"]["expires"], e["time"]))
    # 7: long-lived join tokens beside short ones
    joins = parsed["instance.join"]
    assert all({"node_name", "host_id", "role", "method", "token_name"} <= set(e) for e in joins)
    every_week_has(joins, lambda e: longer_than_a_day(e["token_expires"], e["time"]))
    every_week_has(joins, lambda e: not longer_than_a_day(e["token_expires"], e["time"]))
    # 8: root SSH sessions
    every_week_has(ssh, lambda e: e["login"] == "root")
    # 9: system:masters
    every_week_has(parsed["kube.request"], lambda e: "system:masters" in e["kubernetes_groups"])


def test_access_requests_and_reviews_share_ids_every_week(parsed):
    created = {e["id"]: e for e in parsed["access_request.create"]}
    reviews = parsed["access_request.review"]
    assert all(e["id"] in created for e in reviews)
    every_week_has(reviews, lambda e: day(created[e["id"]]) == day(e))
    assert {e["state"] for e in reviews} == set(demo.REVIEW_STATE_SHARES)
    assert all(e["reviewer"] == e["user"] != created[e["id"]]["user"] for e in reviews)
    for e in created.values():
        assert e["roles"] and e["reason"]


def test_many_ip_user_in_the_last_week(parsed):
    last_week = END - dt.timedelta(days=6)
    ips = collections.defaultdict(set)
    for e in parsed["cert.create"]:
        if day(e) >= last_week:
            ips[e["identity"]["user"]].add(e["identity"]["client_ip"])
    assert len(ips[demo.MANY_IP_USER]) >= 10
    assert sorted(len(v) for v in ips.values())[-2] <= 3  # everyone else uses one to three
    remote = {
        e["addr.remote"].rsplit(":", 1)[0]
        for e in parsed["session.start"] + parsed["kube.request"]
        if e["user"] == demo.MANY_IP_USER and day(e) >= last_week
    }
    assert len(remote) >= 10


def test_planted_rates(parsed):
    def share(events, what):
        return sum(1 for e in events if what(e)) / len(events)

    ssh = [e for e in parsed["session.start"] if e["proto"] == "ssh"]
    approx = pytest.approx
    assert share(parsed["session.start"], lambda e: e["proto"] == "kube") == approx(
        demo.KUBE_SESSION_SHARE, abs=0.02
    )
    assert share(ssh, lambda e: e["login"] == "root") == approx(demo.ROOT_LOGIN_RATE, abs=0.015)
    for events in (ssh, parsed["db.session.start"], parsed["kube.request"]):
        assert share(events, no_security) == approx(demo.WEAK_SECURITY_RATE, abs=0.02)
    assert share(parsed["exec"], lambda e: e["proto"] == "kube") == approx(
        demo.KUBE_EXEC_SHARE, abs=0.02
    )
    ssh_exec = [e for e in parsed["exec"] if e["proto"] == "ssh"]
    assert share(ssh_exec, lambda e: "/etc/passwd" in e["command"]) == approx(
        demo.ETC_PASSWD_RATE, abs=0.01
    )
    assert share(
        parsed["kube.request"], lambda e: "system:masters" in e["kubernetes_groups"]
    ) == approx(demo.SYSTEM_MASTERS_RATE, abs=0.01)
    pg = share(
        parsed["db.session.start"],
        lambda e: e["db_protocol"] == "postgres" and e["db_user"] == "postgres",
    )
    assert pg == approx(demo.POSTGRES_SUPERUSER_RATE, abs=0.015)
    long_cert = share(
        parsed["cert.create"], lambda e: longer_than_a_day(e["identity"]["expires"], e["time"])
    )
    assert long_cert == approx(demo.LONG_CERT_RATE, abs=0.015)
    long_tok = share(
        parsed["instance.join"], lambda e: longer_than_a_day(e["token_expires"], e["time"])
    )
    assert long_tok == approx(demo.LONG_JOIN_TOKEN_RATE, abs=0.05)
    states = collections.Counter(e["state"] for e in parsed["access_request.review"])
    total = sum(states.values())
    for state, expected in demo.REVIEW_STATE_SHARES.items():
        assert states[state] / total == approx(expected, abs=0.04)


def test_noise_failures_carry_codes_and_errors(parsed):
    logins = parsed["user.login"]
    failed = [e for e in logins if e["success"] is False]
    assert len(failed) / len(logins) == pytest.approx(demo.LOGIN_FAILURE_RATE, abs=0.02)
    assert all(e["code"] in ("T1000W", "T1001W") and e["error"] for e in failed)
    assert all(e["code"] in ("T1000I", "T1001I") for e in logins if e["success"] is True)
    denied = [e for e in parsed["db.session.start"] if e["code"] == "TDB00W"]
    assert denied and all(e["success"] is False and e["error"] for e in denied)
    assert all(e["code"] == "T1006W" for e in parsed["session.rejected"])
    assert all(e["code"] == "T3007W" and e["success"] is False for e in parsed["auth"])
    queries = parsed["db.session.query.failed"]
    assert queries and all(e["code"] == "TDB02W" and e["error"] for e in queries)
