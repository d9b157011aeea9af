"""`accessmon report`: the usage and read-back errors a user meets before a first run."""

from __future__ import annotations

from ...conftest import run


def test_run_needs_a_name_or_all_and_reads_need_a_run(tmp_path):
    neither = run(["report", "run"], tmp_path)
    assert neither.returncode == 2 and "give a report NAME or --all" in neither.stderr
    got = run(["report", "get", "privilege_access_report"], tmp_path)
    assert got.returncode == 1
    assert got.stderr.endswith(
        "error: no results for privilege_access_report yet: "
        "run `accessmon report run privilege_access_report`\n"
    )
    state = run(["report", "state", "privilege_access_report"], tmp_path)
    assert state.returncode == 1 and state.stderr.endswith(
        "error: privilege_access_report has not run yet\n"
    )
