"""Security reports end to end: definitions, runs, the notebook headless, the HTML in Chromium."""

from __future__ import annotations

import html as html_module
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import papermill
import pytest

from accessmon.demo import write_demo
from accessmon.errors import ConfigError, PermissionDenied
from accessmon.reports import run as reports
from accessmon.storage import audit

from .access.test_rbac import FIXTURE
from .conftest import REPO, SPEC, session_for
from .conftest import run as cli

SEED = SPEC.parent / "seed" / "access-monitoring.txt"
ORDER = [
    ("database_sessions_with_weak_security", "Database sessions with weak security", "user"),
    ("ssh_sessions_with_weak_security", "SSH sessions with weak security", "user"),
    ("kube_access_with_weak_security", "Kubernetes API calls with weak security", "user"),
    ("db_postgres_user", "Privileged Postgres sessions", "user"),
    ("kube_execs", "Kube Execs", "user"),
    ("cert_expiration_more_than_1d", "Long lived certificates", "user"),
    ("instance_join_token_less_than_1d", "Long-lived join tokens", "node_name"),
    ("session_start_root_user", "Root SSH sessions", "user"),
    ("kube_system_api_calls", "System Kubernetes API calls", "user"),
]
BROKEN = """
kind: security_report
name: team_checks
title: Team checks
description: One good query and one that fails when it runs
version: 1.0.0
queries:
  - name: root_logins
    title: Root logins
    query: SELECT event_date, count(*) AS count, user FROM session_start WHERE login = 'root' GROUP BY event_date, user
    suggestion: Use personal logins.
  - name: broken
    title: Broken on purpose
    query: SELECT event_date, count(*) + 'x' AS count, user FROM exec GROUP BY event_date, user
    suggestion: None.
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A working directory as a user has it after `make demo`: ./data/audit and ./reports."""
    root = tmp_path_factory.mktemp("reports")
    write_demo(root / "data" / "audit", events=20_000, days=20, seed=5)
    return root


def _builtin():
    found, errors = reports.load_definitions(Path("/nonexistent"))
    assert not errors
    return found["privilege_access_report"]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_builtin_report_matches_teleport():
    report = _builtin()
    assert (report.title, report.version) == ("Privileged Access Report", "0.0.1")
    assert (
        report.description
        == "Identify sessions using weak security measures across your infrastructure"
    )
    assert [(q.name, q.title, q.chart.keys) for q in report.queries] == ORDER
    assert all(
        (q.chart.kind, q.chart.x, q.chart.y) == ("bar", "event_date", "count")
        for q in report.queries
    )
    seed = _squash(SEED.read_text())
    for q in report.queries:
        assert _squash(q.query) in seed, q.name
        assert f"Suggestion: {q.suggestion}" in seed, q.name


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("    title: Root logins\n", ""), ".yaml:8: queries.0.title: Field required"),
        (lambda t: t.replace("FROM exec", "FROM exce"), ".yaml:14: queries.1.query (broken): unknown view exce"),
        (lambda t: t.replace("kind: security_report", "kind: report"), ".yaml:2: kind: Input should be"),
        (lambda t: t + "colour: red\n", "colour: Extra inputs are not permitted"),
        (lambda t: t.replace("queries:", "queries: [", 1), "invalid YAML"),
    ],
)  # fmt: skip
def test_invalid_definitions_name_file_and_field(tmp_path, edit, message):
    path = tmp_path / "team.yaml"
    path.write_text(edit(BROKEN))
    with pytest.raises(ConfigError) as err:
        reports.parse_definition(path.read_text(), str(path))
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_run_report_findings_trends_and_audit(workdir, tmp_path):
    session = session_for(workdir / "data" / "audit", audit_log=tmp_path / "audit.jsonl")
    run = reports.run_report(session, "privilege_access_report", days=7)
    assert run.state == "SUCCESS" and run.user == session.user
    assert [q.name for q in run.queries] == [name for name, _, _ in ORDER]
    for q in run.queries:
        assert q.findings > 0 and q.status == "findings", q.name
        assert q.previous_findings is not None and q.change == q.findings - q.previous_findings
        assert all(run.window["start"] <= str(row[0]) <= run.window["end"] for row in q.rows)
        assert q.distinct_users == len({row[q.columns.index(q.chart["keys"])] for row in q.rows})
    again = reports.ReportRun.from_json(run.to_json())
    assert again.queries[3].rows == json.loads(json.dumps(run.queries[3].rows, default=str))
    record = audit.read(tmp_path / "audit.jsonl")[-1]
    assert (record["event"], record["code"], record["name"]) == (
        "secreports.report.run",
        "SRE002I",
        "privilege_access_report",
    )
    assert len(record["queries"]) == 9 and record["days"] == 7


