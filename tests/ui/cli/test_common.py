"""The global options, before or after the subcommand, and the config they build."""

from __future__ import annotations

import json

from ...conftest import EVENT, build_store, run


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
