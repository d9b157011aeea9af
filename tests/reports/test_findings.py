"""Findings with identity: the finding key a query declares (checked when it loads), the
fallback when it declares none, and a run's rows grouped into findings."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from accessmon.errors import ConfigError
from accessmon.reports.definitions import ReportQuery, parse_definition
from accessmon.reports.findings import group_findings, json_value, key_columns, key_id
from accessmon.reports.results import Finding, QueryOutcome, ReportRun
from accessmon.reports.run import run_report

from .conftest import BROKEN, builtin
from .planted import RUN1, planted_workdir, session

KEYED = BROKEN.replace(
    "    suggestion: Use personal logins.\n",
    "    suggestion: Use personal logins.\n    finding_key: [user]\n",
)


def test_the_builtin_report_ships_its_finding_keys():
    keys = {q.name: q.finding_key for q in builtin().queries}
    assert keys["instance_join_token_less_than_1d"] == ["node_name", "host_id"]
    # the Postgres query returns event_date, count and user only: no db_user to key on
    assert keys["db_postgres_user"] == ["user"]
    assert all(k == ["user"] for n, k in keys.items() if n != "instance_join_token_less_than_1d")


def test_a_finding_key_must_be_a_returned_column_named_by_file_line_and_column(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text(KEYED.replace("finding_key: [user]", "finding_key: [user, db_user]"))
    with pytest.raises(ConfigError) as err:
        parse_definition(path.read_text(), str(path))
    assert f"{path}:12:25: queries.0.finding_key (root_logins): db_user is not a column the " \
           "query returns (event_date, count, user)" in str(err.value)  # fmt: skip


def test_a_key_may_be_an_alias_a_star_column_or_one_bare_name(tmp_path):
    aliased = KEYED.replace(
        "AS count, user FROM session_start", "AS count, login AS who FROM session_start"
    )
    aliased = aliased.replace(
        "GROUP BY event_date, user\n    suggestion: Use",
        "GROUP BY event_date, login\n    suggestion: Use",
    )
    parsed = parse_definition(aliased.replace("[user]", "[who]"), "a.yaml")
    assert parsed.queries[0].finding_key == ["who"]
    star = KEYED.replace(
        "SELECT event_date, count(*) AS count, user FROM session_start WHERE login = 'root' GROUP BY event_date, user",
        "SELECT * FROM session_start WHERE login = 'root'",
    ).replace("[user]", "[server_hostname, sid]")
    assert parse_definition(star, "s.yaml").queries[0].finding_key == ["server_hostname", "sid"]
    with pytest.raises(ConfigError, match=r"s.yaml:12:\d+: .*hostname is not a column"):
        parse_definition(star.replace("server_hostname,", "hostname,"), "s.yaml")
    bare = parse_definition(KEYED.replace("[user]", "user"), "b.yaml")
    assert bare.queries[0].finding_key == ["user"]
    with pytest.raises(
        ConfigError, match=r"b.yaml:12:18: .*usr is not a column.*did you mean user"
    ):
        parse_definition(KEYED.replace("[user]", "usr"), "b.yaml")


def test_without_a_key_every_column_but_the_measure_and_event_date_is_the_key():
    q = ReportQuery(name="q", title="Q", query="SELECT event_date, count(*) AS count, user, login FROM session_start GROUP BY 1, 3, 4")  # fmt: skip
    assert key_columns(q, ["event_date", "count", "user", "login"]) == (["user", "login"], False)
    keyed = q.model_copy(update={"finding_key": ["user"]})
    assert key_columns(keyed, ["event_date", "count", "user", "login"]) == (["user"], True)


def test_rows_group_into_findings_by_key():
    table = pa.table({
        "event_date": [dt.date(2024, 3, 2), dt.date(2024, 3, 1), dt.date(2024, 3, 1)],
        "count": pa.array([3, 4, 1], pa.int64()),
        "user": ["alice", "alice", "bob"],
    })  # fmt: skip
    found = group_findings(table, ["user"], "count")
    assert [(f.key, f.measure, f.first_seen, f.last_seen) for f in found] == [
        ({"user": "alice"}, 7, "2024-03-01", "2024-03-02"),
        ({"user": "bob"}, 1, "2024-03-01", "2024-03-01"),
    ]
    # a measure that is not an integer column counts rows; keys are JSON values
    text = pa.table({"count": ["3", "4"], "day": [dt.date(2024, 3, 1)] * 2})
    [only] = group_findings(text, ["day"], "count")
    assert (only.key, only.measure, only.first_seen) == ({"day": "2024-03-01"}, 2, None)
    assert json.loads(json.dumps(only.key)) == only.key


def test_json_values_read_back_equal():
    values = [dt.datetime(2024, 3, 1, 12, 0, 1), dt.date(2024, 3, 1), ["a", None], 1.5, None]
    converted = [json_value(v) for v in values]
    assert json.loads(json.dumps(converted)) == converted
    assert key_id({"b": 1, "a": 2}) == key_id({"a": 2, "b": 1})


def test_a_custom_report_without_keys_says_so(tmp_path):
    root = planted_workdir(tmp_path)
    definitions = root / "reports" / "definitions"
    definitions.mkdir(parents=True)
    (definitions / "team.yaml").write_text(BROKEN)
    run = run_report(session(root), "team_checks", RUN1)
    good, broken = run.queries
    assert (good.key_columns, good.key_declared) == (["user"], False)
    assert good.notes == ["no finding_key declared: findings are told apart by user (every "
                          "column but the measure count and event_date); declare finding_key "
                          "in the definition"]  # fmt: skip
    assert [f.key for f in good.items] == [{"user": "alice"}, {"user": "carol"}]
    assert broken.items == []  # no exec events here: no rows, no findings
    (definitions / "team.yaml").write_text(KEYED)
    keyed = run_report(session(root), "team_checks", RUN1).queries[0]
    assert (keyed.key_columns, keyed.key_declared, keyed.notes) == (["user"], True, [])


def test_findings_and_events_survive_the_results_json(tmp_path):
    run = run_report(session(planted_workdir(tmp_path)), "privilege_access_report", RUN1)
    root = next(q for q in run.queries if q.name == "session_start_root_user")
    assert root.items and root.items[0].events and root.event_columns
    again = ReportRun.from_json(run.to_json())
    back = next(q for q in again.queries if q.name == "session_start_root_user")
    assert back.items == root.items and back.key_columns == ["user"]
    assert isinstance(back.items[0], Finding) and again.run_id == run.run_id
    assert json.loads(run.to_json())["totals"]["new"] == sum(len(q.items) for q in run.queries)


def test_a_results_file_from_before_findings_still_reads():
    old = ReportRun.from_json(ReportRun("r", "R", "", "1", {}, {}, "", "u", "duckdb", [
        QueryOutcome("q", "Q", "", "", {}, "SELECT 1")]).to_json())  # fmt: skip
    doc = json.loads(old.to_json())
    for q in doc["queries"]:
        for k in ("items", "resolved", "notes", "compared_with", "key_columns"):
            del q[k]
    assert ReportRun.from_json(json.dumps(doc)).queries[0].items == []
