"""Results files: a run survives its JSON, other files are refused by name, the newest wins."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from accessmon.errors import AccessmonError
from accessmon.reports.results import (
    QueryOutcome,
    ReportRun,
    latest_results,
    load_results,
    read_results,
    save_results,
)
from accessmon.storage import audit

from ..conftest import session_for


def outcome(name: str = "root_logins", **fields) -> QueryOutcome:
    """A query outcome as a run leaves it; fields override the defaults."""
    base = {
        "name": name,
        "title": "Root logins",
        "description": "Who logged in as root",
        "suggestion": "Use personal logins.",
        "chart": {"kind": "bar", "x": "event_date", "y": "count", "keys": "user"},
        "sql": "SELECT 1",
        "columns": ["event_date", "count", "user"],
        "rows": [[dt.date(2024, 3, 20), 2, "alice"], [dt.date(2024, 3, 21), 3, "bob"]],
        "findings": 5,
        "previous_findings": 2,
        "distinct_users": 2,
        "stats": {"data_scanned_in_bytes": 2048, "total_execution_time_in_millis": 1500},
    }
    return QueryOutcome(**{**base, **fields})


def report_run(*queries: QueryOutcome, state: str = "SUCCESS") -> ReportRun:
    """A run of the queries (or one outcome) over a 7-day window."""
    return ReportRun(
        name="team_checks",
        title="Team <checks>",
        description="Checks & balances",
        version="1.0.0",
        window={"start": "2024-03-15", "end": "2024-03-21", "days": 7},
        previous_window={"start": "2024-03-08", "end": "2024-03-14"},
        generated_at="2024-03-21 10:00:00 UTC",
        user="alice",
        engine="duckdb",
        queries=list(queries) or [outcome()],
        state=state,
    )


def test_outcomes_say_their_status_and_change():
    assert (outcome().status, outcome().change) == ("findings", 3)
    assert outcome(findings=0).status == "no findings"
    assert outcome(previous_findings=None).change is None
    failed = outcome(error="boom")
    assert (failed.status, failed.change) == ("error", None)


def test_a_run_survives_its_json_with_totals_beside_it(tmp_path):
    run = report_run(outcome(), outcome("broken", error="boom", findings=0, stats={}))
    path = save_results(run, tmp_path / "team_checks_7d_20240321T100000Z.json")
    doc = json.loads(path.read_text())
    assert doc["totals"] == {
        "findings": 5,
        **dict.fromkeys(("new", "persisting", "resolved", "suppressed", "open"), 0),
        "data_scanned_in_bytes": 2048,
        "total_execution_time_in_millis": 1500,
        "failed_queries": 1,
    }
    assert doc["queries"][0]["rows"][0] == ["2024-03-20", 2, "alice"]  # dates as ISO text
    again = read_results(path)
    assert again.queries[1].error == "boom" and again.data_scanned_bytes == 2048
    assert again.to_json() == ReportRun.from_json(run.to_json()).to_json()


def test_a_file_that_is_not_results_is_refused_by_name(tmp_path):
    for text in ("{}", "not json", '{"queries": [{"nope": 1}]}'):
        path = tmp_path / "other.json"
        path.write_text(text)
        with pytest.raises(AccessmonError, match=r"other\.json: not a report results file"):
            read_results(path)
    with pytest.raises(AccessmonError, match="not a report results file"):
        read_results(tmp_path / "missing.json")


def test_latest_results_are_the_newest_of_this_report_only(tmp_path):
    assert latest_results(tmp_path / "absent", "team") is None
    older = save_results(report_run(), tmp_path / "team_7d_20240321T100000Z.json")
    newer = save_results(
        report_run(), tmp_path / "team_2024-03-01_2024-03-31_20240101T000000Z.json"
    )
    os.utime(older, (1_000_000, 1_000_000))
    save_results(report_run(), tmp_path / "team_checks_7d_20250101T000000Z.json")
    (tmp_path / "team_notes.json").write_text("{}")
    assert latest_results(tmp_path, "team") == newer


def test_loading_results_is_a_read_of_security_report_and_audited(tmp_path):
    session = session_for(tmp_path / "store", audit_log=tmp_path / "audit.jsonl")
    path = save_results(report_run(), tmp_path / "team_checks_7d_20240321T100000Z.json")
    assert load_results(session, str(path)).title == "Team <checks>"
    with pytest.raises(AccessmonError):
        load_results(session, tmp_path / "missing.json")
    records = audit.read(tmp_path / "audit.jsonl")
    first = records[0]
    assert (first["event"], first["verb"], first["results"]) == (
        "accessmon.security_report.get",
        "read",
        str(path),
    )
    assert records[-1]["success"] is False
