"""Attacks on the role checks and the audit trail (issue 14, points 19-21).

Each test is an attack that worked before: a denied user getting rows through the Python
API, a denial that left no audit line, a user picking a config without roles or another
identity on a machine whose administrator configured them.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import threading
from pathlib import Path

import pytest

from accessmon import config
from accessmon.config import load_config
from accessmon.errors import ConfigError, PermissionDenied
from accessmon.reports.state import report_lock
from accessmon.session import Session, os_account, resolve_identity
from accessmon.storage import audit
from accessmon.window import Window

from ..conftest import EVENT, ROLES_FIXTURE, build_store, roles_session, run

DAY = ["--from", "2024-03-20", "--to", "2024-03-20"]
SQL = "SELECT login FROM session_start"


# -- 19: the Python API ------------------------------------------------------------------------


def test_a_denied_user_gets_no_rows_from_any_public_method(tmp_path):
    """`bob.execute(sql, window)` returned rows, unaudited, to a user `run` denies."""
    bob = roles_session(tmp_path, "bob")
    window = Window.resolve(None, "2024-03-20", "2024-03-20")
    assert not hasattr(bob, "execute")
    for name in ("run", "query", "prepare"):
        with pytest.raises(PermissionDenied):
            getattr(bob, name)(SQL, window)
    events = [(r["event"], r["user"], r["success"]) for r in audit.read(tmp_path / "audit.jsonl")]
    assert events == [
        ("secreports.audit.query.run", "bob", False),
        ("secreports.audit.query.run", "bob", False),
        ("accessmon.audit_query.prepare", "bob", False),
    ]


# -- 20: every decision is audited -------------------------------------------------------------


@pytest.fixture
def project(tmp_path) -> Path:
    """A project folder with roles, a saved query, a report's state and results."""
    build_store(tmp_path, [EVENT], name="data/audit")
    (tmp_path / "accessmon.yaml").write_text(f"rbac: {{resources: [{ROLES_FIXTURE}]}}\n")
    made = run(["query", "create", "--user", "dave", "--name", "logins", SQL], tmp_path)
    assert made.returncode == 0, made.stderr
    return tmp_path


DENIED = [
    (["query", "create", "--name", "q2", SQL], "accessmon.audit_query.create", "create"),
    (["query", "ls"], "accessmon.audit_query.list", "list"),
    (["query", "get", "logins"], "accessmon.audit_query.get", "read"),
    (["query", "rm", "logins"], "accessmon.audit_query.delete", "delete"),
    (["query", "exec", "--name", "logins", *DAY], "accessmon.audit_query.get", "read"),
    (["query", "exec", "--show-sql", SQL], "accessmon.audit_query.prepare", "use"),
    (["schema"], "accessmon.schema.list", "list"),
    (["report", "ls"], "accessmon.security_report.list", "list"),
    (["report", "get", "privilege_access_report"], "accessmon.security_report.get", "read"),
    (["report", "state", "privilege_access_report"], "accessmon.security_report_state.get",
     "read"),
    (["alert", "ls"], "accessmon.alert.list", "list"),
    (["report", "run", "privilege_access_report", *DAY], "secreports.report.run", None),
]  # fmt: skip


@pytest.mark.parametrize(("args", "event", "verb"), DENIED, ids=lambda a: str(a)[:30])
def test_every_denial_leaves_one_audit_line(project, args, event, verb):
    out = run([*args, "--user", "bob"], project)
    assert out.returncode == 1 and "access denied" in out.stderr, out.stderr
    (line,) = [r for r in audit.read(project / "data" / "accessmon-audit.jsonl")
               if r["user"] == "bob"]  # fmt: skip
    assert line["event"] == event and line["success"] is False
    assert line["code"].endswith("W") and "access denied" in line["error"]
    if verb:
        assert line["verb"] == verb
    # a denied report run touches no file: no lock, no state
    assert not (project / "reports").exists()


