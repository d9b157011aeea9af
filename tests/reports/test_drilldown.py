"""Drill-down: each finding's underlying events, from one rewritten query per report query,
capped per finding with the true total, on the demo store through the DuckDB engine."""

from __future__ import annotations

import pytest

from accessmon.reports.definitions import ReportQuery
from accessmon.reports.drilldown import EVENT_COLUMNS, NoDrilldown, drilldown_sql
from accessmon.reports.run import run_query, run_report
from accessmon.sql.validate import check_query
from accessmon.window import Window

from ..conftest import session_for
from .conftest import builtin

CAP = 3


@pytest.fixture(scope="module")
def capped(workdir, tmp_path_factory):
    """The built-in report over the demo's last 7 days, 3 events kept per finding."""
    audit_log = tmp_path_factory.mktemp("drill") / "audit.jsonl"
    session = session_for(workdir / "data" / "audit", audit_log=audit_log,
                          report={"events_per_finding": CAP})  # fmt: skip
    window = Window.last_days(7)
    return run_report(session, "privilege_access_report", window), window


def _column(q, row, name):
    return row[q.event_columns.index(name)]


def test_every_finding_gets_its_events_capped_with_the_true_total(capped):
    run, window = capped
    for q in run.queries:
        assert q.items and not q.error, q.name
        assert q.event_columns[0] == "event_time" and set(q.event_columns) <= set(EVENT_COLUMNS)
        for f in q.items:
            # each query counts events (count(*)), so a finding's measure is its event total
            assert f.events_total == f.measure, (q.name, f.key)
            assert len(f.events) == min(CAP, f.events_total)
            times = [_column(q, e, "event_time") for e in f.events]
            assert times == sorted(times, reverse=True)  # newest first
            assert all(str(window.start) <= t[:10] <= str(window.end) for t in times)
    assert any(f.events_total > CAP for q in run.queries for f in q.items)  # the cap bit


def test_events_belong_to_their_finding(capped):
    run, _ = capped
    by_name = {q.name: q for q in run.queries}
    root = by_name["session_start_root_user"]
    for f in root.items:
        for e in f.events:
            assert _column(root, e, "user") == f.key["user"]
            assert _column(root, e, "login") == "root"  # the report query's WHERE holds
    certs = by_name["cert_expiration_more_than_1d"]  # key `user` is `identity_user AS user`
    assert "user" not in certs.event_columns
    assert all(_column(certs, e, "identity_user") == f.key["user"]
               for f in certs.items for e in f.events)  # fmt: skip
    joins = by_name["instance_join_token_less_than_1d"]  # a two-column key
    assert all((_column(joins, e, "node_name"), _column(joins, e, "host_id"))
               == (f.key["node_name"], f.key["host_id"]) for f in joins.items for e in f.events)  # fmt: skip
    postgres = by_name["db_postgres_user"]
    assert {"db_user", "db_service", "db_name", "addr_remote", "sid"} <= set(postgres.event_columns)
    assert all(_column(postgres, e, "db_user") == "postgres"
               for f in postgres.items for e in f.events)  # fmt: skip


def test_the_drilldown_query_is_valid_sql_for_every_builtin_query():
    for q in builtin().queries:
        sql, columns = drilldown_sql(q.query, q.finding_key, 5)
        checked = check_query(sql)  # the validator the engine path applies
        assert columns[0] == "event_time" and len(columns) >= 4
        assert checked.views == (q.query.split(" FROM ")[1].split()[0],)
        assert "GROUP BY" not in sql and "accessmon_row <= 5" in sql


def test_a_having_clause_keeps_events_to_the_findings(workdir, tmp_path):
    session = session_for(workdir / "data" / "audit", audit_log=tmp_path / "a.jsonl")
    q = ReportQuery(
        name="busy_root", title="Busy root users",
        query="SELECT user, count(*) AS count FROM session_start WHERE login = 'root' "
              "GROUP BY user HAVING count(*) >= 3",
        finding_key=["user"],
    )  # fmt: skip
    outcome = run_query(session, q, Window.last_days(7))
    assert outcome.items and all(f.measure >= 3 for f in outcome.items)
    assert all(f.events_total == f.measure and f.events for f in outcome.items)


def test_a_query_that_cannot_be_drilled_into_says_so(workdir, tmp_path):
    session = session_for(workdir / "data" / "audit", audit_log=tmp_path / "a.jsonl")
    q = ReportQuery(
        name="joined", title="Joined",
        query="WITH r AS (SELECT user FROM session_start WHERE login = 'root') "
              "SELECT user, count(*) AS count FROM r GROUP BY user",
        finding_key=["user"],
    )  # fmt: skip
    outcome = run_query(session, q, Window.last_days(7))
    assert outcome.items and outcome.event_columns == []
    assert all(f.events == [] for f in outcome.items)
    assert outcome.notes == ["no drill-down events: only a SELECT from one view, without WITH or "
                             "JOIN, can be drilled into"]  # fmt: skip
    with pytest.raises(NoDrilldown, match="key column n is an aggregate"):
        drilldown_sql("SELECT user, count(*) AS n FROM exec GROUP BY user", ["n"], 5)


def test_no_events_are_kept_when_the_cap_is_zero(workdir, tmp_path):
    session = session_for(workdir / "data" / "audit", audit_log=tmp_path / "a.jsonl",
                          report={"events_per_finding": 0})  # fmt: skip
    q = builtin().queries[-2]
    outcome = run_query(session, q, Window.last_days(7))
    assert outcome.items and all(f.events == [] and f.events_total == 0 for f in outcome.items)
