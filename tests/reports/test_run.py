"""Running a report: findings and trends per query, the role check, one audit line per run."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from accessmon.errors import AccessmonError, PermissionDenied
from accessmon.reports.definitions import ReportQuery
from accessmon.reports.results import ReportRun
from accessmon.reports.run import _findings, _split_by_date, check_run, run_query, run_report
from accessmon.storage import audit
from accessmon.window import Window

from ..conftest import ROLES_FIXTURE, session_for
from .conftest import ORDER


def test_run_report_findings_trends_and_audit(workdir, tmp_path):
    session = session_for(workdir / "data" / "audit", audit_log=tmp_path / "audit.jsonl")
    run = run_report(session, "privilege_access_report", Window.last_days(7))
    assert run.state == "SUCCESS" and run.user == session.user
    assert [q.name for q in run.queries] == [name for name, _, _ in ORDER]
    for q in run.queries:
        assert q.findings > 0 and q.status == "findings", q.name
        assert q.previous_findings is not None and q.change == q.findings - q.previous_findings
        assert all(run.window["start"] <= str(row[0]) <= run.window["end"] for row in q.rows)
        assert q.distinct_users == len({row[q.columns.index(q.chart["keys"])] for row in q.rows})
    again = ReportRun.from_json(run.to_json())
    assert again.queries[3].rows == json.loads(json.dumps(run.queries[3].rows, default=str))
    record = audit.read(tmp_path / "audit.jsonl")[-1]
    assert (record["event"], record["code"], record["name"]) == (
        "secreports.report.run",
        "SRE002I",
        "privilege_access_report",
    )
    assert len(record["queries"]) == 9 and record["days"] == 7


def test_report_needs_use_on_security_report(workdir, tmp_path):
    flags = {
        "user": "carol",
        "rbac": {"resources": [ROLES_FIXTURE]},
        "audit_log": tmp_path / "a.jsonl",
    }
    with pytest.raises(PermissionDenied, match="may not use security_report"):
        run_report(
            session_for(workdir / "data" / "audit", **flags),
            "privilege_access_report",
            Window.last_days(7),
        )
    assert audit.read(tmp_path / "a.jsonl")[-1]["code"] == "SRE002W"


def test_findings_sum_an_integer_count_column_or_count_rows():
    import pyarrow as pa

    counted = pa.table({"event_date": [1, 2], "count": pa.array([3, 4], pa.int64())})
    assert _findings(counted, "count") == 7
    assert _findings(pa.table({"count": ["3", "4"]}), "count") == 2  # text: one finding a row
    assert _findings(counted, "missing") == 2


def test_one_run_over_both_windows_splits_on_event_date():
    import pyarrow as pa

    window = Window(dt.date(2024, 3, 8), dt.date(2024, 3, 14))
    dates = [dt.date(2024, 3, 1), dt.date(2024, 3, 7), dt.date(2024, 3, 8), dt.date(2024, 3, 14)]
    current, previous = _split_by_date(pa.table({"event_date": dates, "n": [1, 2, 3, 4]}), window)
    assert current.column("n").to_pylist() == [3, 4]
    assert previous.column("n").to_pylist() == [1, 2]
    assert _split_by_date(pa.table({"n": [1]}), window) is None  # no dates: two more runs
    assert _split_by_date(pa.table({"event_date": ["2024-03-08"]}), window) is None


def test_a_failing_query_is_kept_as_its_error(workdir, tmp_path):
    session = session_for(workdir / "data" / "audit", audit_log=tmp_path / "audit.jsonl")
    query = ReportQuery(
        name="broken", title="Broken", query="SELECT count(*) + 'x' AS count FROM exec"
    )
    outcome = run_query(session, query, Window.resolve(7, None, None))
    assert outcome.status == "error" and "Could not convert string 'x'" in outcome.error
    assert outcome.change is None and outcome.rows == []


def test_an_unknown_report_is_refused_and_audited(workdir, tmp_path):
    session = session_for(workdir / "data" / "audit", audit_log=tmp_path / "audit.jsonl")
    with pytest.raises(AccessmonError, match="no report nope"):
        check_run(session, "nope", Window.resolve(3, None, None))
    record = audit.read(tmp_path / "audit.jsonl")[-1]
    assert (record["code"], record["name"], record["state"]) == ("SRE002W", "nope", "ERROR")
