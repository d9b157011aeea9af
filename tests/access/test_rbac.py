"""Role checks: a table of cases over Teleport role/user YAML, and every entry point denied."""

from __future__ import annotations

import json
import logging

import pytest

from accessmon.access import rbac
from accessmon.errors import ConfigError, PermissionDenied, QueryError
from accessmon.storage import audit
from accessmon.storage.ingest import ingest
from accessmon.window import Window

from ..conftest import EVENT, ROLES_FIXTURE, build_store, roles_session, run

POLICY = rbac.load_policy([ROLES_FIXTURE])
WINDOW = Window.between("2024-03-20", "2024-03-20")

# user, verb, resource, allowed
MATRIX = [
    # preset auditor: list, read, use on both resources, nothing else
    *[("alice", v, r, v in ("list", "read", "use")) for v in rbac.VERBS for r in ("audit_query", "security_report")],
    ("alice", "read", "security_report_state", False),
    # preset access grants nothing here
    *[("bob", v, r, False) for v in rbac.VERBS for r in ("audit_query", "security_report")],
    # two custom roles add up
    ("carol", "list", "security_report", True),
    ("carol", "read", "security_report", True),
    ("carol", "use", "security_report", False),
    ("carol", "use", "audit_query", True),
    ("carol", "read", "audit_query", False),
    # wildcards allow everything, a matching deny wins over them
    ("dave", "use", "security_report_state", True),
    ("dave", "create", "audit_query", True),
    ("dave", "delete", "audit_query", False),
    ("dave", "delete", "security_report", False),
    # a deny rule with `where` denies always; the rest of editor stands
    ("erin", "use", "security_report", False),
    ("erin", "read", "security_report", True),
    ("erin", "delete", "audit_query", True),
    # an allow rule with `where` grants nothing; an unknown role grants nothing
    ("frank", "use", "audit_query", False),
    ("frank", "list", "audit_query", False),
    # users without a user resource have no roles once a policy is configured
    ("mallory", "list", "audit_query", False),
]  # fmt: skip


@pytest.mark.parametrize(("user", "verb", "resource", "allowed"), MATRIX)
def test_matrix(user, verb, resource, allowed):
    assert rbac.decide(POLICY, user, verb, resource).allowed is allowed


def test_tctl_multi_document_file():
    assert {"report-viewer", "query-runner", "no-delete", "everything", "where-allow",
            "where-deny", "auditor", "editor", "access"} <= set(POLICY.roles)  # fmt: skip
    assert POLICY.users["carol"] == ("report-viewer", "query-runner")
    assert POLICY.configured


def test_where_rules_warn_naming_the_rule():
    decision = rbac.decide(POLICY, "frank", "use", "audit_query")
    assert any(
        "role where-allow allow rule #1" in w and "grants nothing" in w for w in decision.warnings
    )
    assert any("ghost-role" in w for w in decision.warnings)
    decision = rbac.decide(POLICY, "erin", "use", "security_report")
    assert "role where-deny deny rule #1" in decision.reason
    assert any("denies always" in w for w in decision.warnings)


def test_single_user_mode_acts_as_editor_with_one_notice(caplog):
    policy = rbac.load_policy([])
    rbac._NOTICES.clear()
    with caplog.at_level(logging.WARNING, logger="accessmon"):
        for verb in rbac.VERBS:
            rbac.authorize(policy, "solo", verb, "audit_query")
    notices = [r.getMessage() for r in caplog.records if "editor preset" in r.getMessage()]
    assert len(notices) == 1
    with pytest.raises(PermissionDenied):
        rbac.authorize(policy, "solo", "use", "security_report_state")


