"""The data-quality panel over small real stores: stale data, a planted empty day, a field
that is null everywhere (warned when the query needs it, not when it tests IS NULL)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from accessmon.reports import quality
from accessmon.reports.definitions import parse_definition
from accessmon.reports.quality import FieldUse, field_uses
from accessmon.reports.run import run_report
from accessmon.storage import audit
from accessmon.window import Window

from ..conftest import build_store, session_for

TODAY = dt.date(2024, 3, 20)
NOW = dt.datetime(2024, 3, 20, 12, 0, tzinfo=dt.UTC)
WINDOW = Window.last_days(7, today=TODAY)  # 2024-03-14 .. 2024-03-20

#: Sessions as root, with no `impersonator` and no `login_hint` anywhere: `login` is filled.
REPORT = """
kind: security_report
name: team_checks
title: Team checks
queries:
  - name: root_logins
    title: Root logins
    query: SELECT event_date, count(*) AS count, user FROM session_start WHERE login = 'root' GROUP BY event_date, user
  - name: not_impersonated
    title: Sessions nobody impersonated
    query: SELECT event_date, count(*) AS count, user FROM session_start WHERE impersonator IS NULL GROUP BY event_date, user
  - name: by_cluster
    title: Sessions by cluster
    query: SELECT event_date, count(*) AS count, cluster_name FROM session_start GROUP BY event_date, cluster_name
"""


def _event(day: dt.date, n: int, **extra) -> dict:
    return {"event": "session.start", "uid": f"u-{day}-{n}", "user": f"user{n}", "login": "root",
            "sid": f"s-{day}-{n}", "time": f"{day}T10:0{n}:00.000Z", **extra}  # fmt: skip


@pytest.fixture(scope="module")
def gappy(tmp_path_factory):
    """Events on 03-14, 03-15 and 03-17 (03-16 planted empty), none after 03-17 10:02: three
    days stale at NOW; a cert.create on 03-18 of another view is no help to session_start
    but counts as an event (the empty days are of all event types)."""
    tmp = tmp_path_factory.mktemp("quality")
    events = [_event(d, n) for d in (dt.date(2024, 3, 14), dt.date(2024, 3, 15),
                                     dt.date(2024, 3, 17)) for n in range(3)]  # fmt: skip
    events.append({"event": "cert.create", "uid": "c-1", "time": "2024-03-18T08:00:00.000Z",
                   "identity": {"user": "alice", "expires": "2024-03-19T08:00:00Z"}})  # fmt: skip
    store = build_store(tmp, events)
    reports = tmp / "reports"
    reports.mkdir()
    (reports / "team.yaml").write_text(REPORT)
    return session_for(store, audit_log=tmp / "audit.jsonl", reports_dir=reports)


def test_stale_data_empty_days_and_the_fields_the_queries_need(gappy):
    definition = parse_definition(REPORT, "team.yaml")
    q = quality.collect(gappy, definition, WINDOW, NOW)
    assert q["now"] == "2024-03-20T12:00:00.000Z"
    assert q["newest_event"] == "2024-03-18T08:00:00.000Z"
    assert q["lag_hours"] == 52.0 and q["max_lag_hours"] == 24.0 and q["stale"] is True
    # 03-16 planted, 03-19 after the last event; 03-20, the day in progress, is not judged
    assert q["empty_days"] == ["2024-03-16", "2024-03-19"]
    fields = {f["field"]: f for f in q["fields"]}
    assert set(fields) == {"user", "login", "impersonator", "cluster_name"}
    assert all(f["view"] == "session_start" and f["rows"] == 9 for f in fields.values())
    assert fields["login"] | {"queries": None} == {
        "view": "session_start", "field": "login", "queries": None, "rows": 9, "nulls": 0,
        "null_rate": 0.0, "always_null": False, "needed": True,
    }  # fmt: skip
    assert fields["user"]["queries"] == ["root_logins", "not_impersonated"]
    # null everywhere: cluster_name is grouped by (needed), impersonator only tested IS NULL
    assert fields["cluster_name"]["always_null"] and fields["cluster_name"]["needed"]
    assert fields["impersonator"]["always_null"] and not fields["impersonator"]["needed"]
    assert fields["impersonator"]["null_rate"] == 1.0
    warnings = q["warnings"]
    assert len(warnings) == 3, warnings
    assert warnings[0].startswith("Stale data: the newest event (2024-03-18T08:00:00.000Z) is "
                                  "2.2 days older than the run, more than report.max_lag_hours (24 h)")  # fmt: skip
    assert "2 of the window's 7 days have no events at all (2024-03-16, 2024-03-19)" in warnings[1]
    assert warnings[2].startswith("session_start.cluster_name is null in all 9 rows of the "
                                  "window, yet by_cluster needs it filled")  # fmt: skip
    assert not any("impersonator" in w for w in warnings)
    # DuckDB: the null rates' queries (one, for the one view) have no ids and scan no bytes
    assert q["checks"] == {"query_ids": [], "data_scanned_in_bytes": 0,
                           "total_execution_time_in_millis": q["checks"]["total_execution_time_in_millis"]}  # fmt: skip


def test_fresh_data_has_no_warnings(gappy):
    """The same store, judged on 03-18 at noon over 03-15 .. 03-18: fresh, nothing empty."""
    without_cluster = REPORT[: REPORT.index("  - name: by_cluster")]
    definition = parse_definition(without_cluster, "team.yaml")
    now = dt.datetime(2024, 3, 18, 12, tzinfo=dt.UTC)
    window = Window.between("2024-03-17", "2024-03-18")
    q = quality.collect(gappy, definition, window, now)
    assert (q["stale"], q["lag_hours"], q["empty_days"], q["warnings"]) == (False, 4.0, [], [])


def test_an_old_window_is_judged_at_its_own_end(gappy):
    """A window that ended before the run: freshness is the lag behind its last day's end,
    not behind today (an old report is not stale for being old)."""
    definition = parse_definition(REPORT, "team.yaml")
    q = quality.collect(gappy, definition, Window.between("2024-03-14", "2024-03-15"), NOW)
    assert q["newest_event"] == "2024-03-15T10:02:00.000Z"
    assert q["lag_hours"] == round(13 + 58 / 60, 2) and not q["stale"]
    assert q["empty_days"] == []


def test_a_failing_check_is_a_warning_not_a_failed_report(tmp_path):
    """No store at all: the report's queries fail, and the quality step only warns."""
    session = session_for(tmp_path / "nowhere", audit_log=tmp_path / "audit.jsonl")
    definition = parse_definition(REPORT, "team.yaml")
    q = quality.collect(session, definition, WINDOW, NOW)
    assert q["warnings"][0].startswith("Freshness and empty days could not be checked: no audit "
                                       "store at")  # fmt: skip
    assert q["warnings"][1].startswith("The null rates of session_start could not be measured")
    assert q["fields"] == [] and q["empty_days"] == []


