"""Loading rules: built-in and user rules, Teleport's resources, errors with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from accessmon.access.rbac import Policy
from accessmon.alerts import load_rules, parse_rules
from accessmon.alerts.models import SEVERITIES
from accessmon.config import Config, RbacConfig
from accessmon.errors import AccessmonError, ConfigError
from accessmon.session import Session

from .conftest import DET, ROLES, write_rules


def test_builtin_rules_mirror_the_privileged_access_report(make_session, tmp_path):
    from accessmon.reports.definitions import load_definitions

    session = make_session(rules_dir=tmp_path / "none")
    ruleset = load_rules(session.config)
    assert ruleset.errors == []
    report = load_definitions(tmp_path / "none")[0]["privilege_access_report"]
    assert list(ruleset.rules) == [q.name for q in report.queries]
    for q in report.queries:
        rule = ruleset.rules[q.name]
        assert rule.builtin and rule.kind == "detection_rule" and rule.sql == q.query
        assert rule.severity in SEVERITIES
    root = ruleset.rules["session_start_root_user"]
    assert root.action_names() == ["alert_log", "teleport_lock"]
    assert root.resource.actions[1].teleport_lock.target == "user"


def test_teleport_rules_load_as_tctl_prints_them(make_session):
    ruleset = load_rules(make_session().config)
    assert ruleset.errors == []
    dba = ruleset.rules["dba-requests"]
    assert dba.kind == "access_monitoring_rule" and dba.source.endswith("teleport.yaml:2")
    assert dba.resource.spec.notification.recipients == ["#sec-alerts", "oncall@example.com"]
    assert dba.action_names() == ["alert_log", "webhook (webhook)", "tctl_review (DENIED)"]
    assert ruleset.rules["prod-db-approve"].source.endswith("teleport.yaml:17")
    assert ruleset.rules["dba-team"].warnings == ()  # user resources are configured


def test_user_traits_without_user_resources_warn(make_session):
    ruleset = load_rules(make_session(roles=False).config)
    assert any("user.traits" in w for w in ruleset.rules["dba-team"].warnings)


AMR = """kind: access_monitoring_rule
version: v1
metadata:
  name: bad
spec:
  subjects: [access_request]
  condition: 'contains(access_request.spec.roles, "x")'
"""


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
    ruleset = load_rules(make_session(rules_dir=folder).config)
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
    ruleset = load_rules(make_session(rules_dir=folder).config)
    assert "good" in ruleset.rules
    assert [e.split(": ")[0] for e in ruleset.errors] == [
        f"{folder / 'rules.yaml'}:9",
        f"{folder / 'rules.yaml'}:13",
    ]
    assert "already defined at" in ruleset.errors[1]
    with pytest.raises(ConfigError, match="severity"):
        ruleset.get("bad")
    with pytest.raises(AccessmonError, match="did you mean good"):
        ruleset.get("goood")


def test_a_user_rule_replaces_a_builtin_of_the_same_name(make_session, tmp_path):
    text = DET.replace("name: bad", "name: session_start_root_user") + "enabled: false\n"
    ruleset = load_rules(make_session(rules_dir=write_rules(tmp_path / "r", text)).config)
    rule = ruleset.rules["session_start_root_user"]
    assert not rule.builtin and not rule.enabled and ruleset.errors == []


def test_the_traits_warning_reads_the_policy_it_is_given(make_session):
    session = make_session(roles=False)
    given = Policy(users={"someone": ()}, configured=True)
    assert load_rules(session.config, given).rules["dba-team"].warnings == ()
    configured = make_session().config  # roles configured, but the policy given has no users
    assert any(
        "user.traits" in w for w in load_rules(configured, Policy()).rules["dba-team"].warnings
    )


def _with_rbac(config: Config, *paths: Path) -> Config:
    return config.model_copy(update={"rbac": RbacConfig(resources=[str(p) for p in paths])})


def test_list_rules_uses_the_session_policy_not_the_files_again(make_session, tmp_path):
    from accessmon.alerts import list_rules

    roles = tmp_path / "roles.yaml"
    roles.write_text(ROLES.read_text())
    session = Session(_with_rbac(make_session().config, roles))
    assert session.policy.users  # read once, here
    roles.unlink()
    ruleset = list_rules(session)
    assert ruleset.errors == [] and ruleset.rules["dba-team"].warnings == ()


def test_a_broken_rbac_file_fails_rule_loading_as_it_fails_the_role_check(make_session, tmp_path):
    config = _with_rbac(make_session().config, tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="cannot read rbac resource file"):
        load_rules(config)


def test_parse_rules_reads_every_document_of_a_text():
    rules, errors = parse_rules(DET + "---\n" + DET.replace("name: bad", "name: worse"), "x.yaml")
    assert [r.name for r in rules] == ["bad", "worse"] and errors == []
    assert rules[0].source == "x.yaml:1" and rules[1].source == "x.yaml:7"
    rules, errors = parse_rules("- a list\n", "y.yaml")
    assert rules == [] and errors == ["y.yaml:1: expected a rule mapping with a kind"]
