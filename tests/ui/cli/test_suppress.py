"""`accessmon suppress add|ls|rm` as analysts run it: a real subprocess, real roles and audit."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from ...conftest import ROLES_FIXTURE, run

REPORT = "privilege_access_report"
ADD = ["suppress", "add", "--report", REPORT, "--query", "instance_join_token_less_than_1d",
       "--match", "node_name=svc-*", "--match", "host_id=3f2a", "--reason", "bastion break-glass",
       "--expires", "30d", "--ticket", "https://jira.example.com/SEC-123"]  # fmt: skip


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A project whose roles are the fixture's: erin is an editor, alice an auditor, carol may
    see reports only, dave may do anything but delete."""
    (tmp_path / "accessmon.yaml").write_text(
        yaml.safe_dump({"audit_log": "audit.jsonl", "rbac": {"resources": [str(ROLES_FIXTURE)]}})
    )
    return tmp_path


def audit_lines(workdir: Path) -> list[dict]:
    return [json.loads(line) for line in (workdir / "audit.jsonl").read_text().splitlines()]


def test_add_ls_rm_with_their_audit_lines(workdir):
    added = run([*ADD, "--name", "bastion-root-ok", "--user", "erin"], workdir)
    assert added.returncode == 0, added.stderr
    path = workdir / "suppressions" / "bastion-root-ok.yaml"
    assert added.stdout.startswith(f"saved suppression bastion-root-ok to {path} (expires ")
    assert added.stdout.endswith(" UTC, in 30 days)\n")
    doc = yaml.safe_load(path.read_text())
    assert {k: doc[k] for k in ("kind", "name", "report", "query", "match", "owner", "ticket")} == {
        "kind": "suppression", "name": "bastion-root-ok", "report": REPORT,
        "query": "instance_join_token_less_than_1d", "match": {"node_name": "svc-*", "host_id": "3f2a"},
        "owner": "erin", "ticket": "https://jira.example.com/SEC-123",
    }  # fmt: skip
    created = dt.datetime.fromisoformat(doc["created"])
    assert dt.datetime.fromisoformat(doc["expires"]) - created == dt.timedelta(days=30)
    assert created.utcoffset() == dt.timedelta(0)

    table = run(["suppress", "ls", "--user", "alice"], workdir)  # auditors may list
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split()[:5] == ["NAME", "REPORT", "QUERY", "MATCH", "STATUS"]
    assert row.split()[:7] == ["bastion-root-ok", REPORT, "instance_join_token_less_than_1d",
                               "node_name=svc-*", "host_id=3f2a", "active", "30"]  # fmt: skip
    listed = json.loads(
        run(["suppress", "ls", "--format", "json", "--user", "alice"], workdir).stdout
    )
    assert [(s["name"], s["status"], s["days_left"], s["owner"]) for s in listed] == [
        ("bastion-root-ok", "active", 30, "erin")
    ]
    assert json.loads(run(["suppress", "ls", "--report", "team", "--format", "json",
                           "--user", "alice"], workdir).stdout) == []  # fmt: skip

    again = run([*ADD, "--name", "bastion-root-ok", "--user", "erin"], workdir)
    assert again.returncode == 1
    assert "suppression bastion-root-ok exists" in again.stderr and "--force" in again.stderr
    renewed = run([*ADD, "--name", "bastion-root-ok", "--force", "--expires", "60d",
                   "--owner", "sec-team", "--user", "erin"], workdir)  # fmt: skip
    assert renewed.returncode == 0, renewed.stderr
    assert yaml.safe_load(path.read_text())["owner"] == "sec-team"

    gone = run(["suppress", "rm", "bastion-root-ok", "--user", "erin"], workdir)
    assert gone.stdout == "deleted suppression bastion-root-ok\n" and not path.exists()
    missing = run(["suppress", "rm", "bastion-root-ok", "--user", "erin"], workdir)
    assert missing.returncode == 1 and missing.stderr.endswith(
        "error: no suppression bastion-root-ok\n"
    )

    got = [(r["code"], r["user"], r.get("name"), r.get("expires") is not None)
           for r in audit_lines(workdir)]  # fmt: skip
    assert got == [
        ("AMS001I", "erin", "bastion-root-ok", True),
        ("AMS003I", "alice", None, False),
        ("AMS003I", "alice", None, False),
        ("AMS003I", "alice", None, False),
        ("AMS001W", "erin", "bastion-root-ok", True),
        ("AMS004I", "erin", "bastion-root-ok", True),
        ("AMS002I", "erin", "bastion-root-ok", True),
        ("AMS002W", "erin", "bastion-root-ok", False),
    ]
    first = audit_lines(workdir)[0]
    assert {k: first[k] for k in ("event", "verb", "resource", "report", "query", "match", "owner")} == {
        "event": "accessmon.suppression.create", "verb": "create", "resource": "suppression",
        "report": REPORT, "query": "instance_join_token_less_than_1d",
        "match": {"node_name": "svc-*", "host_id": "3f2a"}, "owner": "erin",
    }  # fmt: skip
    assert audit_lines(workdir)[2]["count"] == 1 and audit_lines(workdir)[3]["report"] == "team"