def test_denial_is_one_actionable_line():
    with pytest.raises(PermissionDenied) as err:
        rbac.authorize(POLICY, "bob", "use", "audit_query")
    assert str(err.value) == (
        'access denied: user "bob" (roles: access) may not use audit_query; grant it with a '
        "role rule {resources: [audit_query], verbs: [use]}, as the preset auditor role does"
    )
    with pytest.raises(PermissionDenied, match="denied by role no-delete deny rule #1"):
        rbac.authorize(POLICY, "dave", "delete", "audit_query")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: role\nmetadata: {name: r}\nspec:\n  allow:\n    rules: [{resources: [a], verbs: [use]\n",
         ".yaml:6: invalid YAML"),
        ("kind: role\nversion: v3\nmetadata: {name: old}\n", ".yaml:1: role old: version v3 is too old"),
        ("kind: user\nmetadata: {name: u}\nspec: {roles: access}\n---\nkind: role\nversion: v7\n"
         "metadata: {name: r}\nspec:\n  allow:\n    rules:\n    - resources: [audit_query]\n      verbs: 3\n",
         ".yaml:11: role r rule verbs must be a list of strings"),
        ("kind: role\nversion: v7\nspec: {}\n", ".yaml:1: role without metadata.name"),
    ],
)  # fmt: skip
def test_malformed_resources_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "roles.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        rbac.load_policy([path])
    assert str(path) in str(err.value) and message in str(err.value)


def test_user_traits_are_read_with_the_roles_as_teleport_holds_them(tmp_path, caplog):
    users = tmp_path / "users.yaml"
    users.write_text(
        "kind: user\nmetadata: {name: alice}\nspec: {traits: {team: dba, logins: [root, null, 7]}}\n"
        "---\nkind: role\nversion: v7\nmetadata: {name: r}\nspec: {}\n"
        "---\nkind: user\nmetadata: {name: bob}\nspec: {roles: [r]}\n"
        "---\nkind: user\nmetadata: {name: carl}\nspec:\n  traits: [team]\n"
    )
    with caplog.at_level(logging.WARNING, logger="accessmon"):
        policy = rbac.load_policy([users])
    assert policy.traits == {
        "alice": {"team": ["dba"], "logins": ["root", "7"]},
        "bob": {},
        "carl": {},
    }
    assert policy.users["bob"] == ("r",)
    assert f"{users}:17: user carl: spec.traits is not a mapping" in caplog.text
    assert rbac.load_policy([]).traits == {}


def test_a_missing_rbac_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read rbac resource file .*missing\.yaml"):
        rbac.load_policy([tmp_path / "missing.yaml"])


# -- through the Session, the CLI and the audit trail -----------------------------------------


def test_audit_trail_records_allowed_denied_and_failed_runs(tmp_path):
    store = build_store(tmp_path, [EVENT])
    roles_session(tmp_path, "alice", store).run("SELECT login FROM session_start", WINDOW)
    with pytest.raises(PermissionDenied):
        roles_session(tmp_path, "bob", store).run("SELECT login FROM session_start", WINDOW)
    with pytest.raises(QueryError):
        roles_session(tmp_path, "alice", store).run("SELECT nope FROM session_start", WINDOW)
    records = audit.read(tmp_path / "audit.jsonl")
    assert [(r["user"], r["code"], r["success"]) for r in records] == [
        ("alice", "SRE001I", True),
        ("bob", "SRE001W", False),
        ("alice", "SRE001W", False),
    ]
    assert records[0]["event"] == "secreports.audit.query.run"
    assert records[0]["query"] == "SELECT login FROM session_start"
    assert (records[0]["from"], records[0]["to"]) == ("2024-03-20", "2024-03-20")
    assert "total_execution_time_in_millis" in records[0] and "data_scanned_in_bytes" in records[0]
    assert "access denied" in records[1]["error"]
    # the trail is itself a Teleport-style log: ingest it and query the auditors
    ingest([tmp_path / "audit.jsonl"], store)
    df = roles_session(tmp_path, "alice", store).query(
        "SELECT user, code, success, query FROM secreports_audit_query_run ORDER BY time", days=1
    )
    assert df["user"].tolist()[:3] == ["alice", "bob", "alice"]
    assert df["success"].tolist()[:3] == [True, False, False]


def test_denied_user_gets_nothing_from_the_python_api(tmp_path):
    bob = roles_session(tmp_path, "bob")
    for call in (
        lambda: bob.query("SELECT * FROM session_start", WINDOW),
        lambda: bob.prepare("SELECT * FROM session_start", WINDOW),
        lambda: bob.views(),
        lambda: bob.saved_queries(),
        lambda: bob.save_query("q", "SELECT 1"),
    ):
        with pytest.raises(PermissionDenied, match='user "bob"'):
            call()