def test_run_report_fills_quality_and_its_json_keeps_it(gappy, tmp_path):
    run = run_report(gappy, "team_checks", WINDOW)
    assert run.quality["stale"] is True  # judged at the end of 03-20: 64 h after the newest
    assert "2024-03-16" in run.quality["empty_days"]
    assert json.loads(run.to_json())["quality"]["fields"] == run.quality["fields"]
    assert run.provenance["store"] == run.quality["store"]
    assert run.provenance["store"]["newest_event"] == "2024-03-18T08:00:00.000Z"
    # still one audit line for the whole run, which carries the checks' queries
    [record] = [e for e in audit.read(gappy.config.audit_log) if e["name"] == "team_checks"]
    assert record["event"] == "secreports.report.run"
    assert record["quality_checks"] == run.quality["checks"]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT user FROM exec WHERE with_mfa IS NULL AND CARDINALITY(access_requests) IS NULL",
         {("exec", "user", True), ("exec", "with_mfa", False), ("exec", "access_requests", False)}),
        # IS NOT NULL wants it filled; a column both tested and selected is needed
        ("SELECT impersonator FROM exec WHERE impersonator IS NULL OR login IS NOT NULL",
         {("exec", "impersonator", True), ("exec", "login", True)}),
        # aliases and joins resolve to their views; event_date is the window, not a field
        ("SELECT s.user, count(*) AS n FROM session_start s JOIN exec e ON s.sid = e.sid "
         "WHERE e.event_date > DATE '2024-01-01' GROUP BY s.user",
         {("session_start", "user", True), ("session_start", "sid", True),
          ("exec", "sid", True)}),
        # through a CTE: the view's columns are traced in the CTE's own scope
        ("WITH r AS (SELECT user, login FROM session_start WHERE login = 'root') "
         "SELECT user FROM r", {("session_start", "user", True), ("session_start", "login", True)}),
        ("SELECT * FROM exec", set()),  # a star needs no field in particular
    ],
)  # fmt: skip
def test_field_uses(sql, expected):
    assert {(u.view, u.field, u.needed) for u in field_uses(sql)} == expected
    assert all(isinstance(u, FieldUse) for u in field_uses(sql))