def test_successful_create_and_reads_are_audited_too(project):
    for args in (["query", "ls"], ["query", "get", "logins"], ["schema"]):
        assert run([*args, "--user", "alice"], project).returncode == 0
    lines = audit.read(project / "data" / "accessmon-audit.jsonl")
    assert [(r["event"], r["code"], r["user"], r.get("name")) for r in lines] == [
        ("accessmon.audit_query.create", "AMQ001I", "dave", "logins"),
        ("accessmon.audit_query.list", "AMQ004I", "alice", None),
        ("accessmon.audit_query.get", "AMQ005I", "alice", "logins"),
        ("accessmon.schema.list", "AMQ007I", "alice", None),
    ]
    assert lines[0]["query"] == SQL and lines[0]["resource"] == "audit_query"


def test_a_report_run_that_gives_up_on_its_lock_is_audited(project):
    out_dir = project / "reports"
    with report_lock(out_dir, "privilege_access_report", 0):
        out = run(["report", "run", "privilege_access_report", *DAY, "--wait", "0",
                   "--user", "alice"], project)  # fmt: skip
    assert out.returncode == 1 and "another run of privilege_access_report" in out.stderr
    (line,) = [r for r in audit.read(project / "data" / "accessmon-audit.jsonl")
               if r["user"] == "alice"]  # fmt: skip
    assert (line["event"], line["code"]) == ("secreports.report.run", "SRE002W")
    assert "in progress" in line["error"] and line["name"] == "privilege_access_report"


# -- 21: the trust model -----------------------------------------------------------------------


def _system(tmp_path: Path, text: str, mode: int = 0o644) -> Path:
    path = tmp_path / "etc" / "accessmon.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def _roles_for_me(tmp_path: Path, role: str) -> Path:
    """The fixture's roles, plus the OS account this test runs as with `role`."""
    path = tmp_path / "etc" / "rbac.yaml"
    path.parent.mkdir(exist_ok=True)
    me = f"kind: user\nversion: v2\nmetadata: {{name: {os_account()}}}\nspec: {{roles: [{role}]}}\n"
    path.write_text(ROLES_FIXTURE.read_text() + "\n---\n" + me)
    path.chmod(0o644)
    return path


@pytest.fixture
def shared(tmp_path) -> tuple[Path, dict[str, str]]:
    """A shared server: an administrator's config with roles (the OS account is an auditor)
    and an audit log; the analyst's project with its own config that has no roles."""
    store = build_store(tmp_path, [EVENT], name="data/audit")
    roles = _roles_for_me(tmp_path, "access")
    system = _system(
        tmp_path,
        f"store: {store}\nrbac: {{resources: [{roles}]}}\naudit_log: {tmp_path}/etc/audit.jsonl\n",
    )
    (tmp_path / "norbac.yaml").write_text("audit_log: ./mine.jsonl\n")
    return tmp_path, {"ACCESSMON_SYSTEM_CONFIG": str(system)}


def test_a_config_without_roles_no_longer_makes_you_editor(shared):
    """`ACCESSMON_CONFIG=norbac.yaml accessmon --user mallory ...` made anyone an editor."""
    cwd, env = shared
    out = run(["query", "exec", *DAY, SQL], cwd, env={**env, "ACCESSMON_CONFIG": "norbac.yaml",
                                                     "ACCESSMON_AUDIT_LOG": "elsewhere.jsonl"})  # fmt: skip
    assert out.returncode == 1
    assert f'access denied: user "{os_account()}" (roles: access)' in out.stderr
    assert "audit_log from" in out.stderr and "is ignored" in out.stderr
    # the denial is in the administrator's audit log, not in the one the analyst chose
    (line,) = audit.read(cwd / "etc" / "audit.jsonl")
    assert line["user"] == os_account() and line["success"] is False
    assert not (cwd / "mine.jsonl").exists() and not (cwd / "elsewhere.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "env", "origin"),
    [
        (["--user", "alice"], {}, "--user"),
        ([], {"ACCESSMON_USER": "alice"}, "ACCESSMON_USER"),
    ],
)
def test_you_cannot_say_you_are_someone_else(shared, args, env, origin):
    cwd, system_env = shared
    out = run(["whoami", *args], cwd, env={**system_env, **env})
    assert out.returncode == 1
    assert out.stderr.startswith(f"error: {origin}: user 'alice' is not honoured: ")
    assert f"from the OS account, which is '{os_account()}'" in out.stderr


