"""Alerts: Teleport access monitoring rules, detection rules, actions, cooldowns, roles.

Real stores, a real HTTP server on 127.0.0.1 for webhooks, a real stub `tctl` on PATH.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from accessmon.access import rbac, saved
from accessmon.alerts import actions
from accessmon.alerts import rules as alerts
from accessmon.errors import PermissionDenied
from accessmon.storage import audit

from .conftest import build_store, run, session_for

FIXTURES = Path(__file__).parent / "fixtures" / "alerts"
ROLES = FIXTURES / "roles.yaml"
RULES = FIXTURES / "rules"
EVENTS = [json.loads(line) for line in (FIXTURES / "events.jsonl").read_text().splitlines()]
DAY = {"start": "2024-03-20", "end": "2024-03-20"}
NOW = dt.datetime(2024, 3, 20, 18, 0, tzinfo=dt.UTC)
#: The fixture's access request ids: UUIDs, as Teleport's are (req-1 ... req-5).
REQ = {n: f"3f2b6c1e-5a4d-4c8e-9b7a-00000000000{n}" for n in range(1, 6)}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

ROOT_RULE = """
kind: detection_rule
name: root-logins
description: Repeated SSH sessions as root
severity: high
query: |
  SELECT user, login, count(*) AS count FROM session_start
  WHERE login = 'root' GROUP BY user, login
window: 1d
condition: {threshold: {column: count, op: ">=", value: 2, per: user}}
cooldown: 24h
actions:
  - alert_log
  - teleport_lock: {target: user, ttl: 1h, message: "root sessions: {value}"}
"""


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Webhook tests talk to 127.0.0.1 directly, whatever proxy the machine has."""
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("alerts"), EVENTS)


@pytest.fixture
def make_session(store, tmp_path):
    """A session as `user` over the fixture store, with alert files under tmp_path."""

    def factory(user: str = "analyst", rules_dir: Path = RULES, roles: bool = True, **alert_cfg):
        cfg = {
            "alert_log": tmp_path / "alerts.jsonl",
            "state_file": tmp_path / "state.json",
            **alert_cfg,
        }
        flags = {"user": user, "rules_dir": rules_dir, "alerts": cfg,
                 "audit_log": tmp_path / "audit.jsonl"}  # fmt: skip
        if roles:
            flags["rbac"] = {"resources": [ROLES]}
        return session_for(store, **flags)

    return factory