def test_report_needs_use_on_security_report(workdir, tmp_path):
    flags = {"user": "carol", "rbac": {"resources": [FIXTURE]}, "audit_log": tmp_path / "a.jsonl"}
    with pytest.raises(PermissionDenied, match="may not use security_report"):
        reports.run_report(
            session_for(workdir / "data" / "audit", **flags), "privilege_access_report"
        )
    assert audit.read(tmp_path / "a.jsonl")[-1]["code"] == "SRE002W"


def test_notebook_parameters_are_tagged():
    params = papermill.inspect_notebook(str(REPO / "notebooks" / "security_report.ipynb"))
    assert {
        "report",
        "days",
        "date_from",
        "date_to",
        "config",
        "engine",
        "store",
        "user",
        "results",
    } <= set(params)
    assert params["report"]["default"] == '"privilege_access_report"'


@pytest.fixture(scope="module")
def headless(workdir):
    """One `accessmon report run` as cron runs it; the HTML, results and state it leaves."""
    out = cli(["report", "run", "privilege_access_report", "--format", "both"], workdir)
    assert out.returncode == 0, out.stderr
    html = Path(workdir / out.stdout.splitlines()[0])
    return {"out": out, "html": html, "workdir": workdir}


def test_headless_run_writes_html_notebook_results_and_state(headless):
    out, html, workdir = headless["out"], headless["html"], headless["workdir"]
    assert re.fullmatch(
        r"reports/privilege_access_report_7d_\d{8}T\d{6}Z\.html", out.stdout.splitlines()[0]
    )
    assert html.with_suffix(".ipynb").is_file() and html.with_suffix(".json").is_file()
    for i, (name, _, _) in enumerate(ORDER, start=1):
        assert f"[{i}/9] {name}: " in out.stderr
    text = html.read_text()
    assert text.count('class="plotly-graph-div"') == 9
    for q in _builtin().queries:
        assert q.suggestion in html_module.unescape(text)
    assert "<script src=" not in text  # nothing loaded from the network
    assert "report = " not in text  # code cells are hidden
    state = cli(["report", "state", "privilege_access_report"], workdir).stdout
    assert re.search(r"privilege_access_report_7_days\s+SUCCESS\s+\d{4}-", state)
    got = cli(["report", "get", "privilege_access_report", "--format", "json"], workdir)
    assert json.loads(got.stdout)["state"] == "SUCCESS"


def test_html_renders_nine_charts_offline_in_chromium(headless):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=15000",
         f"--user-data-dir={headless['workdir'] / 'chromium-profile'}",
         "--dump-dom", headless["html"].resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    plots = re.findall(r'class="[^"]*\bjs-plotly-plot\b[^"]*"', dom)
    assert len(plots) == 9
    assert dom.count('class="main-svg"') >= 9  # drawn, not just placeholders


def test_custom_report_with_a_broken_query(workdir):
    custom = workdir / "reports" / "definitions"
    custom.mkdir(parents=True, exist_ok=True)
    (custom / "team.yaml").write_text(BROKEN)
    try:
        listing = cli(["report", "ls"], workdir).stdout
        assert "privilege_access_report" in listing and "team_checks" in listing
        out = cli(["report", "run", "team_checks", "--days", "20"], workdir)
        assert out.returncode == 1
        assert "state ERROR" in out.stderr and "broken" in out.stderr
        html = (workdir / out.stdout.strip()).read_text()
        assert "Root logins" in html and html.count('class="plotly-graph-div"') == 1
        assert "Query failed: Could not convert string 'x' to INT64" in html
        assert "ERROR" in cli(["report", "state", "team_checks"], workdir).stdout
        (custom / "bad.yaml").write_text(BROKEN.replace("title: Team checks\n", ""))
        bad = cli(["report", "ls"], workdir)
        assert bad.returncode == 1 and "bad.yaml:2: title: Field required" in bad.stderr
        assert "team_checks" in bad.stdout
    finally:
        shutil.rmtree(custom)


def test_overlapping_runs_wait_for_the_lock_or_exit_cleanly(workdir):
    out_dir = workdir / "reports"
    with reports.report_lock(out_dir, "privilege_access_report", wait_seconds=0):
        busy = cli(["report", "run", "privilege_access_report", "--wait", "0.5"], workdir)
    assert busy.returncode == 1
    assert "another run of privilege_access_report is in progress" in busy.stderr
    assert "Traceback" not in busy.stderr
    released = threading.Event()

    def hold():
        with reports.report_lock(out_dir, "privilege_access_report", wait_seconds=0):
            released.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    waiter = subprocess.Popen(
        [sys.executable, "-m", "accessmon", "report", "run", "privilege_access_report", "--wait", "60"],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(1.0)
    assert waiter.poll() is None  # still waiting for the lock
    released.set()
    holder.join()
    stdout, stderr = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, stderr
    assert stdout.strip().endswith(".html")
