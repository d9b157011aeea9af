"""`accessmon report run --notify`: the summary posted to a real webhook on 127.0.0.1 through
the real CLI, its retries and its audit line; and the summary's text on its own."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from accessmon.reports.notify import send, summary_text
from accessmon.reports.results import Finding, QueryOutcome, ReportRun, read_results
from accessmon.session import Session
from accessmon.storage import audit

from ..alerts.conftest import _no_proxy, webhook_server  # noqa: F401 (autouse: no proxy)
from ..conftest import run as cli

NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            "http_proxy": "", "HTTP_PROXY": "", "https_proxy": "", "HTTPS_PROXY": ""}  # fmt: skip


def project(folder: Path, store: Path, **report) -> Path:
    """A folder whose accessmon.yaml reads the demo store and writes under itself."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"store": str(store), "output_dir": "out", "audit_log": "audit.jsonl",
           "alerts": {"webhook_retries": 2, "webhook_timeout_seconds": 5}, "report": report}  # fmt: skip
    (folder / "accessmon.yaml").write_text(yaml.safe_dump(doc))
    return folder


def notify_lines(folder: Path) -> list[dict]:
    return [e for e in audit.read(folder / "audit.jsonl") if e["event"] == audit.REPORT_NOTIFY[0]]


def test_notify_gives_up_keeping_the_files_then_retries_and_posts_the_summary(workdir, tmp_path):
    """Through the CLI, a webhook that never accepts: exit 1, the files kept; then the same
    summary to one that fails once and accepts: the retry, the body, the audit line."""
    with webhook_server(503, 502, 500) as hook:
        folder = project(tmp_path / "p", workdir / "data" / "audit", webhook_url=hook.url)
        out = cli(["report", "run", "privilege_access_report", "--days", "3", "--notify"], folder,
                  env=NO_PROXY)  # fmt: skip
    assert out.returncode == 1
    assert len(hook.requests) == 3  # webhook_retries: 2
    html = folder / out.stdout.splitlines()[0]
    assert html.is_file() and html.with_suffix(".json").is_file()
    [error] = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    host = hook.url.split("/")[2]
    assert error == (f"error: --notify: privilege_access_report: POST the webhook at {host} gave "
                     "up after 3 attempts: HTTP 500 Internal Server Error (the report's files "
                     "are written)")  # fmt: skip
    assert "Traceback" not in out.stderr
    [line] = notify_lines(folder)
    assert (line["code"], line["success"], line["attempts"]) == ("AMR005W", False, 3)
    assert "HTTP 500" in line["error"] and hook.url not in line["error"]
    state = cli(["report", "state", "privilege_access_report"], folder)
    assert "SUCCESS" in state.stdout  # the run itself succeeded
    # the same run's summary again, in process, to a webhook that fails once then accepts
    with webhook_server(500, 200) as hook:
        project(folder, workdir / "data" / "audit", webhook_url=hook.url)
        session = Session(config_file=folder / "accessmon.yaml")
        done = send(session, read_results(html.with_suffix(".json")), html)
    assert done.ok, done.detail
    assert len(hook.requests) == 2  # a 500, then the retry that was taken
    assert hook.requests[0]["json"] == hook.requests[1]["json"]
    assert hook.requests[1]["type"] == "application/json"
    body = hook.requests[1]["json"]
    assert list(body) == ["text"]  # Slack's shape
    results = html.with_suffix(".json")
    doc = json.loads(results.read_text())
    lines = body["text"].splitlines()
    window = doc["window"]
    assert lines[0] == (f"*Privileged Access Report* (privilege_access_report): "
                        f"{window['start']} to {window['end']}")  # fmt: skip
    totals = doc["totals"]
    assert lines[1].startswith(
        f"{totals['new']} new, {totals['persisting']} persisting, {totals['resolved']} resolved"
    )
    assert lines[-1] == f"Report: {html}"
    assert body["text"] == summary_text(read_results(results), html)
    line = notify_lines(folder)[-1]
    assert (line["code"], line["success"], line["attempts"], line["status"]) == (
        "AMR005I", True, 2, 200,
    )  # fmt: skip
    host = hook.url.split("/")[2]
    assert line["host"] == host and line["html"] == str(html)
    assert "/hook" not in json.dumps(line)  # the URL's path (a Slack hook's secret) is not kept