def write_rules(folder: Path, text: str, name: str = "rules.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


class Hook:
    """What the local webhook received, and what it answers next."""

    def __init__(self, url: str, responses: list) -> None:
        self.url = url
        self.responses = responses
        self.requests: list[dict] = []


@contextmanager
def webhook_server(*responses) -> Iterator[Hook]:
    """ThreadingHTTPServer on 127.0.0.1:0; each response is a status code or a delay (s)."""
    queue = list(responses)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hook.requests.append(
                {"path": self.path, "type": self.headers["Content-Type"], "json": json.loads(body)}
            )
            answer = queue.pop(0) if queue else 200
            if isinstance(answer, float):
                time.sleep(answer)
                answer = 200
            self.send_response(answer)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook = Hook(f"http://127.0.0.1:{server.server_address[1]}/hook", queue)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stub_tctl(tmp_path, monkeypatch) -> Path:
    """A real `tctl` executable first on PATH that records its arguments, one JSON line each."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "tctl-calls.jsonl"
    script = bindir / "tctl"
    script.write_text(
        "#!/bin/sh\n"
        f'exec python3 -c \'import json, sys; open("{record}", "a").write(json.dumps(sys.argv[1:]) + "\\n")\' "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bindir}:{__import__('os').environ['PATH']}")
    return record


def calls(record: Path) -> list[list[str]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def audit_events(session) -> list[dict]:
    return [
        e for e in audit.read(Path(session.config.audit_log)) if e["event"] == audit.ALERT_RUN[0]
    ]


# -- loading ----------------------------------------------------------------------------------


def test_builtin_rules_mirror_the_privileged_access_report(make_session, tmp_path):
    from accessmon.reports.definitions import load_definitions

    session = make_session(rules_dir=tmp_path / "none")
    ruleset = alerts.load_rules(session.config)
    assert ruleset.errors == []
    report = load_definitions(tmp_path / "none")[0]["privilege_access_report"]
    assert list(ruleset.rules) == [q.name for q in report.queries]
    for q in report.queries:
        rule = ruleset.rules[q.name]
        assert rule.builtin and rule.kind == "detection_rule" and rule.sql == q.query
        assert rule.severity in alerts.SEVERITIES
    root = ruleset.rules["session_start_root_user"]
    assert root.action_names() == ["alert_log", "teleport_lock"]
    assert root.resource.actions[1].teleport_lock.target == "user"


def test_teleport_rules_load_as_tctl_prints_them(make_session):
    ruleset = alerts.load_rules(make_session().config)
    assert ruleset.errors == []
    dba = ruleset.rules["dba-requests"]
    assert dba.kind == "access_monitoring_rule" and dba.source.endswith("teleport.yaml:2")
    assert dba.resource.spec.notification.recipients == ["#sec-alerts", "oncall@example.com"]
    assert dba.action_names() == ["alert_log", "webhook (webhook)", "tctl_review (DENIED)"]
    assert ruleset.rules["prod-db-approve"].source.endswith("teleport.yaml:17")
    assert ruleset.rules["dba-team"].warnings == ()  # user resources are configured


def test_user_traits_without_user_resources_warn(make_session):
    ruleset = alerts.load_rules(make_session(roles=False).config)
    assert any("user.traits" in w for w in ruleset.rules["dba-team"].warnings)


AMR = """kind: access_monitoring_rule
version: v1
metadata:
  name: bad
spec:
  subjects: [access_request]
  condition: 'contains(access_request.spec.roles, "x")'
"""
DET = """kind: detection_rule
name: bad
severity: high
query: SELECT user, count(*) AS count FROM session_start GROUP BY user
condition: {threshold: {column: count, value: 1, per: user}}
"""

# (original, replacement) in AMR or DET, the error's line, field, and words of the message
INVALID = [
    (DET, ("severity: high", "severty: high"), 3, "severty", "unknown field (did you mean severity?)"),
    (DET, ("severity: high", "severity: urgent"), 3, "severity", "'low', 'medium', 'high' or 'critical'"),
    (DET, ("name: bad", "name: bad name"), 2, "name", "should match pattern"),
    (DET, ("FROM session_start", "FROM sessions"), 4, "query.sql", "rule bad: unknown view sessions"),
    (DET, ("SELECT user,", "DELETE user,"), 4, "query.sql", "rule bad"),
    (DET, ("query: SELECT user, count(*) AS count FROM session_start GROUP BY user",
           "query: {saved: nope}"), 4, "query.saved", "no saved query nope"),
    (DET, ("query: SELECT user, count(*) AS count FROM session_start GROUP BY user",
           "query: {report: privilege_access_report, name: root}"), 4, "query.report",
     "report privilege_access_report has no query root"),
    (DET, ("query: SELECT user, count(*) AS count FROM session_start GROUP BY user",
           "query: {report: privilege_access_report}"), 4, "query", "report needs name"),
    (DET, ("condition: {threshold", "condition: {any_row: {}, threshold"), 5, "condition",
     "exactly one of any_row or threshold"),
    (DET, ("value: 1", "value: many"), 5, "condition.threshold.value", "valid number"),
    (DET, ("per: user}}", "per: user}}\ncooldown: soon"), 6, "cooldown", "'soon' is not a duration"),
    (DET, ("per: user}}", "per: user}}\nwindow: 1w"), 6, "window", "not a window like 1d"),
    (DET, ("per: user}}", "per: user}}\nactions:\n  - page_me"), 7, "actions.0.page_me", "unknown field"),
    (DET, ("per: user}}", "per: user}}\nactions:\n  - alert_log\n  - teleport_lock: {target: role}"),
     8, "actions.1.teleport_lock.target", "'user' or 'login'"),
    (DET, ("per: user}}", "per: user}}\nactions:\n  - webhook: {url: file:///etc/passwd}"),
     7, "actions.0.webhook.url", "should match pattern"),
    (DET, ("kind: detection_rule", "kind: detection"), 1, "kind", "expected access_monitoring_rule or detection_rule"),
    (AMR, ('"x")', '"x"'), 7, "spec.condition", "rule bad: column 40: expected ',' or ')'"),
    (AMR, ("access_request.spec.roles", "access_request.spec.role"), 7, "spec.condition",
     "rule bad: column 10: unknown field access_request.spec.role (did you mean access_request.spec.roles"),
    (AMR, ("  condition:", "  conditon:"), 7, "spec.conditon", "unknown field (did you mean condition?)"),
    (AMR, ("version: v1", "version: v2"), 2, "version", "'v1'"),
    (AMR, ("subjects: [access_request]", "subjects: [server]"), 6, "spec.subjects",
     "access_request subjects only"),
    (AMR, ("'\n", "'\n  automatic_review: {decision: MAYBE}\n"), 8, "spec.automatic_review.decision",
     "'APPROVED' or 'DENIED'"),
    (AMR, ("metadata:\n  name: bad\n", "metadata: {}\n"), 3, "metadata.name", "Field required"),
    (AMR, ("subjects: [access_request]", "subjects: [access_request"), None, None, "invalid YAML"),
]  # fmt: skip


@pytest.mark.parametrize(("base", "edit", "line", "field", "message"), INVALID)
def test_invalid_rules_name_file_line_and_field(make_session, tmp_path, base, edit, line, field, message):  # fmt: skip
    text = base.replace(*edit)
    assert text != base
    folder = write_rules(tmp_path / "rules", text)
    ruleset = alerts.load_rules(make_session(rules_dir=folder).config)
    assert "bad" not in ruleset.rules
    assert len(ruleset.errors) == 1, ruleset.errors
    error = ruleset.errors[0]
    path = folder / "rules.yaml"
    if field is None:
        assert error.startswith(f"{path}:"), error
    else:
        assert error.startswith(f"{path}:{line}: {field}: "), error
    assert message in error, error


def test_one_bad_document_does_not_hide_the_others(make_session, tmp_path):
    bad = DET.replace("severity: high", "severity: urgent")
    good = DET.replace("name: bad", "name: good")
    folder = write_rules(tmp_path / "rules", f"{good}---\n{bad}---\n{good}")
    ruleset = alerts.load_rules(make_session(rules_dir=folder).config)
    assert "good" in ruleset.rules
    assert [e.split(": ")[0] for e in ruleset.errors] == [
        f"{folder / 'rules.yaml'}:9",
        f"{folder / 'rules.yaml'}:13",
    ]
    assert "already defined at" in ruleset.errors[1]
    with pytest.raises(alerts.ConfigError, match="severity"):
        ruleset.get("bad")
    with pytest.raises(alerts.AccessmonError, match="did you mean good"):
        ruleset.get("goood")


def test_a_user_rule_replaces_a_builtin_of_the_same_name(make_session, tmp_path):
    text = DET.replace("name: bad", "name: session_start_root_user") + "enabled: false\n"
    ruleset = alerts.load_rules(make_session(rules_dir=write_rules(tmp_path / "r", text)).config)
    rule = ruleset.rules["session_start_root_user"]
    assert not rule.builtin and not rule.enabled and ruleset.errors == []


# -- Teleport rules ----------------------------------------------------------------------------


def test_teleport_rules_match_requests_and_review_them(make_session):
    with webhook_server() as hook:
        session = make_session(webhook_url=hook.url)
        ruleset = alerts.load_rules(session.config)
        runs = {
            name: alerts.run_rule(session, ruleset.rules[name], **DAY, now=NOW)
            for name in ("dba-requests", "prod-db-approve", "dba-team")
        }
    # break-glass (req-2) is excluded, bob asked for viewer (req-3), req-5 is outside the window
    assert [a.key for a in runs["dba-requests"].alerts] == [REQ[1], REQ[4]]
    assert [a.key for a in runs["prod-db-approve"].alerts] == [REQ[1]]
    # alice's user resource has team: dba; carol's request holds admin
    assert [a.key for a in runs["dba-team"].alerts] == [REQ[1], REQ[4]]
    reviews = [r.command for rr in runs.values() for r in rr.actions if r.action == "tctl_review"]
    assert reviews == [
        ["tctl", "request", "review", "--deny", "--author=analyst",
         "--reason=accessmon: access monitoring rule dba-requests (denied)", "--", REQ[1]],
        ["tctl", "request", "review", "--deny", "--author=analyst",
         "--reason=accessmon: access monitoring rule dba-requests (denied)", "--", REQ[4]],
        ["tctl", "request", "review", "--approve", "--author=analyst",
         "--reason=accessmon: access monitoring rule prod-db-approve (approved)", "--", REQ[1]],
    ]  # fmt: skip
    for rule_run in runs.values():
        assert rule_run.ok and rule_run.error is None
        assert all(r.dry_run for r in rule_run.actions if r.action == "tctl_review")
    # the notification went through the webhook, once per run, with its recipients
    assert len(hook.requests) == 1
    payload = hook.requests[0]["json"]
    assert hook.requests[0]["type"] == "application/json"
    assert payload["rule"] == "dba-requests" and payload["kind"] == "access_monitoring_rule"
    assert payload["recipients"] == ["#sec-alerts", "oncall@example.com"]
    assert payload["notification"] == "webhook"
    assert payload["request_ids"] == [REQ[1], REQ[4]]
    assert payload["window"] == {"start": "2024-03-20", "end": "2024-03-20"}
    assert payload["alerts"][0]["rows"][0]["roles"] == ["dba"]
    assert payload["text"].startswith("*[MEDIUM] accessmon rule dba-requests: 2 alerts")
    assert f"request {REQ[1]}: alice@example.com requested dba (incident 42)" in payload["text"]
    assert "For: #sec-alerts, oncall@example.com" in payload["text"]


def test_request_context_uses_teleport_resource_ids():
    row = {"id": "r", "user": "u", "roles": ["a"], "reason": None, "state": "PENDING",
           "resource_ids": [{"cluster": "c", "kind": "pod", "name": "k", "sub_resource": "ns/p"},
                            {"cluster": "c", "kind": "db", "name": "pg", "sub_resource": ""}]}  # fmt: skip
    context = alerts.request_context(row, {"u": {"team": ["x"]}})
    assert context["access_request.spec.resource_ids"] == ["/c/pod/k/ns/p", "/c/db/pg"]
    assert context["access_request.spec.reason"] == ""
    assert context["access_request.spec.request_id"] == "r"
    assert context["user.traits"] == {"team": ["x"]}
    assert set(context) == set(alerts.TELEPORT_FIELDS)


# -- webhooks ---------------------------------------------------------------------------------


def test_webhook_retries_after_a_500_with_backoff():
    delays: list[float] = []
    with webhook_server(500, 200) as hook:
        result = actions.post_webhook(hook.url, {"text": "hi"}, retries=3, sleep=delays.append)
    assert result.ok and result.attempts == 2, result.detail
    assert [r["json"] for r in hook.requests] == [{"text": "hi"}, {"text": "hi"}]
    assert delays == [0.2]


def test_webhook_gives_up_cleanly():
    delays: list[float] = []
    with webhook_server(503, 502, 500, 500) as hook:
        result = actions.post_webhook(hook.url, {"text": "x"}, retries=2, sleep=delays.append)
    assert not result.ok and result.attempts == 3 and len(hook.requests) == 3
    assert "gave up after 3 attempts: HTTP 500" in result.detail
    assert delays == [0.2, 0.4]
    # a 4xx is not retried
    with webhook_server(404) as hook:
        result = actions.post_webhook(hook.url, {"text": "x"}, retries=3, sleep=delays.append)
    assert not result.ok and result.attempts == 1 and "HTTP 404" in result.detail


def test_webhook_timeouts_are_retried_and_bounded():
    with webhook_server(1.0, 1.0) as hook:
        started = time.monotonic()
        result = actions.post_webhook(
            hook.url, {"text": "x"}, timeout=0.2, retries=1, sleep=lambda s: None
        )
        elapsed = time.monotonic() - started
    assert not result.ok and result.attempts == 2 and "timed out" in result.detail
    assert elapsed < 1.5


def test_webhook_to_a_closed_port_or_a_file_url_fails_cleanly():
    with webhook_server() as hook:
        url = hook.url
    result = actions.post_webhook(url, {"text": "x"}, retries=1, sleep=lambda s: None)
    assert not result.ok and result.attempts == 2
    assert not actions.post_webhook("file:///etc/passwd", {}).ok


def test_a_failing_webhook_is_recorded_and_the_run_goes_on(make_session, monkeypatch):
    monkeypatch.setattr(actions, "BACKOFF_SECONDS", 0.01)
    with webhook_server(*[500] * 10) as hook:
        session = make_session(webhook_url=hook.url, webhook_retries=2)
        rule = alerts.load_rules(session.config).rules["dba-requests"]
        run = alerts.run_rule(session, rule, **DAY, now=NOW)
    assert len(hook.requests) == 3
    assert run.error is None and not run.ok and len(run.alerts) == 2
    failed = [a for a in run.actions if not a.ok]
    assert [a.action for a in failed] == ["webhook"]
    assert [a.action for a in run.actions if a.ok] == ["alert_log", "alert_log", "tctl_review",
                                                      "tctl_review"]  # fmt: skip
    event = audit_events(session)[-1]
    assert event["code"] == "AMA001W" and event["alerts"] == 2 and "gave up" in event["error"]


def test_detection_rule_webhook_payload(make_session, tmp_path):
    text = ROOT_RULE.replace("  - alert_log\n", "  - webhook: {recipients: ['#soc']}\n")
    with webhook_server() as hook:
        session = make_session(rules_dir=write_rules(tmp_path / "r", text), webhook_url=hook.url)
        rule = alerts.load_rules(session.config).rules["root-logins"]
        run = alerts.run_rule(session, rule, **DAY, now=NOW)
    assert run.ok, [a.detail for a in run.actions]
    payload = hook.requests[0]["json"]
    assert payload["severity"] == "high" and payload["recipients"] == ["#soc"]
    assert payload["alerts"] == [{"key": "alice@example.com", "key_columns": ["user"], "value": 2,
                                  "time": "2024-03-20T18:00:00Z", "rows_total": 1,
                                  "rows": [{"user": "alice@example.com", "login": "root",
                                            "count": 2}]}]  # fmt: skip
    assert "• user=alice@example.com: 2" in payload["text"]


# -- detection rules, cooldown ----------------------------------------------------------------


def test_threshold_and_any_row_conditions(make_session, tmp_path):
    any_row = (
        ROOT_RULE.replace("root-logins", "per-login")
        .replace(
            'condition: {threshold: {column: count, op: ">=", value: 2, per: user}}',
            "condition: {any_row: {key: login}}",
        )
        .replace("WHERE login = 'root' ", "")
    )
    folder = write_rules(tmp_path / "r", ROOT_RULE + "---\n" + any_row)
    session = make_session(rules_dir=folder)
    ruleset = alerts.load_rules(session.config)
    root = alerts.run_rule(session, ruleset.rules["root-logins"], **DAY, now=NOW, dry_run=True)
    assert [(a.key, a.value, a.label) for a in root.alerts] == [
        ("alice@example.com", 2, "user=alice@example.com")
    ]
    logins = alerts.run_rule(session, ruleset.rules["per-login"], **DAY, now=NOW, dry_run=True)
    assert [(a.key, a.value) for a in logins.alerts] == [("root", 2), ("ubuntu", 1)]


def test_a_missing_column_is_a_rule_error_not_a_crash(make_session, tmp_path):
    text = ROOT_RULE.replace("per: user", "per: usr")
    session = make_session(rules_dir=write_rules(tmp_path / "r", text))
    rule = alerts.load_rules(session.config).rules["root-logins"]
    run = alerts.run_rule(session, rule, **DAY, now=NOW)
    assert "column usr is not in the query's results" in run.error
    assert "did you mean user" in run.error
    assert audit_events(session)[-1]["code"] == "AMA001W"


def test_saved_query_reference(make_session, tmp_path, store):
    session = make_session(rules_dir=tmp_path / "r")
    session = session_for(store, **{**_flags(session), "queries_dir": tmp_path / "queries"})
    sql = "SELECT user, count(*) AS count FROM session_start WHERE login = 'root' GROUP BY user"
    saved.save(tmp_path / "queries", saved.AuditQuery("roots", sql))
    text = ROOT_RULE.split("query: |")[0] + (
        "query: {saved: roots}\ncondition: {threshold: {column: count, value: 0, per: user}}\n"
    )
    write_rules(tmp_path / "r", text)
    rule = alerts.load_rules(session.config).rules["root-logins"]
    run = alerts.run_rule(session, rule, **DAY, now=NOW, dry_run=True)
    assert [a.key for a in run.alerts] == ["alice@example.com", "bob@example.com"]


def _flags(session) -> dict:
    c = session.config
    return {"user": c.user, "rules_dir": c.rules_dir, "audit_log": c.audit_log,
            "alerts": c.alerts.model_dump(), "rbac": {"resources": c.rbac.resources}}  # fmt: skip


def test_alerts_are_deduplicated_across_runs_within_the_cooldown(make_session, tmp_path):
    session = make_session(rules_dir=write_rules(tmp_path / "r", ROOT_RULE))
    rule = alerts.load_rules(session.config).rules["session_start_root_user"]
    first = alerts.run_rule(session, rule, **DAY, now=NOW)
    assert [a.key for a in first.alerts] == ["alice@example.com", "bob@example.com"]
    second = alerts.run_rule(session, rule, **DAY, now=NOW + dt.timedelta(hours=23))
    assert second.alerts == [] and second.suppressed == 2 and second.actions == []
    third = alerts.run_rule(session, rule, **DAY, now=NOW + dt.timedelta(hours=24, minutes=1))
    assert len(third.alerts) == 2 and third.suppressed == 0
    log = [json.loads(x) for x in Path(session.config.alerts.alert_log).read_text().splitlines()]
    assert [(r["rule"], r["key"]) for r in log] == [(rule.name, "alice@example.com"),
                                                   (rule.name, "bob@example.com")] * 2  # fmt: skip
    assert set(log[0]) >= {"rule", "severity", "key", "value", "window", "rows", "time"}
    assert log[0]["value"] == 2 and log[0]["window"] == DAY and log[0]["severity"] == "high"
    assert log[0]["rows"][0]["count"] == 2 and log[0]["time"] == "2024-03-20T18:00:00Z"
    state = json.loads(Path(session.config.alerts.state_file).read_text())
    assert set(state[rule.name]) == {"alice@example.com", "bob@example.com"}
    # Teleport rules: a request alerts once
    dba = alerts.load_rules(session.config).rules
    session2 = make_session(webhook_url="http://127.0.0.1:9/unused")
    dba = alerts.load_rules(session2.config).rules["prod-db-approve"]
    assert len(alerts.run_rule(session2, dba, **DAY, now=NOW).alerts) == 1
    later = alerts.run_rule(session2, dba, **DAY, now=NOW + dt.timedelta(days=30))
    assert later.alerts == [] and later.suppressed == 1


def test_dry_run_writes_nothing(make_session, tmp_path, stub_tctl):
    session = make_session(apply=True, rules_dir=write_rules(tmp_path / "r", ROOT_RULE))
    rule = alerts.load_rules(session.config).rules["root-logins"]
    run = alerts.run_rule(session, rule, **DAY, now=NOW, dry_run=True)
    assert len(run.alerts) == 1 and all(a.dry_run for a in run.actions)
    assert not Path(session.config.alerts.alert_log).exists()
    assert not Path(session.config.alerts.state_file).exists()
    assert not (tmp_path / "locks").exists()
    assert calls(stub_tctl) == []
    assert audit_events(session)[-1]["dry_run"] is True
    # the next real run still alerts: a dry run keeps no cooldown state
    assert len(alerts.run_rule(session, rule, **DAY, now=NOW).alerts) == 1


def test_concurrent_runs_alert_once(tmp_path):
    state = tmp_path / "state.json"
    barrier = threading.Barrier(8)
    won: list[set[str]] = []

    def worker() -> None:
        barrier.wait()
        won.append(alerts.claim(state, "r", ["k1", "k2"], dt.timedelta(hours=1), NOW))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(sorted, won)) == [[]] * 7 + [["k1", "k2"]]
    assert set(json.loads(state.read_text())["r"]) == {"k1", "k2"}
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_held_state_lock_times_out_cleanly(tmp_path):
    state = tmp_path / "state.json"
    with alerts._state_lock(state, 1), pytest.raises(alerts.AlertStateError, match="try again"):
        alerts.claim(state, "r", ["k"], dt.timedelta(hours=1), NOW, wait_seconds=0.1)
    state.write_text("{not json")
    with pytest.raises(alerts.AlertStateError, match="delete it"):
        alerts.read_state(state)


# -- locks, dry run, apply ---------------------------------------------------------------------


def test_lock_yaml_parses_as_a_teleport_lock(make_session, tmp_path):
    login_rule = ROOT_RULE.replace("root-logins", "root-login-lock").replace(
        "{target: user,", "{target: login,"
    )
    folder = write_rules(tmp_path / "r", ROOT_RULE + "---\n" + login_rule)
    session = make_session(rules_dir=folder)
    ruleset = alerts.load_rules(session.config)
    for name, target, value in (("root-logins", "user", "alice@example.com"),
                                ("root-login-lock", "login", "root")):  # fmt: skip
        run = alerts.run_rule(session, ruleset.rules[name], **DAY, now=NOW)
        (lock,) = [a for a in run.actions if a.action == "teleport_lock"]
        assert lock.ok and lock.dry_run
        assert lock.command == ["tctl", "create", "-f", "--", lock.path]
        path = Path(lock.path)
        assert path.parent == tmp_path / "locks"
        doc = yaml.safe_load(path.read_text())
        assert doc["kind"] == "lock" and doc["version"] == "v2"
        assert re.fullmatch(r"accessmon-[a-z0-9-]+", doc["metadata"]["name"])
        assert doc["spec"]["target"] == {target: value}
        assert doc["spec"]["message"] == "root sessions: 2"
        assert RFC3339.match(doc["spec"]["expires"])
        expires = dt.datetime.fromisoformat(doc["spec"]["expires"].replace("Z", "+00:00"))
        assert expires == NOW + dt.timedelta(hours=1)
        assert set(doc) == {"kind", "version", "metadata", "spec"}


def test_builtin_root_rule_alerts_and_dry_run_locks_the_user(make_session, tmp_path):
    session = make_session(rules_dir=tmp_path / "none")
    rule = alerts.load_rules(session.config).rules["session_start_root_user"]
    run = alerts.run_rule(session, rule, **DAY, now=NOW)
    assert [(a.key, a.value) for a in run.alerts] == [("alice@example.com", 2),
                                                     ("bob@example.com", 1)]  # fmt: skip
    locks = [a for a in run.actions if a.action == "teleport_lock"]
    assert [yaml.safe_load(Path(a.path).read_text())["spec"]["target"] for a in locks] == [
        {"user": "alice@example.com"}, {"user": "bob@example.com"}
    ]  # fmt: skip
    assert all(a.dry_run and "would run: tctl create -f" in a.detail for a in locks)


def test_apply_runs_tctl_from_path(make_session, tmp_path, stub_tctl):
    folder = write_rules(tmp_path / "r", ROOT_RULE)
    (folder / "teleport.yaml").write_text((RULES / "teleport.yaml").read_text())
    with webhook_server() as hook:
        dry = make_session(rules_dir=folder, webhook_url=hook.url)
        for name in ("root-logins", "prod-db-approve"):
            alerts.run_rule(dry, alerts.load_rules(dry.config).rules[name], **DAY, now=NOW)
        assert calls(stub_tctl) == []  # dry run by default, even with tctl on PATH
        session = make_session(
            rules_dir=folder, webhook_url=hook.url, apply=True,
            state_file=tmp_path / "applied-state.json",
        )  # fmt: skip
        ruleset = alerts.load_rules(session.config)
        lock_run = alerts.run_rule(session, ruleset.rules["root-logins"], **DAY, now=NOW)
        review_run = alerts.run_rule(session, ruleset.rules["prod-db-approve"], **DAY, now=NOW)
    assert lock_run.ok and review_run.ok
    (lock,) = [a for a in lock_run.actions if a.action == "teleport_lock"]
    assert not lock.dry_run and lock.detail.startswith("lock user alice@example.com: ran tctl")
    assert calls(stub_tctl) == [
        ["create", "-f", "--", lock.path],
        ["request", "review", "--approve", "--author=analyst",
         "--reason=accessmon: access monitoring rule prod-db-approve (approved)", "--", REQ[1]],
    ]  # fmt: skip
    assert audit_events(session)[-1]["applied"] is True


def test_apply_without_tctl_on_path_is_recorded(make_session, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    session = make_session(apply=True, tctl="tctl-missing")
    rule = alerts.load_rules(session.config).rules["prod-db-approve"]
    run = alerts.run_rule(session, rule, **DAY, now=NOW)
    (review,) = [a for a in run.actions if a.action == "tctl_review"]
    assert not review.ok and "tctl-missing not found on PATH" in review.detail
    assert not run.ok and run.error is None


def test_failing_tctl_is_recorded(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "tctl").write_text("#!/bin/sh\necho 'ERROR: access denied' >&2\nexit 3\n")
    (bindir / "tctl").chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    result = actions.run_tctl(["tctl", "create", "-f", "x.yaml"], apply=True)
    assert not result.ok and "exit 3: ERROR: access denied" in result.detail


# -- roles and audit --------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["viewer", "auditor-only", "nobody"])
def test_denied_users_cannot_run_rules(make_session, user):
    session = make_session(user=user)
    with pytest.raises(PermissionDenied, match="may not use access_monitoring_rule"):
        alerts.run_rules(session, "dba-requests", **DAY)
    rule = alerts.load_rules(session.config).rules["dba-requests"]
    with pytest.raises(PermissionDenied):
        alerts.run_rule(session, rule, **DAY)
    events = audit_events(session)
    assert [e["code"] for e in events] == ["AMA001W", "AMA001W"]
    assert events[0]["name"] == "dba-requests" and events[0]["success"] is False
    assert not Path(session.config.alerts.alert_log).exists()


def test_listing_needs_list_and_running_needs_use_on_audit_query(make_session, tmp_path):
    assert "dba-requests" in alerts.list_rules(make_session(user="viewer")).rules
    # the auditor preset may see the rules, but not run them (test_denied_users_cannot_run_rules)
    assert "dba-requests" in alerts.list_rules(make_session(user="auditor-only")).rules
    with pytest.raises(PermissionDenied, match="may not list access_monitoring_rule"):
        alerts.list_rules(make_session(user="nobody"))
    roles = tmp_path / "roles.yaml"
    roles.write_text(
        ROLES.read_text()
        + "---\nkind: role\nversion: v7\nmetadata: {name: no-sql}\nspec:\n  allow:\n    rules:\n"
        "    - resources: [access_monitoring_rule]\n      verbs: [list, use]\n"
        "---\nkind: user\nversion: v2\nmetadata: {name: nosql}\nspec: {roles: [no-sql]}\n"
    )
    session = make_session(user="nosql", roles=False)
    session = session_for(
        session.config.store, **{**_flags(session), "rbac": {"resources": [roles]}}
    )
    with pytest.raises(PermissionDenied, match="may not use audit_query"):
        alerts.run_rules(session, "dba-requests", **DAY)


def test_every_run_is_audited(make_session, tmp_path):
    session = make_session(rules_dir=write_rules(tmp_path / "r", ROOT_RULE))
    runs, errors = alerts.run_rules(session, None, **DAY, now=NOW)
    assert errors == []
    names = [r.rule for r in runs]
    assert "root-logins" in names and "session_start_root_user" in names
    events = audit_events(session)
    assert [e["name"] for e in events] == names
    root = next(e for e in events if e["name"] == "root-logins")
    assert root["code"] == "AMA001I" and root["alerts"] == 1 and root["user"] == "analyst"
    assert root["from"] == "2024-03-20" and root["rule_kind"] == "detection_rule"
    assert [a["action"] for a in root["actions"]] == ["alert_log", "teleport_lock"]


def test_single_user_mode_follows_the_editor_preset(make_session, tmp_path):
    """Without rbac.resources the analyst is `editor`; rules run once that preset grants them."""
    session = make_session(roles=False, rules_dir=tmp_path / "none")
    granted = rbac.decide(rbac.Policy(), "x", "use", "access_monitoring_rule").allowed
    if granted:
        runs, _ = alerts.run_rules(session, "session_start_root_user", **DAY, now=NOW)
        assert len(runs[0].alerts) == 2
    else:
        with pytest.raises(PermissionDenied, match="access_monitoring_rule"):
            alerts.run_rules(session, "session_start_root_user", **DAY, now=NOW)


# -- command line -----------------------------------------------------------------------------


@pytest.fixture
def workdir(store, tmp_path) -> Path:
    folder = write_rules(tmp_path / "rules", ROOT_RULE, "root.yaml")
    (folder / "teleport.yaml").write_text((RULES / "teleport.yaml").read_text())
    (tmp_path / "accessmon.yaml").write_text(
        yaml.safe_dump(
            {
                "store": str(store),
                "rules_dir": "rules",
                "audit_log": "audit.jsonl",
                "rbac": {"resources": [str(ROLES)]},
                "alerts": {
                    "alert_log": "out/alerts.jsonl",
                    "state_file": "out/state.json",
                    "webhook_retries": 0,
                    "webhook_timeout_seconds": 2,
                },
            }
        )
    )
    return tmp_path


def test_cli_alert_ls(workdir):
    out = run(["alert", "ls", "--user", "analyst"], workdir)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 13
    assert re.search(r"^dba-requests +access_monitoring_rule +medium +2d +alert_log, webhook "
                     r"\(webhook\), tctl_review \(DENIED\) +\(.*teleport.yaml:2\)$",
                     out.stdout, re.M)  # fmt: skip
    assert re.search(r"^session_start_root_user +detection_rule +high +1d +alert_log, "
                     r"teleport_lock +\(built-in\)$", out.stdout, re.M)  # fmt: skip
    denied = run(["alert", "ls", "--user", "nobody"], workdir)
    assert denied.returncode == 1 and "may not list access_monitoring_rule" in denied.stderr
    assert "Traceback" not in denied.stderr
    (workdir / "rules" / "bad.yaml").write_text(DET.replace("severity: high", "severity: x"))
    broken = run(["alert", "ls", "--user", "analyst"], workdir)
    assert broken.returncode == 1 and "bad.yaml:3: severity:" in broken.stderr
    assert "dba-requests" in broken.stdout


def test_cli_alert_run(workdir):
    with webhook_server() as hook:
        config = yaml.safe_load((workdir / "accessmon.yaml").read_text())
        config["alerts"]["webhook_url"] = hook.url
        (workdir / "accessmon.yaml").write_text(yaml.safe_dump(config))
        day = ["--from", "2024-03-20", "--to", "2024-03-20"]
        out = run(["alert", "run", "dba-requests", *day, "--user", "analyst"], workdir)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[0] == (
            "dba-requests: 2 alerts (0 within cooldown) over 2024-03-20 to 2024-03-20"
        )
        assert f"  ALERT medium   dba-requests id={REQ[1]} value=1" in out.stdout
        reason = shlex.quote("--reason=accessmon: access monitoring rule dba-requests (denied)")
        assert (f"    tctl_review: dry run: would run: tctl request review --deny "
                f"--author=analyst {reason} -- {REQ[1]} (alerts.apply is false)") in out.stdout  # fmt: skip
        assert f"  webhook: ok: POST {hook.url} -> 200" in out.stdout
        assert len(hook.requests) == 1
        again = run(["alert", "run", "dba-requests", *day, "--user", "analyst"], workdir)
        assert again.returncode == 0 and "0 alerts (2 within cooldown)" in again.stdout
        everything = run(["alert", "run", "--all", "--dry-run", *day, "--user", "analyst"], workdir)
    assert everything.returncode == 0, everything.stderr
    assert "root-logins: 1 alert (0 within cooldown)" in everything.stdout
    assert (
        "[dry run]" in everything.stdout
        and "would lock user alice@example.com" in everything.stdout
    )
    assert len(hook.requests) == 1
    assert "Traceback" not in everything.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--user", "analyst"], 2, "give a rule NAME or --all"),
        (["nope", "--all", "--user", "analyst"], 2, "give a rule NAME or --all"),
        (["nope", "--user", "analyst"], 1, "error: no rule nope"),
        (["dba-requests", "--user", "viewer"], 1, "may not use access_monitoring_rule"),
        (["dba-requests", "--days", "2", "--from", "2024-03-20", "--user", "analyst"], 1,
         "give either --days or --from/--to"),
    ],
)  # fmt: skip
def test_cli_alert_run_mistakes(workdir, monkeypatch, args, code, message):
    """In process, for speed; the logger `main` sets up is put back for other tests."""
    import logging

    from click.testing import CliRunner

    from accessmon.ui.cli.app import main

    log = logging.getLogger("accessmon")
    monkeypatch.setattr(log, "handlers", list(log.handlers))
    monkeypatch.setattr(log, "propagate", log.propagate)
    config = str(workdir / "accessmon.yaml")
    result = CliRunner().invoke(main, ["alert", "run", *args, "--config", config])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_failed_action_exits_non_zero(workdir):
    with webhook_server(500) as hook:
        config = yaml.safe_load((workdir / "accessmon.yaml").read_text())
        config["alerts"]["webhook_url"] = hook.url
        (workdir / "accessmon.yaml").write_text(yaml.safe_dump(config))
        out = run(["alert", "run", "dba-requests", "--from", "2024-03-20", "--to", "2024-03-20",
                   "--user", "analyst"], workdir)  # fmt: skip
    assert out.returncode == 1
    assert "error: dba-requests: webhook: POST" in out.stderr and "HTTP 500" in out.stderr
    assert "Traceback" not in out.stderr
    assert "alert_log: ok" in out.stdout


# -- issue 14.15: failed deliveries are kept, a total deadline, no redirects for a POST ---------


def test_a_failed_webhook_delivery_is_kept_and_sent_by_the_next_run(make_session):
    with webhook_server(500) as hook:
        session = make_session(webhook_url=hook.url, webhook_retries=0)
        rule = alerts.load_rules(session.config).rules["dba-requests"]
        first = alerts.run_rule(session, rule, **DAY, now=NOW)
        (failed,) = [a for a in first.actions if a.action == "webhook"]
        assert not failed.ok and failed.detail.endswith("kept for the next run")
        state = json.loads(Path(session.config.alerts.state_file).read_text())
        (kept,) = state[alerts.PENDING]["dba-requests"]
        assert kept["url"] == hook.url and kept["payload"] == hook.requests[0]["json"]
        later = NOW + dt.timedelta(minutes=5)
        second = alerts.run_rule(session, rule, **DAY, now=later)
        assert second.ok and second.alerts == [] and second.suppressed == 2
        (redelivered,) = second.actions
        assert redelivered.ok and redelivered.detail.startswith("delivery kept from ")
        assert [r["json"] for r in hook.requests] == [kept["payload"]] * 2
        third = alerts.run_rule(session, rule, **DAY, now=later)
        assert third.actions == [] and len(hook.requests) == 2
    state = json.loads(Path(session.config.alerts.state_file).read_text())
    assert state[alerts.PENDING] == {}


def test_a_failed_lock_keeps_no_cooldown_so_the_next_run_tries_again(make_session, tmp_path, monkeypatch):  # fmt: skip
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    folder = write_rules(tmp_path / "r", ROOT_RULE)
    session = make_session(rules_dir=folder, apply=True, tctl="tctl-missing")
    rule = alerts.load_rules(session.config).rules["root-logins"]
    first = alerts.run_rule(session, rule, **DAY, now=NOW)
    assert [a.key for a in first.alerts] == ["alice@example.com"] and not first.ok
    second = alerts.run_rule(session, rule, **DAY, now=NOW + dt.timedelta(hours=1))
    assert [a.key for a in second.alerts] == ["alice@example.com"] and second.suppressed == 0


class _Trickle(BaseHTTPRequestHandler):
    """Answers a POST with a status line, then one header byte every 50 ms."""

    total = 200
    sent = 0
    cut = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(self.total):
                self.wfile.write(b"x")
                self.wfile.flush()
                type(self).sent += 1
                time.sleep(0.05)
            self.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            type(self).cut.set()

    def log_message(self, *args) -> None:
        pass


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_trickles_headers_meets_the_total_deadline():
    with _serve(_Trickle) as url:
        result = actions.post_webhook(url, {"text": "x"}, timeout=0.5, retries=1)
        assert _Trickle.cut.wait(30), "the server never saw the client leave"
    assert not result.ok and "deadline" in result.detail, result.detail
    assert result.attempts == 1 and _Trickle.sent < _Trickle.total


class _Redirect(BaseHTTPRequestHandler):
    gets: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(302)
        self.send_header("Location", "/landing")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        type(self).gets.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_redirect_to_a_post_is_a_failure_not_a_get():
    with _serve(_Redirect) as url:
        result = actions.post_webhook(url, {"text": "x"}, retries=3, sleep=lambda s: None)
    assert not result.ok and result.attempts == 1
    assert "HTTP 302" in result.detail and "redirects are not followed" in result.detail
    assert _Redirect.gets == []
