"""Suppressions: the resource and its file:line errors, the folder, and how a run applies them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from accessmon.config import load_config
from accessmon.errors import ConfigError
from accessmon.reports.definitions import ReportQuery, load_definitions, parse_definition
from accessmon.reports.results import Finding, QueryOutcome, ReportRun
from accessmon.reports.suppressions import (
    Suppression,
    applied,
    apply_suppressions,
    check,
    derived_name,
    load_suppressions,
    parse,
)

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REPORT = "privilege_access_report"
GOOD = """\
kind: suppression
name: bastion-root-ok
report: privilege_access_report
query: instance_join_token_less_than_1d
match: {node_name: "svc-*", host_id: 3f2a}
owner: alice
reason: "bastion break-glass account, reviewed quarterly"
created: 2026-11-30T10:00:00Z
expires: 2027-01-15T00:00:00Z
ticket: https://jira.example.com/SEC-123
"""


def definitions():
    found, errors = load_definitions(Path("/nonexistent"))
    assert not errors
    return found


def parse_text(text: str, name: str = "bastion-root-ok", **kw) -> Suppression:
    kw.setdefault("definitions", definitions())
    kw.setdefault("now", NOW)
    return parse(text, Path(f"/sup/{name}.yaml"), **kw)


def error_of(text: str, **kw) -> str:
    with pytest.raises(ConfigError) as e:
        parse_text(text, **kw)
    return str(e.value)


# -- the resource ------------------------------------------------------------------------------


def test_a_good_resource_reads_with_utc_times_and_text_values():
    s = parse_text(GOOD)
    assert (s.name, s.report, s.query, s.owner) == (
        "bastion-root-ok", REPORT, "instance_join_token_less_than_1d", "alice"
    )  # fmt: skip
    assert s.match == {"node_name": "svc-*", "host_id": "3f2a"}
    assert s.created == dt.datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert s.expires.tzinfo is not None and s.expires.utcoffset() == dt.timedelta(0)
    assert s.ticket == "https://jira.example.com/SEC-123"
    assert s.source == "/sup/bastion-root-ok.yaml"


def test_naive_times_are_utc_a_date_is_its_midnight_and_offsets_convert():
    text = (GOOD.replace("2026-11-30T10:00:00Z", "2026-11-30 10:00:00")
            .replace("2027-01-15T00:00:00Z", "2027-01-15")
            .replace("host_id: 3f2a", "host_id: 1234"))  # fmt: skip
    s = parse_text(text)
    assert s.created == dt.datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert s.expires == dt.datetime(2027, 1, 15, tzinfo=UTC)
    assert s.match["host_id"] == "1234"  # YAML's number, compared as text
    quoted = GOOD.replace("2026-11-30T10:00:00Z", "'2026-11-30T12:00:00+02:00'")
    assert parse_text(quoted).created == dt.datetime(2026, 11, 30, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "reason:",
            "reasn:",
            "bastion-root-ok.yaml:7: reasn: unknown field (did you mean reason?)",
        ),
        ("expires: 2027-01-15T00:00:00Z\n", "", "bastion-root-ok.yaml:1: expires: Field required"),
        (
            "expires: 2027-01-15T00:00:00Z",
            "expires: 2026-11-01T00:00:00Z",
            "bastion-root-ok.yaml:9: expires: 2026-11-01T00:00:00Z is not after created "
            "(2026-11-30T10:00:00Z)",
        ),
        (
            "expires: 2027-01-15T00:00:00Z",
            "expires: 2027-03-01T00:00:00Z",
            "bastion-root-ok.yaml:9: expires: 2027-03-01T00:00:00Z is 90.5833 days after created; "
            "a suppression lasts at most 90 days (report.suppression_max_days in accessmon.yaml)",
        ),
        (
            "expires: 2027-01-15T00:00:00Z",
            "expires: next week",
            "bastion-root-ok.yaml:9: expires: 'next week' is not a time",
        ),
        (
            'match: {node_name: "svc-*", host_id: 3f2a}',
            "match: {}",
            "bastion-root-ok.yaml:5: match: Dictionary should have at least 1 item",
        ),
        (
            'match: {node_name: "svc-*", host_id: 3f2a}',
            "match: {user: [a, b]}",
            "bastion-root-ok.yaml:5: match: user: give one value or glob",
        ),
        (
            "report: privilege_access_report",
            "report: privilege_acess_report",
            "bastion-root-ok.yaml:3: report: no report privilege_acess_report "
            "(did you mean privilege_access_report?)",
        ),
        (
            "query: instance_join_token_less_than_1d",
            "query: instance_join_token",
            "bastion-root-ok.yaml:4: query: report privilege_access_report has no query "
            "instance_join_token (did you mean instance_join_token_less_than_1d?)",
        ),
        (
            "https://jira.example.com/SEC-123",
            "jira/SEC-123",
            "bastion-root-ok.yaml:10: ticket: 'jira/SEC-123' is not an http(s) URL",
        ),
        (
            'reason: "bastion break-glass account, reviewed quarterly"',
            'reason: "  "',
            "bastion-root-ok.yaml:7: reason: must not be blank",
        ),
        (
            "name: bastion-root-ok",
            "name: ../etc",
            "bastion-root-ok.yaml:2: name: String should match",
        ),
        (
            "name: bastion-root-ok",
            "name: other",
            "bastion-root-ok.yaml:2: name: other is not the "
            "file's name (bastion-root-ok): rename one of them",
        ),
        ("kind: suppression", "kind: audit_query", "bastion-root-ok.yaml:1: kind: Input should be"),
        (
            "created: 2026-11-30T10:00:00Z",
            "created: 2026-12-25T10:00:00Z\nsource: x",
            "bastion-root-ok.yaml:9: source: unknown field",
        ),
        (
            "created: 2026-11-30T10:00:00Z",
            "created: 2026-12-25T10:00:00Z",
            "bastion-root-ok.yaml:8: created: 2026-12-25T10:00:00Z is in the future",
        ),
    ],
)
def test_a_bad_resource_names_its_file_line_and_field(old, new, message):
    assert old in GOOD
    assert message in error_of(GOOD.replace(old, new))


def test_the_longest_lifetime_is_the_configured_one_and_says_where(tmp_path):
    (tmp_path / "accessmon.yaml").write_text("report: {suppression_max_days: 30}\n")
    config = load_config(environ={}, start=tmp_path)
    message = error_of(GOOD, max_days=config.report.suppression_max_days, config=config)
    assert message.endswith(
        "is 45.5833 days after created; a suppression lasts at most 30 days "
        f"(report.suppression_max_days in {tmp_path / 'accessmon.yaml'})"
    )
    assert parse_text(GOOD.replace("2027-01-15T00:00:00Z", "2026-12-30T10:00:00Z"), max_days=30)


def test_match_columns_must_be_the_declared_finding_key():
    """Checked when every query concerned declares finding_key (a plain stand-in here, as any
    definition with that attribute); without one, any column is taken."""
    query = SimpleNamespace(name="root", finding_key=["node_name", "host_id"])
    other = SimpleNamespace(name="certs", finding_key=["user"])
    defs = {REPORT: SimpleNamespace(queries=[query, other])}
    text = GOOD.replace("instance_join_token_less_than_1d", "root")
    assert parse_text(text, definitions=defs).match["host_id"] == "3f2a"
    bad = text.replace("host_id: 3f2a", "hostid: 3f2a")
    assert error_of(bad, definitions=defs).endswith(
        "bastion-root-ok.yaml:5: match: hostid is not a key column of query root "
        "(host_id, node_name) (did you mean host_id?)"
    )
    whole_report = text.replace("query: root\n", "")
    assert parse_text(whole_report, definitions=defs).query is None
    assert "hostid is not a key column of report" in error_of(
        bad.replace("query: root\n", ""), definitions=defs
    )
    mixed = whole_report.replace('node_name: "svc-*"', "user: svc-ci")
    assert error_of(mixed, definitions=defs).endswith(
        "bastion-root-ok.yaml:4: match: no query of report privilege_access_report has all of "
        "user, host_id in its key: name one query, or match on the key columns of one"
    )
    undeclared = {REPORT: SimpleNamespace(queries=[SimpleNamespace(name="root")])}
    assert parse_text(bad, definitions=undeclared).match["hostid"] == "3f2a"


@pytest.mark.skipif("finding_key" not in ReportQuery.model_fields, reason="finding_key not merged")
def test_match_columns_against_a_real_definition_with_finding_key():
    report = parse_definition(
        "kind: security_report\nname: team\ntitle: Team\nqueries:\n"
        "  - name: roots\n    title: Roots\n    finding_key: [user]\n"
        "    query: SELECT event_date, count(*) AS count, user FROM session_start GROUP BY event_date, user\n",
        "team.yaml",
    )
    text = GOOD.replace(REPORT, "team").replace("instance_join_token_less_than_1d", "roots")
    assert "node_name is not a key column of query roots (user)" in error_of(
        text, definitions={"team": report}
    )


def test_to_yaml_reads_back_the_same():
    s = parse_text(GOOD)
    again = parse(s.to_yaml(), Path("/sup/bastion-root-ok.yaml"), now=NOW)
    assert again == s


def test_derived_names_are_safe_and_the_same_for_the_same_suppression():
    name = derived_name(REPORT, "session_start_root_user", {"user": "svc-*", "host": "a/b"})
    assert name.startswith("session_start_root_user-svc-a_b-")
    assert name == derived_name(REPORT, "session_start_root_user", {"user": "svc-*", "host": "a/b"})
    assert name != derived_name(REPORT, "session_start_root_user", {"user": "svc-?", "host": "a/b"})
    assert derived_name(REPORT, None, {"user": "*"}).startswith(f"{REPORT}-")


# -- the folder ------------------------------------------------------------------------------


def _config(tmp_path: Path):
    (tmp_path / "accessmon.yaml").write_text("suppressions_dir: sup\n")
    return load_config(environ={}, start=tmp_path)


def test_load_suppressions_fails_on_a_bad_file_or_lists_its_error(tmp_path):
    config = _config(tmp_path)
    folder = tmp_path / "sup"
    assert load_suppressions(config) == []
    folder.mkdir()
    (folder / "bastion-root-ok.yaml").write_text(GOOD)
    (folder / "other-report.yaml").write_text(
        GOOD.replace("bastion-root-ok", "other-report").replace(REPORT, "team_checks")
    )
    (folder / "notes.txt").write_text("not a suppression")
    with pytest.raises(ConfigError, match=r"other-report.yaml:3: report: no report team_checks"):
        load_suppressions(config, now=NOW)
    errors: list[str] = []
    found = load_suppressions(config, errors=errors, now=NOW)
    assert [s.name for s in found] == ["bastion-root-ok"]
    assert len(errors) == 1 and "other-report.yaml:3" in errors[0]
    # a report run lists only the broken files that may be its own
    errors.clear()
    assert len(load_suppressions(config, report=REPORT, errors=errors, now=NOW)) == 1
    assert errors == []
    (folder / "broken.yaml").write_text("kind: suppression\nname: [unclosed\n")
    load_suppressions(config, report=REPORT, errors=errors, now=NOW)
    assert len(errors) == 1 and "broken.yaml:" in errors[0]


# -- applying them to a run --------------------------------------------------------------------


def sup(name: str, match: dict, *, query: str | None = None, expires: dt.datetime | None = None,
        report: str = REPORT) -> Suppression:  # fmt: skip
    return Suppression(
        kind="suppression", name=name, report=report, query=query, match=match, owner="alice",
        reason="known", created=dt.datetime(2026, 11, 20, tzinfo=UTC),
        expires=expires or dt.datetime(2027, 1, 15, 6, tzinfo=UTC),
    )  # fmt: skip


def outcome(name: str, *keys: dict) -> QueryOutcome:
    q = QueryOutcome(name, name.title(), "", "", {}, "SELECT 1", key_columns=list(keys[0]))
    q.items = [Finding(key=dict(k), measure=1) for k in keys]
    return q


def a_run() -> ReportRun:
    roots = outcome("session_start_root_user", {"user": "svc-ci", "host_id": "3f2a"},
                    {"user": "svc-backup", "host_id": "9b9b"}, {"user": "alice", "host_id": "3f2a"})  # fmt: skip
    certs = outcome("cert_expiration_more_than_1d", {"user": "svc-ci"}, {"user": "bob"})
    tokens = outcome("instance_join_token_less_than_1d", {"node_name": "n1", "host_id": 7})
    return ReportRun(REPORT, "Privileged", "", "1", {}, {}, "", "analyst", "duckdb",
                     [roots, certs, tokens])  # fmt: skip


def marks(run: ReportRun) -> dict[str, list[tuple]]:
    return {q.name: [(f.suppression, f.suppression_expired, f.is_open) for f in q.items]
            for q in run.queries}  # fmt: skip


def test_apply_hides_matches_marks_expired_ones_and_flags_stale_ones():
    run = a_run()
    suppressions = [
        sup("roots-ci", {"user": "svc-ci", "host_id": "3f2a"}, query="session_start_root_user"),
        sup("all-svc", {"user": "svc-*"}),  # every query of the report, a glob
        sup("old-alice", {"user": "alice"}, expires=dt.datetime(2026, 11, 30, tzinfo=UTC)),
        sup("stale", {"user": "carol"}),
        sup("tokens-only", {"user": "bob"}, query="instance_join_token_less_than_1d"),
        sup("token-int", {"host_id": "7", "node_name": "n?"}),  # a number, compared as text
        sup("elsewhere", {"user": "bob"}, report="team_checks"),
    ]
    apply_suppressions(run, suppressions, NOW)
    assert marks(run) == {
        "session_start_root_user": [
            ("roots-ci", None, False),  # both cover it: the one of its query names it
            ("all-svc", None, False),
            (None, "old-alice", True),  # expired: open again, and says so
        ],
        "cert_expiration_more_than_1d": [("all-svc", None, False), (None, None, True)],
        "instance_join_token_less_than_1d": [("token-int", None, False)],
    }
    assert run.queries[0].counts() == {
        "new": 3, "persisting": 0, "resolved": 0, "suppressed": 2, "open": 1
    }  # fmt: skip
    listed = {s["name"]: s for s in run.suppressions}
    assert list(listed) == ["all-svc", "old-alice", "roots-ci", "stale", "token-int",
                            "tokens-only"]  # fmt: skip
    assert {n: (s["matched"], s["status"], s["days_left"]) for n, s in listed.items()} == {
        "all-svc": (3, "active", 45),
        "old-alice": (1, "expired", 0),
        "roots-ci": (1, "active", 45),
        "stale": (0, "stale", 45),
        "token-int": (1, "active", 45),
        "tokens-only": (0, "stale", 45),  # bob's finding is another query's
    }
    assert listed["roots-ci"] == {
        "name": "roots-ci", "report": REPORT, "query": "session_start_root_user",
        "match": {"user": "svc-ci", "host_id": "3f2a"}, "owner": "alice", "reason": "known",
        "created": "2026-11-20T00:00:00Z", "expires": "2027-01-15T06:00:00Z", "days_left": 45,
        "ticket": None, "matched": 1, "status": "active",
    }  # fmt: skip
    assert json.loads(run.to_json())["totals"]["suppressed"] == 4
    assert applied(run) == ["all-svc", "roots-ci", "token-int"]


def test_a_suppression_hides_a_finding_until_it_expires_then_shows_it_again():
    s = sup("ci", {"user": "svc-ci"}, expires=dt.datetime(2026, 12, 10, tzinfo=UTC))
    run = a_run()
    apply_suppressions(run, [s], dt.datetime(2026, 12, 9, 23, 59))  # naive: UTC
    finding = run.queries[1].items[0]
    assert (finding.suppression, finding.is_open, run.suppressions[0]["days_left"]) == (
        "ci", False, 1
    )  # fmt: skip
    apply_suppressions(
        run, [s], dt.datetime(2026, 12, 10, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    )
    # 01:00+02:00 is still 9 December in UTC
    assert finding.suppression == "ci"
    apply_suppressions(run, [s], dt.datetime(2026, 12, 10, tzinfo=UTC))
    assert (finding.suppression, finding.suppression_expired, finding.is_open) == (None, "ci", True)
    assert run.suppressions[0]["status"] == "expired" and run.suppressions[0]["days_left"] == 0


def test_apply_is_idempotent_and_ignores_resolved_findings_and_missing_columns():
    run = a_run()
    run.queries[1].resolved = [Finding(key={"user": "bob"}, measure=1, status="resolved")]
    s = [sup("bob", {"user": "bob"}, query="cert_expiration_more_than_1d"),
         sup("needs-host", {"user": "bob", "host_id": "*"})]  # fmt: skip
    apply_suppressions(run, s, NOW)
    first = (marks(run), run.suppressions)
    apply_suppressions(run, s, NOW)
    assert (marks(run), run.suppressions) == first
    assert run.queries[1].resolved[0].suppression is None
    assert [x["matched"] for x in run.suppressions] == [1, 0]  # certs have no host_id key
    apply_suppressions(run, [], NOW)
    assert run.suppressions == [] and all(
        f.suppression is None for q in run.queries for f in q.items
    )


def test_check_needs_no_definitions_for_the_model_alone():
    s = sup("x", {"user": "a"})
    assert check(s, source="x", node=None, definitions=None, max_days=90, now=NOW) is s


def test_a_query_that_failed_makes_no_suppression_stale():
    run = a_run()
    run.queries[2].error = "engine failed"
    run.queries[2].items = []
    s = [sup("tokens", {"node_name": "n1"}, query="instance_join_token_less_than_1d"),
         sup("carol", {"user": "carol"})]  # fmt: skip
    apply_suppressions(run, s, NOW)
    assert [(x["name"], x["matched"], x["status"]) for x in run.suppressions] == [
        ("carol", 0, "stale"), ("tokens", 0, "active")
    ]  # fmt: skip