def test_notify_without_a_webhook_fails_before_running(workdir, tmp_path):
    folder = project(tmp_path / "p", workdir / "data" / "audit")
    out = cli(["report", "run", "privilege_access_report", "--notify"], folder)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        f"error: --notify needs a webhook: set report.webhook_url (or alerts.webhook_url) in "
        f"{(folder / 'accessmon.yaml').resolve()}"
    )
    assert not (folder / "out").exists() and out.stdout == ""


def test_notify_falls_back_to_the_alerts_webhook(workdir, tmp_path):
    """In process: alerts.webhook_url serves when report.webhook_url is not set."""
    from accessmon.config import load_config
    from accessmon.reports.notify import webhook_url

    folder = project(tmp_path / "p", workdir / "data" / "audit")
    doc = yaml.safe_load((folder / "accessmon.yaml").read_text())
    doc["alerts"]["webhook_url"] = "http://127.0.0.1:9/alerts"
    (folder / "accessmon.yaml").write_text(yaml.safe_dump(doc))
    config = load_config(folder / "accessmon.yaml", environ={})
    assert webhook_url(config) == "http://127.0.0.1:9/alerts"
    doc["report"]["webhook_url"] = "http://127.0.0.1:9/report"
    (folder / "accessmon.yaml").write_text(yaml.safe_dump(doc))
    assert webhook_url(load_config(folder / "accessmon.yaml", environ={})) == (
        "http://127.0.0.1:9/report"
    )


def _run_with_findings() -> ReportRun:
    def outcome(name: str, title: str, items: list[Finding], resolved: int = 0) -> QueryOutcome:
        q = QueryOutcome(name, title, "", "", {}, "SELECT 1")
        q.items = items
        q.resolved = [Finding({"user": f"gone{n}"}, 1, status="resolved") for n in range(resolved)]
        return q

    roots = [Finding({"user": f"u{n}"}, n, status="new") for n in range(1, 5)]
    roots.append(Finding({"user": "old"}, 99, status="persisting", age_days=3))
    roots.append(Finding({"user": "hidden"}, 500, status="new", suppression="accepted"))
    tokens = [Finding({"node_name": "<https://evil|n1> & co", "host_id": "h1"}, 7, status="new"),
              Finding({"node_name": "n2", "host_id": "h2"}, 2, status="new")]  # fmt: skip
    return ReportRun(
        name="r", title="Report", description="", version="1", generated_at="", user="u",
        window={"start": "2024-03-14", "end": "2024-03-20", "days": 7}, previous_window={},
        engine="duckdb", queries=[outcome("root", "Root", roots, resolved=2),
                                  outcome("tokens", "Tokens", tokens)],
        quality={"warnings": ["Stale data: the newest event is old.", "2 days are empty."]},
    )  # fmt: skip


def test_summary_names_the_top_five_open_new_findings_largest_first():
    text = summary_text(_run_with_findings(), "/r/report.html")
    assert text.splitlines() == [
        "*Report* (r): 2024-03-14 to 2024-03-20",
        "7 new, 1 persisting, 2 resolved (1 suppressed)",
        ":warning: data quality: Stale data: the newest event is old. (+1 more)",
        "Top new findings:",
        "• Tokens: node_name=&lt;https://evil|n1&gt; &amp; co, host_id=h1 (7)",
        "• Root: user=u4 (4)",
        "• Root: user=u3 (3)",
        "• Root: user=u2 (2)",
        "• Tokens: node_name=n2, host_id=h2 (2)",
        "… and 1 more",
        "Report: /r/report.html",
    ]
