"""`accessmon report diff` as a user runs it: the latest run against the one before it, or
against --since RUN, as a table and as JSON; audited; clear errors."""

from __future__ import annotations

import json

import pytest

from accessmon.reports.results import read_results
from accessmon.storage import audit

from ..conftest import run as cli
from .planted import DAY1, RUN1, RUN2, headless_run, planted_workdir, session

REPORT = "privilege_access_report"
STAMPS = ("20240302T060000Z", "20240303T060000Z")


@pytest.fixture
def two_runs(tmp_path):
    """The planted store after run 1 (days 1-2) and run 2 (days 2-3)."""
    root = planted_workdir(tmp_path)
    first, _ = headless_run(session(root), root / "reports", RUN1, STAMPS[0])
    second, _ = headless_run(session(root), root / "reports", RUN2, STAMPS[1])
    return root, first, second


def _section(text: str, name: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if f"({name}):" in line)
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def test_diff_prints_counts_then_findings_new_first(two_runs):
    root, first, second = two_runs
    out = cli(["report", "diff", REPORT], root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[:3] == [
        f"Privileged Access Report: {second.run_id} (2024-03-02 to 2024-03-03, SUCCESS)",
        f"  compared with {first.run_id}",
        "  new 2, persisting 2, resolved 2",
    ]
    section = _section(out.stdout, "session_start_root_user")
    assert (
        section[0] == "Root SSH sessions (session_start_root_user): new 1, persisting 1, resolved 1"
    )
    assert [line.split()[:2] for line in section[1:]] == [
        ["new", "user=bob"], ["persisting", "user=carol"], ["resolved", "user=alice"]]  # fmt: skip
    assert "measure 2, age 2 d (since 2024-03-01)" in section[2]
    assert "Kube Execs (kube_execs): new 0, persisting 0, resolved 0" in out.stdout
    record = audit.read(root / "data" / "accessmon-audit.jsonl")[-1]
    assert (record["event"], record["code"], record["run"], record["compared_with"]) == (
        "accessmon.security_report.diff", "AMR004I", second.run_id, first.run_id)  # fmt: skip


def test_diff_json_has_a_stable_shape(two_runs):
    root, first, second = two_runs
    out = cli(["report", "diff", REPORT, "--format", "json"], root)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"format", "report", "title", "run", "state", "window", "compared_with",
                        "results", "totals", "queries"}  # fmt: skip
    assert (doc["format"], doc["run"], doc["compared_with"]) == (1, second.run_id, first.run_id)
    assert doc["totals"] == {"new": 2, "persisting": 2, "resolved": 2, "suppressed": 0, "open": 4}
    q = next(q for q in doc["queries"] if q["name"] == "session_start_root_user")
    assert set(q) == {"name", "title", "key_columns", "key_declared", "compared_with", "error",
                      "notes", "counts", "findings"}  # fmt: skip
    assert [(f["status"], f["key"], f["age_days"]) for f in q["findings"]] == [
        ("new", {"user": "bob"}, None), ("persisting", {"user": "carol"}, 2),
        ("resolved", {"user": "alice"}, None)]  # fmt: skip
    assert set(q["findings"][0]) == {"status", "key", "measure", "first_seen", "last_seen",
                                     "age_days", "suppression", "suppression_expired"}  # fmt: skip
    assert read_results(root / doc["results"]).run_id == second.run_id


def test_diff_since_an_earlier_run_by_its_stamp(two_runs):
    root, first, second = two_runs
    # a third run, day 3 again: against run 2 nothing changed; since run 1 (by its stamp's day),
    # bob is new, carol persists and alice is resolved
    third, _ = headless_run(session(root), root / "reports", RUN2, "20240304T060000Z")
    latest = json.loads(cli(["report", "diff", REPORT, "--format", "json"], root).stdout)
    q = next(q for q in latest["queries"] if q["name"] == "session_start_root_user")
    assert (latest["compared_with"], q["counts"]["new"], q["counts"]["persisting"]) == (
        second.run_id, 0, 2)  # fmt: skip
    out = cli(["report", "diff", REPORT, "--since", "20240302", "--format", "json"], root)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert (doc["run"], doc["compared_with"]) == (third.run_id, first.run_id)
    q = next(q for q in doc["queries"] if q["name"] == "session_start_root_user")
    assert [(f["status"], f["key"]["user"]) for f in q["findings"]] == [
        ("new", "bob"), ("persisting", "carol"), ("resolved", "alice")]  # fmt: skip


def test_diff_errors_say_what_to_do(two_runs):
    root, first, second = two_runs
    unknown = cli(["report", "diff", REPORT, "--since", "20990101"], root)
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr
    assert "--since 20990101 is not a recorded run" in unknown.stderr
    assert f"known run ids (newest last): {first.run_id}, {second.run_id}" in unknown.stderr
    several = cli(["report", "diff", REPORT, "--since", "2024030"], root)
    assert "--since 2024030 matches several runs" in several.stderr
    itself = cli(["report", "diff", REPORT, "--since", second.run_id], root)
    assert "is the latest run itself" in itself.stderr
    none = cli(["report", "diff", REPORT, "--days", "7"], root)
    assert none.returncode != 0
    assert f"no runs of {REPORT} over 7-day windows yet" in none.stderr
    assert f"`accessmon report run {REPORT} --days 7`" in none.stderr
    typo = cli(["report", "diff", "privilege_acess_report"], root)
    assert "no report privilege_acess_report (did you mean privilege_access_report?)" in typo.stderr
    fresh = cli(["report", "diff", "team_checks"], planted_workdir(root / "fresh"))
    assert "no report team_checks" in fresh.stderr  # unknown, and no runs either
    builtin_unrun = cli(["report", "diff", REPORT], planted_workdir(root / "unrun"))
    assert (
        f"no runs of {REPORT} yet in reports: run `accessmon report run {REPORT}` first"
        in builtin_unrun.stderr
    )
    # a date range picks the run over exactly those dates
    exact = cli(["report", "diff", REPORT, "--from", str(DAY1), "--to", "2024-03-02",
                 "--format", "json"], root)  # fmt: skip
    assert json.loads(exact.stdout)["run"] == first.run_id
    assert json.loads(exact.stdout)["compared_with"] is None
    denied = audit.read(root / "data" / "accessmon-audit.jsonl")
    assert [r["code"] for r in denied[-5:]] == ["AMR004W"] * 4 + ["AMR004I"]  # fmt: skip
