"""`accessmon alert ls|run` as cron and analysts run it: a real subprocess, real config."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from ..conftest import run
from .conftest import DET, REQ, ROLES, ROOT_RULE, RULES, webhook_server, write_rules


@pytest.fixture
def workdir(store, tmp_path) -> Path:
    folder = write_rules(tmp_path / "rules", ROOT_RULE, "root.yaml")
    (folder / "teleport.yaml").write_text((RULES / "teleport.yaml").read_text())
    (tmp_path / "accessmon.yaml").write_text(
        yaml.safe_dump(
            {
                "store": str(store),
                "rules_dir": "rules",
                "audit_log": "audit.jsonl",
                "rbac": {"resources": [str(ROLES)]},
                "alerts": {
                    "alert_log": "out/alerts.jsonl",
                    "state_file": "out/state.json",
                    "webhook_retries": 0,
                    "webhook_timeout_seconds": 2,
                },
            }
        )
    )
    return tmp_path


def test_cli_alert_ls(workdir):
    out = run(["alert", "ls", "--user", "analyst"], workdir)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 13
    assert re.search(r"^dba-requests +access_monitoring_rule +medium +2d +alert_log, webhook "
                     r"\(webhook\), tctl_review \(DENIED\) +\(.*teleport.yaml:2\)$",
                     out.stdout, re.M)  # fmt: skip
    assert re.search(r"^session_start_root_user +detection_rule +high +1d +alert_log, "
                     r"teleport_lock +\(built-in\)$", out.stdout, re.M)  # fmt: skip
    denied = run(["alert", "ls", "--user", "nobody"], workdir)
    assert denied.returncode == 1 and "may not list access_monitoring_rule" in denied.stderr
    assert "Traceback" not in denied.stderr
    (workdir / "rules" / "bad.yaml").write_text(DET.replace("severity: high", "severity: x"))
    broken = run(["alert", "ls", "--user", "analyst"], workdir)
    assert broken.returncode == 1 and "bad.yaml:3: severity:" in broken.stderr
    assert "dba-requests" in broken.stdout


def test_cli_alert_run(workdir):
    with webhook_server() as hook:
        config = yaml.safe_load((workdir / "accessmon.yaml").read_text())
        config["alerts"]["webhook_url"] = hook.url
        (workdir / "accessmon.yaml").write_text(yaml.safe_dump(config))
        day = ["--from", "2024-03-20", "--to", "2024-03-20"]
        out = run(["alert", "run", "dba-requests", *day, "--user", "analyst"], workdir)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[0] == (
            "dba-requests: 2 alerts (0 within cooldown) over 2024-03-20 to 2024-03-20"
        )
        assert f"  ALERT medium   dba-requests id={REQ[1]} value=1" in out.stdout
        reason = shlex.quote("--reason=accessmon: access monitoring rule dba-requests (denied)")
        assert (f"    tctl_review: dry run: would run: tctl request review --deny "
                f"--author=analyst {reason} -- {REQ[1]} (alerts.apply is false)") in out.stdout  # fmt: skip
        assert f"  webhook: ok: POST {hook.url} -> 200" in out.stdout
        assert len(hook.requests) == 1
        again = run(["alert", "run", "dba-requests", *day, "--user", "analyst"], workdir)
        assert again.returncode == 0 and "0 alerts (2 within cooldown)" in again.stdout
        everything = run(["alert", "run", "--all", "--dry-run", *day, "--user", "analyst"], workdir)
    assert everything.returncode == 0, everything.stderr
    assert "root-logins: 1 alert (0 within cooldown)" in everything.stdout
    assert (
        "[dry run]" in everything.stdout
        and "would lock user alice@example.com" in everything.stdout
    )
    assert len(hook.requests) == 1
    assert "Traceback" not in everything.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--user", "analyst"], 2, "give a rule NAME or --all"),
        (["nope", "--all", "--user", "analyst"], 2, "give a rule NAME or --all"),
        (["nope", "--user", "analyst"], 1, "error: no rule nope"),
        (["dba-requests", "--user", "viewer"], 1, "may not use access_monitoring_rule"),
        (["dba-requests", "--days", "2", "--from", "2024-03-20", "--user", "analyst"], 1,
         "give either --days or --from/--to"),
    ],
)  # fmt: skip
def test_cli_alert_run_mistakes(workdir, monkeypatch, args, code, message):
    """In process, for speed; the logger `main` sets up is put back for other tests."""
    import logging

    from click.testing import CliRunner

    from accessmon.ui.cli.app import main

    log = logging.getLogger("accessmon")
    monkeypatch.setattr(log, "handlers", list(log.handlers))
    monkeypatch.setattr(log, "propagate", log.propagate)
    config = str(workdir / "accessmon.yaml")
    result = CliRunner().invoke(main, ["alert", "run", *args, "--config", config])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_failed_action_exits_non_zero(workdir):
    with webhook_server(500) as hook:
        config = yaml.safe_load((workdir / "accessmon.yaml").read_text())
        config["alerts"]["webhook_url"] = hook.url
        (workdir / "accessmon.yaml").write_text(yaml.safe_dump(config))
        out = run(["alert", "run", "dba-requests", "--from", "2024-03-20", "--to", "2024-03-20",
                   "--user", "analyst"], workdir)  # fmt: skip
    assert out.returncode == 1
    assert "error: dba-requests: webhook: POST" in out.stderr and "HTTP 500" in out.stderr
    assert "Traceback" not in out.stderr
    assert "alert_log: ok" in out.stdout
