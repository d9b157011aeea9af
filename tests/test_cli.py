"""The console script as a user runs it: a real subprocess, a clean environment."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import EVENT, build_store, run


def test_help_lists_subcommands(tmp_path):
    out = run(["--help"], tmp_path)
    assert out.returncode == 0
    for sub in ("demo", "ingest", "query", "schema", "summary"):
        assert sub in out.stdout


def test_python_dash_m(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "accessmon", "schema"], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.count("\n") == 37  # Teleport's 35 and accessmon's own two
    assert "secreports_audit_query_run" in out.stdout


def test_global_options_before_or_after_the_subcommand(tmp_path):
    store = build_store(tmp_path, [EVENT])
    sql = "SELECT user, login FROM session_start"
    window = ["--from", "2024-03-20", "--to", "2024-03-20"]
    expected = [{"data": ["user", "login"]}, {"data": ["alice", "root"]}]
    before = run(["--store", str(store), "query", "exec", *window, sql], tmp_path)
    after = run(["query", "exec", "--store", str(store), *window, sql], tmp_path)
    env = run(["query", "exec", *window, sql], tmp_path, env={"ACCESSMON_STORE": str(store)})
    for out in (before, after, env):
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == expected
    # a flag beats the environment
    wrong = run(
        ["query", "exec", "--store", str(tmp_path / "nowhere"), *window, sql],
        tmp_path,
        env={"ACCESSMON_STORE": str(store)},
    )
    assert wrong.returncode == 1 and "no audit store" in wrong.stderr


def test_config_file_in_working_directory(tmp_path):
    build_store(tmp_path, [EVENT], name="audit")
    (tmp_path / "accessmon.yaml").write_text("store: ./audit\n")
    out = run(
        [
            "query",
            "exec",
            "--from",
            "2024-03-20",
            "--to",
            "2024-03-20",
            "SELECT count(*) AS n FROM session_start",
        ],
        tmp_path,
    )
    assert json.loads(out.stdout) == [{"data": ["n"]}, {"data": ["1"]}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["query", "exec", "SELECT * FROM cert_creat"],
            "unknown view cert_creat (did you mean cert_create?)",
        ),
        (["query", "exec", "DROP TABLE exec"], "DROP is not allowed: queries are read-only"),
        (
            [
                "query",
                "exec",
                "--days",
                "3",
                "--from",
                "2024-01-01",
                "--to",
                "2024-01-02",
                "SELECT 1",
            ],
            "either --days or --from/--to",
        ),
        (["--config", "missing.yaml", "schema"], "config file missing.yaml does not exist"),
        (["schema", "sesion_start"], "did you mean session_start"),
        (["ingest", "no-such.log"], "no such file or directory"),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, args, message):
    build_store(tmp_path, [EVENT], name="data/audit")
    out = run(args, tmp_path)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert len(out.stderr.strip().splitlines()) <= 2


def test_schema_formats(tmp_path):
    out = run(["schema", "cert_create", "--format", "json"], tmp_path)
    doc = json.loads(out.stdout)
    assert doc["event_type"] == "cert.create"
    assert len(doc["columns"]) == 43
    assert doc["columns"][:2] == [
        {"name": "event_date", "type": "date", "path": None},
        {"name": "event_time", "type": "timestamp", "path": None},
    ]
    assert {
        "name": "identity_client_ip",
        "type": "varchar",
        "path": '$["identity"]["client_ip"]',
    } in doc["columns"]
    table = run(["schema", "exec"], tmp_path).stdout
    assert "exitCode" in table and "kubernetes_groups" in table and "array(varchar)" in table


def test_ingest_prints_a_summary_and_summary_reads_the_store(tmp_path):
    src = tmp_path / "a.log"
    src.write_text(json.dumps(EVENT) + "\nnot json\n")
    out = run(["ingest", str(src), "--store", str(tmp_path / "s")], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "events read: 1" in out.stdout and "rejected: 1" in out.stdout
    info = json.loads(
        run(["summary", "--format", "json", "--store", str(tmp_path / "s")], tmp_path).stdout
    )
    assert info["events"] == 1 and info["event_types"] == {"session.start": 1}


def test_teleport_config_is_a_global_option(tmp_path):
    """The README's `accessmon --teleport-config /etc/teleport.yaml query exec ...`."""
    teleport = tmp_path / "teleport.yaml"
    teleport.write_text(
        "auth_service:\n  audit_events_uri:\n"
        "    - 'athena://audit_db.audit_table?workgroup=wg&queryResultsS3=s3://r/results'\n"
    )
    sql = "SELECT user FROM session_start"
    before = run(["--teleport-config", str(teleport), "query", "exec", "--show-sql", sql], tmp_path)
    after = run(["query", "exec", "--show-sql", sql, "--teleport-config", str(teleport)], tmp_path)
    for out in (before, after):
        assert out.returncode == 0, out.stderr
        assert "audit_db" in out.stdout and "audit_table" in out.stdout
    assert "--teleport-config" in run(["--help"], tmp_path).stdout
    missing = run(["--teleport-config", str(tmp_path / "nope.yaml"), "whoami"], tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.startswith(f"error: cannot read config file {tmp_path / 'nope.yaml'}")


def test_alert_group_survives_any_import_order(tmp_path):
    """Importing accessmon.ui.cli.alert first used to drop `alert` from the CLI, silently."""
    code = (
        "import accessmon.ui.cli.alert, accessmon.ui.cli.app as c; print(sorted(c.main.commands))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "'alert'" in out.stdout
