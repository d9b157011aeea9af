"""Provenance on a real DuckDB run over the demo store: what an auditor recomputes and re-runs."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shlex

import pytest

import accessmon
from accessmon.access import rbac
from accessmon.reports.definitions import ReportQuery
from accessmon.reports.provenance import results_digest_text, role_decision
from accessmon.reports.results import save_results
from accessmon.reports.run import run_query, run_report
from accessmon.sql.validate import check_query
from accessmon.window import Window

from ..conftest import ROLES_FIXTURE, session_for

RFC3339 = "%Y-%m-%dT%H:%M:%S.%fZ"


@pytest.fixture(scope="module")
def saved(workdir, tmp_path_factory):
    """One run of the built-in report over the demo store, saved as `report run` saves it."""
    tmp = tmp_path_factory.mktemp("provenance")
    session = session_for(workdir / "data" / "audit", audit_log=tmp / "audit.jsonl")
    window = Window.last_days(7)
    run = run_report(session, "privilege_access_report", window)
    path = save_results(run, tmp / "results.json")
    return {"session": session, "window": window, "run": run, "path": path}


def test_results_hash_is_recomputed_from_the_results_json_alone(saved):
    """The module docstring's recipe, with nothing of accessmon: json and hashlib."""
    doc = json.loads(saved["path"].read_text())
    assert len(doc["queries"]) == 9
    for q in doc["queries"]:
        text = json.dumps([q["columns"], q["rows"]], separators=(",", ":"))
        assert hashlib.sha256(text.encode()).hexdigest() == q["results_sha256"], q["name"]
        assert doc["provenance"]["results_sha256"][q["name"]] == q["results_sha256"]
        assert q["rows"], q["name"]  # the hash covers real rows, with dates in them
    # a changed row changes the hash: it says something about the rows
    q = doc["queries"][0]
    q["rows"][0][1] += 1
    text = json.dumps([q["columns"], q["rows"]], separators=(",", ":"))
    assert hashlib.sha256(text.encode()).hexdigest() != q["results_sha256"]


def test_sql_hash_is_the_sql_the_engine_ran(saved):
    """Rendered again for the span a report query runs over (the previous window's start to
    the window's end), the SQL hashes to what the run recorded; the query text does not."""
    session, window, run = saved["session"], saved["window"], saved["run"]
    span = Window(window.previous().start, window.end)
    for q in run.queries:
        rendered = session.engine.render(check_query(q.sql), span)
        assert hashlib.sha256(rendered.encode()).hexdigest() == q.sql_sha256, q.name
        assert hashlib.sha256(q.sql.encode()).hexdigest() != q.sql_sha256
    assert len({q.sql_sha256 for q in run.queries}) == 9


def test_provenance_fields_of_a_duckdb_run(saved, workdir):
    run, window = saved["run"], saved["window"]
    p = json.loads(saved["path"].read_text())["provenance"]
    assert p["accessmon_version"] == accessmon.__version__
    assert p["engine"] == "duckdb" and p["user"] == run.user
    assert p["query_ids"] == {q.name: [] for q in run.queries}  # DuckDB has no query ids
    assert p["window"] == {"start": window.start.isoformat(), "end": window.end.isoformat(),
                           "days": 7}  # fmt: skip
    started = dt.datetime.strptime(p["started_at"], RFC3339)
    ended = dt.datetime.strptime(p["ended_at"], RFC3339)
    assert started <= ended
    assert (p["started_at"], p["ended_at"]) == (run.started_at, run.ended_at)
    assert p["role_decision"].startswith("single-user mode: no roles configured")
    store = p["store"]
    assert store["location"] == str((workdir / "data" / "audit").resolve())
    files = list((workdir / "data" / "audit").glob("*/*.parquet"))
    in_span = [f for f in files if window.previous().start.isoformat() <= f.parent.name]
    assert store["files"] == len(in_span) > 0
    newest = dt.datetime.strptime(store["newest_event"], RFC3339)
    assert newest.date() >= window.end - dt.timedelta(days=1)
    assert p["suppressions_applied"] == []
    assert p["sql_sha256"] == {q.name: q.sql_sha256 for q in run.queries}


def test_the_rerun_command_parses_and_names_the_same_window(saved):
    """Parsed by the real `report run` command: the same report, days and engine."""
    from accessmon.ui.cli.report import report_run

    run, window = saved["run"], saved["window"]
    argv = shlex.split(run.provenance["rerun"])
    assert argv[:4] == ["accessmon", "report", "run", "privilege_access_report"]
    ctx = report_run.make_context("run", argv[3:])
    assert ctx.params["name"] == "privilege_access_report"
    again = Window.resolve(None, ctx.params["start"], ctx.params["end"])
    assert (again.start, again.end) == (window.start, window.end)
    assert ctx.params["engine"] == "duckdb"


def test_a_query_without_event_date_records_the_sql_of_its_current_window(workdir, tmp_path):
    """Three runs (both windows, then each): the hash is of the one whose rows are shown."""
    session = session_for(workdir / "data" / "audit", audit_log=tmp_path / "audit.jsonl")
    window = Window.last_days(7)
    query = ReportQuery(name="by_user", title="By user",
                        query="SELECT user, count(*) AS count FROM exec GROUP BY user")  # fmt: skip
    outcome = run_query(session, query, window)
    assert outcome.error is None and outcome.rows
    rendered = session.engine.render(check_query(query.query), window)
    assert outcome.sql_sha256 == hashlib.sha256(rendered.encode()).hexdigest()
    assert (
        outcome.results_sha256
        == hashlib.sha256(results_digest_text(outcome.columns, outcome.rows).encode()).hexdigest()
    )


def test_role_decision_says_who_was_allowed_and_by_what():
    policy = rbac.load_policy([ROLES_FIXTURE])
    assert role_decision(policy, "alice") == (
        "allowed: use on security_report for alice (roles: auditor); "
        "allowed by the preset role auditor"
    )
    dave = role_decision(policy, "dave")
    assert dave.startswith("allowed: use on security_report for dave (roles: everything, "
                           "no-delete); allowed by role everything allow rule #1")  # fmt: skip
    assert str(ROLES_FIXTURE) in dave  # the file and line of the rule
    assert role_decision(policy, "carol").startswith("denied: use on security_report for carol")
    single = role_decision(rbac.load_policy([]), "zoe")
    assert single == ("single-user mode: no roles configured (rbac.resources); zoe acts with "
                      "the editor preset, which allows use on security_report")  # fmt: skip


def test_a_run_under_roles_records_the_role_decision(workdir, tmp_path):
    flags = {"user": "alice", "rbac": {"resources": [ROLES_FIXTURE]},
             "audit_log": tmp_path / "audit.jsonl"}  # fmt: skip
    session = session_for(workdir / "data" / "audit", **flags)
    run = run_report(session, "privilege_access_report", Window.last_days(3))
    assert run.provenance["role_decision"].startswith("allowed: use on security_report for alice")
    assert run.provenance["rerun"].endswith("--engine duckdb")