def test_roles_without_the_verb_are_refused_and_audited(workdir):
    denied = run([*ADD, "--user", "alice"], workdir)  # auditor: list and read only
    assert denied.returncode == 1
    assert (
        'access denied: user "alice" (roles: auditor) may not create suppression' in denied.stderr
    )
    assert "Traceback" not in denied.stderr
    assert not (workdir / "suppressions").exists()
    assert run([*ADD, "--name", "ok", "--user", "dave"], workdir).returncode == 0
    no_delete = run(["suppress", "rm", "ok", "--user", "dave"], workdir)
    assert no_delete.returncode == 1 and "may not delete suppression" in no_delete.stderr
    assert (workdir / "suppressions" / "ok.yaml").is_file()
    no_list = run(["suppress", "ls", "--user", "carol"], workdir)
    assert no_list.returncode == 1 and "may not list suppression" in no_list.stderr
    no_update = run([*ADD, "--name", "ok", "--force", "--user", "alice"], workdir)
    assert "may not update suppression" in no_update.stderr
    lines = audit_lines(workdir)
    assert [(r["code"], r["user"], r["success"]) for r in lines] == [
        ("AMS001W", "alice", False), ("AMS001I", "dave", True), ("AMS002W", "dave", False),
        ("AMS003W", "carol", False), ("AMS004W", "alice", False),
    ]  # fmt: skip
    refused = lines[0]
    assert (
        refused["match"] == {"node_name": "svc-*", "host_id": "3f2a"}
        and refused["owner"] == "alice"
    )
    assert "may not create suppression" in refused["error"] and refused["report"] == REPORT
    assert lines[2]["report"] == REPORT and lines[2]["name"] == "ok"  # what rm would remove


def test_add_names_the_flag_that_is_wrong(workdir):
    cases = [
        (
            ["--expires", "120d"],
            "error: --expires: ",
            "a suppression lasts at most 90 days "
            f"(report.suppression_max_days in {workdir / 'accessmon.yaml'})",
        ),
        (
            ["--expires", "2020-01-01"],
            "error: --expires: 2020-01-01T00:00:00Z is not after created",
            "",
        ),
        (
            ["--query", "session_start_root"],
            "error: --query: report privilege_access_report has no "
            "query session_start_root (did you mean session_start_root_user?)",
            "",
        ),
        (["--ticket", "jira/1"], "error: --ticket: 'jira/1' is not an http(s) URL", ""),
        (["--name", "../x"], "error: invalid suppression name '../x'", ""),
    ]
    for extra, start, end in cases:
        out = run([*ADD, *extra, "--user", "erin"], workdir)
        assert out.returncode == 1, out.stdout
        last = out.stderr.splitlines()[-1]
        assert last.startswith(start) and last.endswith(end), last
    usage = run([*ADD[:6], "--match", "user", "--reason", "r", "--expires", "next week"], workdir)
    assert usage.returncode == 2 and "Invalid value for --match: 'user'" in usage.stderr
    bad_date = run([*ADD, "--expires", "soon", "--user", "erin"], workdir)
    assert bad_date.returncode == 2 and "give a number of days (30d)" in bad_date.stderr
    assert not (workdir / "suppressions").exists()
    refused = [(r["code"], r["name"]) for r in audit_lines(workdir)]  # not click's usage errors
    assert len(refused) == len(cases) and {c for c, _ in refused} == {"AMS001W"}
    assert refused[-1][1] == "../x"


def test_ls_shows_expired_ones_and_fails_on_a_broken_file(workdir):
    folder = workdir / "suppressions"
    folder.mkdir()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    expired = {
        "kind": "suppression", "name": "old", "report": REPORT, "match": {"user": "bob"},
        "owner": "alice", "reason": "gone", "created": (now - dt.timedelta(days=20)).isoformat(),
        "expires": (now - dt.timedelta(days=10)).isoformat(),
    }  # fmt: skip
    (folder / "old.yaml").write_text(yaml.safe_dump(expired))
    out = run(["suppress", "ls", "--format", "json", "--user", "erin"], workdir)
    assert out.returncode == 0, out.stderr
    assert [
        (s["name"], s["status"], s["days_left"], s["query"]) for s in json.loads(out.stdout)
    ] == [("old", "expired", 0, None)]
    (folder / "typo.yaml").write_text(
        yaml.safe_dump({**expired, "name": "typo", "reasn": "x"}, sort_keys=False)
    )
    broken = run(["suppress", "ls", "--user", "erin"], workdir)
    assert broken.returncode == 1
    assert (
        f"error: {folder / 'typo.yaml'}:10: reasn: unknown field (did you mean reason?)"
        in broken.stderr
    )
    assert "old " in broken.stdout and "expired" in broken.stdout
    # a file that no longer reads can still be removed
    assert run(["suppress", "rm", "typo", "--user", "erin"], workdir).returncode == 0
    assert run(["suppress", "ls", "--user", "erin"], workdir).returncode == 0
