"""The console script as a user runs it: a real subprocess, a clean environment.

The root group: its help, `python -m accessmon`, one-line errors, every group registered."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ...conftest import EVENT, build_store, run


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


def test_alert_group_survives_any_import_order(tmp_path):
    """Importing accessmon.ui.cli.alert first used to drop `alert` from the CLI, silently."""
    code = (
        "import accessmon.ui.cli.alert, accessmon.ui.cli.app as c; print(sorted(c.main.commands))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "'alert'" in out.stdout
