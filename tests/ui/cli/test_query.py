"""`accessmon query`: exec in each format, and the saved-query commands end to end."""

from __future__ import annotations

import json

import yaml

from ...conftest import EVENT, build_store, run

WINDOW = ["--from", "2024-03-20", "--to", "2024-03-20"]


def test_saved_query_round_trip(tmp_path):
    store = build_store(tmp_path, [EVENT])
    env = {"ACCESSMON_STORE": str(store)}
    sql = "SELECT user, login FROM session_start"
    made = run(["query", "create", "--name", "logins", "--title", "Logins", sql], tmp_path, env=env)
    assert made.returncode == 0, made.stderr and made.stdout.startswith("saved query logins to ")
    assert run(["query", "ls"], tmp_path, env=env).stdout.split() == ["logins", "Logins"]
    resource = yaml.safe_load(run(["query", "get", "logins"], tmp_path, env=env).stdout)
    assert resource["spec"]["query"] == sql
    out = run(["query", "exec", "--name", "logins", *WINDOW], tmp_path, env=env)
    assert json.loads(out.stdout) == [{"data": ["user", "login"]}, {"data": ["alice", "root"]}]
    both = run(["query", "exec", "--name", "logins", sql], tmp_path, env=env)
    assert both.returncode == 2 and "give either SQL or --name, not both" in both.stderr
    assert run(["query", "rm", "logins"], tmp_path, env=env).stdout == "deleted query logins\n"
    assert "no saved queries" in run(["query", "ls"], tmp_path, env=env).stdout


def test_exec_reads_stdin_and_prints_csv_or_a_table(tmp_path):
    store = build_store(tmp_path, [EVENT])
    args = ["query", "exec", "--store", str(store), *WINDOW]
    sql = "SELECT user, '=1+1' AS f FROM session_start"
    csv = run([*args, "--format", "csv"], tmp_path, stdin=sql)
    assert csv.stdout == "user,f\nalice,'=1+1\n"
    table = run([*args, "--format", "table", sql], tmp_path)
    assert "alice" in table.stdout and "=1+1" in table.stdout


def test_an_impossible_window_is_refused_once_and_audited(tmp_path):
    """The window is resolved where the flags enter, and the refusal lands in the audit trail
    as a failed run (or, with --show-sql, a failed prepare), as before the flags became a Window."""
    store = build_store(tmp_path, [EVENT])
    log = tmp_path / "audit.jsonl"
    env = {"ACCESSMON_STORE": str(store), "ACCESSMON_AUDIT_LOG": str(log)}
    bad = ["--days", "3", "--from", "2024-03-20", "--to", "2024-03-20"]
    for extra in ([], ["--show-sql"]):
        out = run(["query", "exec", *bad, *extra, "SELECT 1 AS x"], tmp_path, env=env)
        assert out.returncode == 1
        assert out.stderr == "error: give either --days or --from/--to, not both\n"
    got = [(r["event"], r["success"], r["query"]) for r in map(json.loads, log.open())]
    assert got == [
        ("secreports.audit.query.run", False, "SELECT 1 AS x"),
        ("accessmon.audit_query.prepare", False, "SELECT 1 AS x"),
    ]


def test_a_typo_of_select_says_did_you_mean(tmp_path):
    store = build_store(tmp_path, [EVENT])
    out = run(["query", "exec", *WINDOW, "SELEC 1"], tmp_path, env={"ACCESSMON_STORE": str(store)})
    assert out.returncode == 1
    assert out.stderr.endswith(
        "error: syntax error: unknown statement SELEC (did you mean SELECT?) (line 1, column 1)\n"
    )