def test_login_variables_do_not_change_the_os_account(shared):
    """getpass.getuser() reads LOGNAME and USER, which anyone can set."""
    cwd, env = shared
    forged = {**env, "LOGNAME": "alice", "USER": "alice", "JUPYTERHUB_USER": "alice"}
    out = run(["whoami", "--format", "json"], cwd, env=forged)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["user"] == os_account()
    # the same name as the OS account is not "someone else"
    same = run(["whoami", "--user", os_account()], cwd, env=env)
    assert same.returncode == 0, same.stderr


def test_the_override_is_ignored_where_an_administrator_installed_one(tmp_path, monkeypatch):
    """ACCESSMON_SYSTEM_CONFIG cannot move or hide an installed system configuration."""
    real = _system(tmp_path, f"rbac: {{resources: [{_roles_for_me(tmp_path, 'auditor')}]}}\n")
    monkeypatch.setattr(config, "SYSTEM_CONFIG", real)
    decoy = tmp_path / "decoy.yaml"
    decoy.write_text("{}\n")
    for override in ({}, {"ACCESSMON_SYSTEM_CONFIG": str(decoy)},
                     {"ACCESSMON_SYSTEM_CONFIG": str(tmp_path / "nowhere")}):  # fmt: skip
        if os.geteuid() != 0:  # the test's files are the tester's: not an administrator's
            with pytest.raises(ConfigError, match=f"{re.escape(str(real))} is owned by you"):
                load_config(environ=override)
            continue
        cfg = load_config(environ=override)
        assert cfg.system == real and cfg.rbac.resources


@pytest.mark.parametrize("mode", [0o664, 0o646])
def test_a_system_configuration_others_can_write_binds_no_one(tmp_path, mode):
    system = _system(tmp_path, "rbac: {resources: []}\n", mode)
    with pytest.raises(ConfigError, match="writable by group or others"):
        load_config(environ={"ACCESSMON_SYSTEM_CONFIG": str(system)})


class _Hub(http.server.BaseHTTPRequestHandler):
    """JupyterHub's REST API, as far as identity goes: GET /hub/api/user names a token's owner."""

    def do_GET(self) -> None:
        token = self.headers.get("Authorization", "").removeprefix("token ")
        name = {"carols-token": "carol"}.get(token)
        if self.path != "/hub/api/user" or name is None:
            self.send_response(403)
            self.end_headers()
            return
        body = json.dumps({"name": name, "kind": "user"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hub/api"
    server.shutdown()
    server.server_close()


def test_jupyterhub_identity_is_the_hubs_word_not_an_environment_variable(tmp_path, hub):
    system = _system(tmp_path, f"identity: {{source: jupyterhub, jupyterhub_api_url: '{hub}'}}\n")
    base = {"ACCESSMON_SYSTEM_CONFIG": str(system), "JUPYTERHUB_USER": "alice"}
    carol = {**base, "JUPYTERHUB_API_TOKEN": "carols-token"}
    # carol's server: JUPYTERHUB_USER says alice, but the hub says the token is carol's
    assert resolve_identity(load_config(environ=carol), carol) == "carol"
    out = run(["whoami", "--format", "json"], tmp_path, env=carol)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["user"] == "carol"
    # no token, or a forged one: no identity at all
    for env in (base, {**base, "JUPYTERHUB_API_TOKEN": "guess"}):
        with pytest.raises(ConfigError, match=r"identity\.source is jupyterhub"):
            resolve_identity(load_config(environ=env), env)
    # the hub's URL and the source are the administrator's: a user's config changes neither
    mine = tmp_path / "mine.yaml"
    mine.write_text("identity: {source: any, jupyterhub_api_url: 'http://127.0.0.1:9/x'}\n")
    assert resolve_identity(load_config(mine, environ=carol), carol) == "carol"


def test_personal_mode_is_unchanged():
    """No system configuration: --user and a config without roles work as before."""
    cfg = load_config(flags={"user": "mallory"}, environ={"JUPYTERHUB_USER": "x"})
    assert cfg.system is None and Session(cfg).user == "mallory"
    assert not Session(cfg).policy.configured
