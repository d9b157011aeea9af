"""Running rules: cooldowns across runs, dry runs, role checks and the audit trail."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from accessmon.access import rbac
from accessmon.alerts import list_rules, load_rules, run_rule, run_rules
from accessmon.errors import PermissionDenied

from ..conftest import session_for
from .conftest import DAY, NOW, ROLES, ROOT_RULE, audit_events, calls, flags_of, write_rules


def test_alerts_are_deduplicated_across_runs_within_the_cooldown(make_session, tmp_path):
    session = make_session(rules_dir=write_rules(tmp_path / "r", ROOT_RULE))
    rule = load_rules(session.config).rules["session_start_root_user"]
    first = run_rule(session, rule, DAY, now=NOW)
    assert [a.key for a in first.alerts] == ["alice@example.com", "bob@example.com"]
    second = run_rule(session, rule, DAY, now=NOW + dt.timedelta(hours=23))
    assert second.alerts == [] and second.suppressed == 2 and second.actions == []
    third = run_rule(session, rule, DAY, now=NOW + dt.timedelta(hours=24, minutes=1))
    assert len(third.alerts) == 2 and third.suppressed == 0
    log = [json.loads(x) for x in Path(session.config.alerts.alert_log).read_text().splitlines()]
    assert [(r["rule"], r["key"]) for r in log] == [(rule.name, "alice@example.com"),
                                                   (rule.name, "bob@example.com")] * 2  # fmt: skip
    assert set(log[0]) >= {"rule", "severity", "key", "value", "window", "rows", "time"}
    assert (
        log[0]["value"] == 2
        and log[0]["window"] == {"start": "2024-03-20", "end": "2024-03-20"}
        and log[0]["severity"] == "high"
    )
    assert log[0]["rows"][0]["count"] == 2 and log[0]["time"] == "2024-03-20T18:00:00Z"
    state = json.loads(Path(session.config.alerts.state_file).read_text())
    assert set(state[rule.name]) == {"alice@example.com", "bob@example.com"}
    # Teleport rules: a request alerts once
    dba = load_rules(session.config).rules
    session2 = make_session(webhook_url="http://127.0.0.1:9/unused")
    dba = load_rules(session2.config).rules["prod-db-approve"]
    assert len(run_rule(session2, dba, DAY, now=NOW).alerts) == 1
    later = run_rule(session2, dba, DAY, now=NOW + dt.timedelta(days=30))
    assert later.alerts == [] and later.suppressed == 1


def test_dry_run_writes_nothing(make_session, tmp_path, stub_tctl):
    session = make_session(apply=True, rules_dir=write_rules(tmp_path / "r", ROOT_RULE))
    rule = load_rules(session.config).rules["root-logins"]
    run = run_rule(session, rule, DAY, now=NOW, dry_run=True)
    assert len(run.alerts) == 1 and all(a.dry_run for a in run.actions)
    assert not Path(session.config.alerts.alert_log).exists()
    assert not Path(session.config.alerts.state_file).exists()
    assert not (tmp_path / "locks").exists()
    assert calls(stub_tctl) == []
    assert audit_events(session)[-1]["dry_run"] is True
    # the next real run still alerts: a dry run keeps no cooldown state
    assert len(run_rule(session, rule, DAY, now=NOW).alerts) == 1


@pytest.mark.parametrize("user", ["viewer", "auditor-only", "nobody"])
def test_denied_users_cannot_run_rules(make_session, user):
    session = make_session(user=user)
    with pytest.raises(PermissionDenied, match="may not use access_monitoring_rule"):
        run_rules(session, "dba-requests", DAY)
    rule = load_rules(session.config).rules["dba-requests"]
    with pytest.raises(PermissionDenied):
        run_rule(session, rule, DAY)
    events = audit_events(session)
    assert [e["code"] for e in events] == ["AMA001W", "AMA001W"]
    assert events[0]["name"] == "dba-requests" and events[0]["success"] is False
    assert not Path(session.config.alerts.alert_log).exists()


def test_listing_needs_list_and_running_needs_use_on_audit_query(make_session, tmp_path):
    assert "dba-requests" in list_rules(make_session(user="viewer")).rules
    # the auditor preset may see the rules, but not run them (test_denied_users_cannot_run_rules)
    assert "dba-requests" in list_rules(make_session(user="auditor-only")).rules
    with pytest.raises(PermissionDenied, match="may not list access_monitoring_rule"):
        list_rules(make_session(user="nobody"))
    roles = tmp_path / "roles.yaml"
    roles.write_text(
        ROLES.read_text()
        + "---\nkind: role\nversion: v7\nmetadata: {name: no-sql}\nspec:\n  allow:\n    rules:\n"
        "    - resources: [access_monitoring_rule]\n      verbs: [list, use]\n"
        "---\nkind: user\nversion: v2\nmetadata: {name: nosql}\nspec: {roles: [no-sql]}\n"
    )
    session = make_session(user="nosql", roles=False)
    session = session_for(
        session.config.store, **{**flags_of(session), "rbac": {"resources": [roles]}}
    )
    with pytest.raises(PermissionDenied, match="may not use audit_query"):
        run_rules(session, "dba-requests", DAY)


def test_every_run_is_audited(make_session, tmp_path):
    session = make_session(rules_dir=write_rules(tmp_path / "r", ROOT_RULE))
    runs, errors = run_rules(session, None, DAY, now=NOW)
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
        runs, _ = run_rules(session, "session_start_root_user", DAY, now=NOW)
        assert len(runs[0].alerts) == 2
    else:
        with pytest.raises(PermissionDenied, match="access_monitoring_rule"):
            run_rules(session, "session_start_root_user", DAY, now=NOW)
