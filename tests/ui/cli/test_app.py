"""The console script as a user runs it: a real subprocess, a clean environment.

The root group: its help, `python -m accessmon`, one-line errors, every group registered."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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
    lines = out.stdout.splitlines()
    assert sum(ln.endswith(" columns") for ln in lines) == 37  # Teleport's 35, accessmon's 2
    assert lines[-1].startswith("widened to bigint")  # issue 17
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


def _into_closed_pipe(args: list[str], cwd, lines: int) -> tuple[int, str]:
    """Run the console script with stdout into a pipe whose reader goes away after `lines`
    lines, as `accessmon ... | head -1` does; (exit status, stderr)."""
    exe = shutil.which("accessmon", path=str(Path(sys.executable).parent))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSMON_")}
    proc = subprocess.Popen(
        [exe, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    for _ in range(lines):
        proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(), err


@pytest.mark.parametrize("lines", [0, 1])
def test_output_into_a_closed_pipe_ends_quietly(tmp_path, lines):
    """`accessmon summary | head -1` (in `make demo`): no "internal error: BrokenPipeError",
    no traceback; the exit status is 141 (128 + SIGPIPE), as a shell reports for git or ls,
    or 0 when everything was written before the reader went away."""
    store = build_store(
        tmp_path, [{**EVENT, "uid": f"u-{i}", "event": f"e.{i}"} for i in range(3000)]
    )
    status, err = _into_closed_pipe(["--store", str(store), "summary"], tmp_path, lines)
    assert err == ""
    assert status == 141 if lines == 0 else status in (0, 141)
