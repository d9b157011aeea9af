"""The Privileged Access Report finds its rows in every week, at the planted rates."""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from accessmon.demo import planted

from .conftest import END, day, no_security, ts


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
    assert {e["state"] for e in reviews} == set(planted.REVIEW_STATE_SHARES)
    assert all(e["reviewer"] == e["user"] != created[e["id"]]["user"] for e in reviews)
    for e in created.values():
        assert e["roles"] and e["reason"]


def test_many_ip_user_in_the_last_week(parsed):
    last_week = END - dt.timedelta(days=6)
    ips = collections.defaultdict(set)
    for e in parsed["cert.create"]:
        if day(e) >= last_week:
            ips[e["identity"]["user"]].add(e["identity"]["client_ip"])
    assert len(ips[planted.MANY_IP_USER]) >= 10
    assert sorted(len(v) for v in ips.values())[-2] <= 3  # everyone else uses one to three
    remote = {
        e["addr.remote"].rsplit(":", 1)[0]
        for e in parsed["session.start"] + parsed["kube.request"]
        if e["user"] == planted.MANY_IP_USER and day(e) >= last_week
    }
    assert len(remote) >= 10


def test_planted_rates(parsed):
    def share(events, what):
        return sum(1 for e in events if what(e)) / len(events)

    ssh = [e for e in parsed["session.start"] if e["proto"] == "ssh"]
    approx = pytest.approx
    assert share(parsed["session.start"], lambda e: e["proto"] == "kube") == approx(
        planted.KUBE_SESSION_SHARE, abs=0.02
    )
    assert share(ssh, lambda e: e["login"] == "root") == approx(planted.ROOT_LOGIN_RATE, abs=0.015)
    for events in (ssh, parsed["db.session.start"], parsed["kube.request"]):
        assert share(events, no_security) == approx(planted.WEAK_SECURITY_RATE, abs=0.02)
    assert share(parsed["exec"], lambda e: e["proto"] == "kube") == approx(
        planted.KUBE_EXEC_SHARE, abs=0.02
    )
    ssh_exec = [e for e in parsed["exec"] if e["proto"] == "ssh"]
    assert share(ssh_exec, lambda e: "/etc/passwd" in e["command"]) == approx(
        planted.ETC_PASSWD_RATE, abs=0.01
    )
    assert share(
        parsed["kube.request"], lambda e: "system:masters" in e["kubernetes_groups"]
    ) == approx(planted.SYSTEM_MASTERS_RATE, abs=0.01)
    pg = share(
        parsed["db.session.start"],
        lambda e: e["db_protocol"] == "postgres" and e["db_user"] == "postgres",
    )
    assert pg == approx(planted.POSTGRES_SUPERUSER_RATE, abs=0.015)
    long_cert = share(
        parsed["cert.create"], lambda e: longer_than_a_day(e["identity"]["expires"], e["time"])
    )
    assert long_cert == approx(planted.LONG_CERT_RATE, abs=0.015)
    long_tok = share(
        parsed["instance.join"], lambda e: longer_than_a_day(e["token_expires"], e["time"])
    )
    assert long_tok == approx(planted.LONG_JOIN_TOKEN_RATE, abs=0.05)
    states = collections.Counter(e["state"] for e in parsed["access_request.review"])
    total = sum(states.values())
    for state, expected in planted.REVIEW_STATE_SHARES.items():
        assert states[state] / total == approx(expected, abs=0.04)


def test_noise_failures_carry_codes_and_errors(parsed):
    logins = parsed["user.login"]
    failed = [e for e in logins if e["success"] is False]
    assert len(failed) / len(logins) == pytest.approx(planted.LOGIN_FAILURE_RATE, abs=0.02)
    assert all(e["code"] in ("T1000W", "T1001W") and e["error"] for e in failed)
    assert all(e["code"] in ("T1000I", "T1001I") for e in logins if e["success"] is True)
    denied = [e for e in parsed["db.session.start"] if e["code"] == "TDB00W"]
    assert denied and all(e["success"] is False and e["error"] for e in denied)
    assert all(e["code"] == "T1006W" for e in parsed["session.rejected"])
    assert all(e["code"] == "T3007W" and e["success"] is False for e in parsed["auth"])
    queries = parsed["db.session.query.failed"]
    assert queries and all(e["code"] == "TDB02W" and e["error"] for e in queries)
