"""Evaluating rules: Teleport conditions over access requests, thresholds and rows over queries."""

from __future__ import annotations

from accessmon.access import saved
from accessmon.alerts import load_rules, run_rule
from accessmon.alerts.evaluate import request_context
from accessmon.alerts.models import TELEPORT_FIELDS

from ..conftest import session_for
from .conftest import DAY, NOW, ROOT_RULE, audit_events, flags_of, write_rules


def test_request_context_uses_teleport_resource_ids():
    row = {"id": "r", "user": "u", "roles": ["a"], "reason": None, "state": "PENDING",
           "resource_ids": [{"cluster": "c", "kind": "pod", "name": "k", "sub_resource": "ns/p"},
                            {"cluster": "c", "kind": "db", "name": "pg", "sub_resource": ""}]}  # fmt: skip
    context = request_context(row, {"u": {"team": ["x"]}})
    assert context["access_request.spec.resource_ids"] == ["/c/pod/k/ns/p", "/c/db/pg"]
    assert context["access_request.spec.reason"] == ""
    assert context["access_request.spec.request_id"] == "r"
    assert context["user.traits"] == {"team": ["x"]}
    assert set(context) == set(TELEPORT_FIELDS)


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
    ruleset = load_rules(session.config)
    root = run_rule(session, ruleset.rules["root-logins"], DAY, now=NOW, dry_run=True)
    assert [(a.key, a.value, a.label) for a in root.alerts] == [
        ("alice@example.com", 2, "user=alice@example.com")
    ]
    logins = run_rule(session, ruleset.rules["per-login"], DAY, now=NOW, dry_run=True)
    assert [(a.key, a.value) for a in logins.alerts] == [("root", 2), ("ubuntu", 1)]


def test_a_missing_column_is_a_rule_error_not_a_crash(make_session, tmp_path):
    text = ROOT_RULE.replace("per: user", "per: usr")
    session = make_session(rules_dir=write_rules(tmp_path / "r", text))
    rule = load_rules(session.config).rules["root-logins"]
    run = run_rule(session, rule, DAY, now=NOW)
    assert "column usr is not in the query's results" in run.error
    assert "did you mean user" in run.error
    assert audit_events(session)[-1]["code"] == "AMA001W"


def test_saved_query_reference(make_session, tmp_path, store):
    session = make_session(rules_dir=tmp_path / "r")
    session = session_for(store, **{**flags_of(session), "queries_dir": tmp_path / "queries"})
    sql = "SELECT user, count(*) AS count FROM session_start WHERE login = 'root' GROUP BY user"
    saved.save(tmp_path / "queries", saved.AuditQuery("roots", sql))
    text = ROOT_RULE.split("query: |")[0] + (
        "query: {saved: roots}\ncondition: {threshold: {column: count, value: 0, per: user}}\n"
    )
    write_rules(tmp_path / "r", text)
    rule = load_rules(session.config).rules["root-logins"]
    run = run_rule(session, rule, DAY, now=NOW, dry_run=True)
    assert [a.key for a in run.alerts] == ["alice@example.com", "bob@example.com"]