def test_denied_user_gets_nothing_from_the_cli(tmp_path):
    build_store(tmp_path, [EVENT], name="data/audit")
    (tmp_path / "accessmon.yaml").write_text(f"rbac: {{resources: [{ROLES_FIXTURE}]}}\n")
    for args in (
        ["query", "exec", "--days", "1", "SELECT * FROM session_start"],
        ["query", "exec", "--show-sql", "SELECT * FROM session_start"],
        ["schema"],
        ["query", "ls"],
    ):
        out = run([*args, "--user", "bob"], tmp_path)
        assert out.returncode == 1
        assert out.stdout == ""
        assert out.stderr.startswith('error: access denied: user "bob" (roles: access)')
    ok = run(["query", "exec", "--user", "alice", "--days", "1", "SELECT 1 AS one"], tmp_path)
    assert ok.returncode == 0 and json.loads(ok.stdout)[1] == {"data": ["1"]}


def test_saved_queries_round_trip_and_checks(tmp_path):
    build_store(tmp_path, [EVENT], name="data/audit")
    (tmp_path / "accessmon.yaml").write_text(f"rbac: {{resources: [{ROLES_FIXTURE}]}}\n")
    sql = "SELECT login, count(*) AS n FROM session_start GROUP BY login"
    created = run(
        ["query", "create", "--user", "dave", "--name", "logins", "--title", "Logins", sql],
        tmp_path,
    )
    assert created.returncode == 0, created.stderr
    resource = (tmp_path / "queries" / "logins.yaml").read_text()
    assert "kind: audit_query" in resource and "title: Logins" in resource
    assert "logins" in run(["query", "ls", "--user", "alice"], tmp_path).stdout
    assert sql in run(["query", "get", "logins", "--user", "alice"], tmp_path).stdout
    out = run(["query", "exec", "--name", "logins", "--from", "2024-03-20", "--to", "2024-03-20",
               "--user", "alice"], tmp_path)  # fmt: skip
    assert json.loads(out.stdout) == [{"data": ["login", "n"]}, {"data": ["root", "1"]}]
    # auditor may not create; an existing name needs update; dave may not delete (deny wins)
    assert (
        "may not create audit_query"
        in run(["query", "create", "--user", "alice", "--name", "other", sql], tmp_path).stderr
    )
    assert (
        "may not update audit_query"
        in run(["query", "create", "--user", "carol", "--name", "logins", sql], tmp_path).stderr
    )
    assert "may not delete" in run(["query", "rm", "logins", "--user", "dave"], tmp_path).stderr
    # saved queries are validated against the views
    bad = run(
        ["query", "create", "--user", "dave", "--name", "bad", "SELECT * FROM sesion_start"],
        tmp_path,
    )
    assert bad.returncode == 1 and "did you mean session_start" in bad.stderr
    assert not (tmp_path / "queries" / "bad.yaml").exists()
    assert run(["query", "rm", "logins", "--user", "erin"], tmp_path).returncode == 0
    assert not (tmp_path / "queries" / "logins.yaml").exists()


def test_python_api_decisions_are_each_one_audit_line(tmp_path):
    """Views, saved queries and --show-sql through the Session: allowed or denied, audited."""
    store = build_store(tmp_path, [EVENT])
    dave, bob = roles_session(tmp_path, "dave", store), roles_session(tmp_path, "bob", store)
    dave.save_query("q", "SELECT 1 AS x")
    dave.save_query("q", "SELECT 2 AS x")
    dave.views()
    dave.prepare("SELECT 1 AS x", WINDOW)
    with pytest.raises(PermissionDenied):
        dave.delete_query("q")  # deny wins
    with pytest.raises(PermissionDenied):
        bob.saved_query("q")
    got = [(r["event"], r["user"], r["success"], r.get("name"))
           for r in audit.read(tmp_path / "audit.jsonl")]  # fmt: skip
    assert got == [
        ("accessmon.audit_query.create", "dave", True, "q"),
        ("accessmon.audit_query.update", "dave", True, "q"),
        ("accessmon.schema.list", "dave", True, None),
        ("accessmon.audit_query.prepare", "dave", True, None),
        ("accessmon.audit_query.delete", "dave", False, "q"),
        ("accessmon.audit_query.get", "bob", False, "q"),
    ]
