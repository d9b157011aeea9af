"""Dispatch: a rule's actions for its alerts, reviews, notifications, locks, kept deliveries."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import yaml

from accessmon import webhook
from accessmon.alerts import load_rules, run_rule
from accessmon.alerts.state import PENDING

from .conftest import (
    DAY,
    NOW,
    REQ,
    RFC3339,
    ROOT_RULE,
    RULES,
    audit_events,
    calls,
    webhook_server,
    write_rules,
)


def test_teleport_rules_match_requests_and_review_them(make_session):
    with webhook_server() as hook:
        session = make_session(webhook_url=hook.url)
        ruleset = load_rules(session.config)
        runs = {
            name: run_rule(session, ruleset.rules[name], DAY, now=NOW)
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


def test_a_failing_webhook_is_recorded_and_the_run_goes_on(make_session, monkeypatch):
    monkeypatch.setattr(webhook, "BACKOFF_SECONDS", 0.01)  # the alerts' webhook code lives there
    with webhook_server(*[500] * 10) as hook:
        session = make_session(webhook_url=hook.url, webhook_retries=2)
        rule = load_rules(session.config).rules["dba-requests"]
        run = run_rule(session, rule, DAY, now=NOW)
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
        rule = load_rules(session.config).rules["root-logins"]
        run = run_rule(session, rule, DAY, now=NOW)
    assert run.ok, [a.detail for a in run.actions]
    payload = hook.requests[0]["json"]
    assert payload["severity"] == "high" and payload["recipients"] == ["#soc"]
    assert payload["alerts"] == [{"key": "alice@example.com", "key_columns": ["user"], "value": 2,
                                  "time": "2024-03-20T18:00:00Z", "rows_total": 1,
                                  "rows": [{"user": "alice@example.com", "login": "root",
                                            "count": 2}]}]  # fmt: skip
    assert "• user=alice@example.com: 2" in payload["text"]


def test_lock_yaml_parses_as_a_teleport_lock(make_session, tmp_path):
    login_rule = ROOT_RULE.replace("root-logins", "root-login-lock").replace(
        "{target: user,", "{target: login,"
    )
    folder = write_rules(tmp_path / "r", ROOT_RULE + "---\n" + login_rule)
    session = make_session(rules_dir=folder)
    ruleset = load_rules(session.config)
    for name, target, value in (("root-logins", "user", "alice@example.com"),
                                ("root-login-lock", "login", "root")):  # fmt: skip
        run = run_rule(session, ruleset.rules[name], DAY, now=NOW)
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
    rule = load_rules(session.config).rules["session_start_root_user"]
    run = run_rule(session, rule, DAY, now=NOW)
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
            run_rule(dry, load_rules(dry.config).rules[name], DAY, now=NOW)
        assert calls(stub_tctl) == []  # dry run by default, even with tctl on PATH
        session = make_session(
            rules_dir=folder, webhook_url=hook.url, apply=True,
            state_file=tmp_path / "applied-state.json",
        )  # fmt: skip
        ruleset = load_rules(session.config)
        lock_run = run_rule(session, ruleset.rules["root-logins"], DAY, now=NOW)
        review_run = run_rule(session, ruleset.rules["prod-db-approve"], DAY, now=NOW)
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
    rule = load_rules(session.config).rules["prod-db-approve"]
    run = run_rule(session, rule, DAY, now=NOW)
    (review,) = [a for a in run.actions if a.action == "tctl_review"]
    assert not review.ok and "tctl-missing not found on PATH" in review.detail
    assert not run.ok and run.error is None


def test_a_failed_webhook_delivery_is_kept_and_sent_by_the_next_run(make_session):
    with webhook_server(500) as hook:
        session = make_session(webhook_url=hook.url, webhook_retries=0)
        rule = load_rules(session.config).rules["dba-requests"]
        first = run_rule(session, rule, DAY, now=NOW)
        (failed,) = [a for a in first.actions if a.action == "webhook"]
        assert not failed.ok and failed.detail.endswith("kept for the next run")
        state = json.loads(Path(session.config.alerts.state_file).read_text())
        (kept,) = state[PENDING]["dba-requests"]
        assert kept["url"] == hook.url and kept["payload"] == hook.requests[0]["json"]
        later = NOW + dt.timedelta(minutes=5)
        second = run_rule(session, rule, DAY, now=later)
        assert second.ok and second.alerts == [] and second.suppressed == 2
        (redelivered,) = second.actions
        assert redelivered.ok and redelivered.detail.startswith("delivery kept from ")
        assert [r["json"] for r in hook.requests] == [kept["payload"]] * 2
        third = run_rule(session, rule, DAY, now=later)
        assert third.actions == [] and len(hook.requests) == 2
    state = json.loads(Path(session.config.alerts.state_file).read_text())
    assert state[PENDING] == {}


def test_a_failed_lock_keeps_no_cooldown_so_the_next_run_tries_again(make_session, tmp_path, monkeypatch):  # fmt: skip
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    folder = write_rules(tmp_path / "r", ROOT_RULE)
    session = make_session(rules_dir=folder, apply=True, tctl="tctl-missing")
    rule = load_rules(session.config).rules["root-logins"]
    first = run_rule(session, rule, DAY, now=NOW)
    assert [a.key for a in first.alerts] == ["alice@example.com"] and not first.ok
    second = run_rule(session, rule, DAY, now=NOW + dt.timedelta(hours=1))
    assert [a.key for a in second.alerts] == ["alice@example.com"] and second.suppressed == 0
