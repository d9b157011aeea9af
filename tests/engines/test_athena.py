"""The Athena engine over real HTTP: moto's server on 127.0.0.1, pyathena and boto3 unchanged."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import sqlglot
import yaml
from sqlglot import exp

from accessmon.config import load_config
from accessmon.errors import BudgetExceeded, EngineError
from accessmon.session import Session
from accessmon.sql.validate import check_query
from accessmon.sql.views import all_views
from accessmon.testing import athena_sql_for_duckdb, teleport_table
from accessmon.window import Window

from ..aws import ACCOUNT, REGION, FaultProxy, keep_queries_running, reset_transitions, seed_results
from ..conftest import REPO, session_for

DATA = REPO / "accessmon" / "data"
EXAMPLES = [q["query"] for q in yaml.safe_load((DATA / "examples.yaml").read_text())]
REPORT = [
    q["query"]
    for q in yaml.safe_load((DATA / "reports" / "privilege_access_report.yaml").read_text())[
        "queries"
    ]
]
SEED_QUERIES = EXAMPLES + REPORT


@pytest.fixture(scope="module")
def aws():
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            mp.delenv(key, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        moto_url = f"http://{host}:{port}"
        # PyAthena's PandasCursor reads result files with its own S3 client, which honours this.
        mp.setenv("AWS_ENDPOINT_URL", moto_url)
        s3 = boto3.client("s3", endpoint_url=moto_url, region_name=REGION)
        for bucket in ("audit-transient", "audit-long-term"):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        glue = boto3.client("glue", endpoint_url=moto_url, region_name=REGION)
        glue.create_database(DatabaseInput={"Name": "audit_db"})
        glue.create_table(
            DatabaseName="audit_db",
            TableInput={
                "Name": "audit_table",
                "StorageDescriptor": {
                    "Columns": [
                        {"Name": n, "Type": t}
                        for n, t in [
                            ("uid", "string"),
                            ("session_id", "string"),
                            ("event_type", "string"),
                            ("event_time", "timestamp"),
                            ("event_data", "string"),
                            ("user", "string"),
                        ]
                    ],
                    "Location": "s3://audit-long-term/events/",
                },
                "PartitionKeys": [{"Name": "event_date", "Type": "date"}],
            },
        )
        boto3.client("athena", endpoint_url=moto_url, region_name=REGION).create_work_group(
            Name="audit_workgroup",
            Configuration={
                "ResultConfiguration": {"OutputLocation": "s3://audit-transient/results/"}
            },
        )
        role = boto3.client("iam", endpoint_url=moto_url, region_name=REGION).create_role(
            RoleName="AccessMonitoringRole", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        proxy = FaultProxy(moto_url)
        yield {"moto": moto_url, "proxy": proxy, "role": role, "env": dict(os.environ)}
        proxy.close()
        server.stop()


@pytest.fixture
def athena(aws, tmp_path):
    """athena(**overrides) -> a Session on the athena engine, through the fault proxy."""
    aws["proxy"].reset()

    def factory(**overrides) -> Session:
        settings = {
            "database": "audit_db",
            "table": "audit_table",
            "workgroup": "audit_workgroup",
            "region": REGION,
            "query_results": "s3://audit-transient/results/",
            "report_results": "s3://audit-long-term/report_results/",
            "role_arn": aws["role"],
            "endpoint_url": aws["proxy"].url,
            "poll_interval": 0.01,
            "max_retries": 3,
            **overrides,
        }
        flags = {
            "engine": "athena",
            "athena": settings,
            "user": "alice",
            "audit_log": tmp_path / "audit.jsonl",
            "store": tmp_path / "none",
        }
        return Session(load_config(flags=flags, environ={}))

    return factory


def _execution(aws, query_id):
    client = boto3.client("athena", endpoint_url=aws["moto"], region_name=REGION)
    return client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]


@pytest.mark.parametrize("sql", SEED_QUERIES)
def test_generated_sql_is_small_pruned_trino(athena, sql):
    session = athena()
    checked, _window, rendered = session.prepare(sql, Window.between("2024-03-01", "2024-03-07"))
    tree = sqlglot.parse_one(rendered, read="trino")  # valid Trino
    assert len(rendered.encode()) < 10_000
    ctes = [cte.alias for cte in tree.args["with_"].expressions]
    assert ctes == list(checked.views)
    for name in checked.views:
        view = all_views()[name]
        assert f"event_type = '{view.event_type}'" in rendered
    assert rendered.count("event_date BETWEEN DATE '2024-03-01' AND DATE '2024-03-07'") == len(ctes)
    assert "CAST(json_extract(event_data, '$[\"" in rendered
    other = {v.event_type for v in all_views().values()} - {
        all_views()[n].event_type for n in checked.views
    }
    assert not any(f"'{t}'" in rendered for t in other)
    assert all(isinstance(t.this, exp.Identifier) for t in tree.find_all(exp.Table))


def test_query_runs_in_workgroup_with_assumed_role(aws, athena):
    seed_results(aws["moto"], [["user", "n"], ["alice", "3"], ["bob", ""]], ["varchar", "bigint"])
    session = athena()
    result = session.run(
        "SELECT user, count(*) AS n FROM session_start GROUP BY user", Window.last_days(30)
    )
    df = result.to_pandas()
    assert df["user"].tolist() == ["alice", "bob"]
    assert df["n"].tolist()[0] == 3
    execution = _execution(aws, result.stats.query_execution_id)
    assert execution["Query"] == result.sql
    assert (
        'FROM "audit_db"."audit_table" WHERE event_type = \'session.start\'' in execution["Query"]
    )
    assert execution["WorkGroup"] == "audit_workgroup"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(
        "s3://audit-transient/results/"
    )
    arn = session.engine.client("sts").get_caller_identity()["Arn"]
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/AccessMonitoringRole/accessmon-alice"
    audit = [json.loads(line) for line in Path(session.config.audit_log).read_text().splitlines()]
    assert (
        audit[-1]["code"] == "SRE001I"
        and audit[-1]["query_execution_id"] == execution["QueryExecutionId"]
    )


def test_cli_prints_tctl_json_and_stats(aws, tmp_path):
    seed_results(
        aws["moto"],
        [["event_time", "identity_user"], ["2024-03-20 12:12:03.374", "alice"]],
        ["timestamp", "varchar"],
    )
    aws["proxy"].reset()
    aws["proxy"].scanned_bytes = 123_456_789
    (tmp_path / "accessmon.yaml").write_text(
        yaml.safe_dump(
            {
                "engine": "athena",
                "athena": {
                    "database": "audit_db",
                    "table": "audit_table",
                    "workgroup": "audit_workgroup",
                    "region": REGION,
                    "query_results": "s3://audit-transient/results/",
                    "role_arn": aws["role"],
                    "endpoint_url": aws["proxy"].url,
                    "poll_interval": 0.01,
                },
            }
        )
    )
    env = {k: v for k, v in aws["env"].items() if not k.startswith("ACCESSMON_")}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "accessmon",
            "query",
            "exec",
            "--stats",
            "--user",
            "bob",
            "select event_time,identity_user from cert_create order by event_date limit 1;",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        {"data": ["event_time", "identity_user"]},
        {"data": ["2024-03-20 12:12:03.374", "alice"]},
    ]
    stats = json.loads(out.stderr.strip().splitlines()[-1])
    assert stats["data_scanned_in_bytes"] == 123_456_789
    assert stats["engine_execution_time_in_millis"] == 1234
    assert stats["query_execution_id"]
    assert stats["estimated_cost_usd"] == pytest.approx(123_456_789 / 1e12 * 5, abs=1e-6)
    shown = subprocess.run(
        [sys.executable, "-m", "accessmon", "query", "exec", "--show-sql", "SELECT * FROM exec"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0 and "json_extract(event_data" in shown.stdout


def test_failed_query_is_a_clear_error(aws, athena):
    aws["proxy"].fail_with = "SYNTAX_ERROR: line 1:8: Column 'nope' cannot be resolved"
    session = athena()
    with pytest.raises(EngineError, match="Column 'nope' cannot be resolved"):
        session.run("SELECT * FROM exec", Window.last_days(7))
    last = json.loads(Path(session.config.audit_log).read_text().splitlines()[-1])
    assert last["code"] == "SRE001W" and "cannot be resolved" in last["error"]


def _seed_one(aws):
    seed_results(aws["moto"], [["n"], ["1"]], ["bigint"])


def test_throttling_is_retried(aws, athena):
    _seed_one(aws)
    aws["proxy"].throttle_starts = 2
    athena().run("SELECT * FROM exec", Window.last_days(7))
    assert aws["proxy"].calls.count("StartQueryExecution") >= 3


def test_timeout_stops_the_query(aws, athena):
    keep_queries_running(aws["moto"], polls=100_000)
    try:
        session = athena(timeout_seconds=0.2)
        with pytest.raises(EngineError, match=r"stopped after 0\.2 s") as err:
            session.run("SELECT * FROM exec", Window.last_days(7))
        query_id = str(err.value).split()[2]
        assert "StopQueryExecution" in aws["proxy"].calls
        assert _execution(aws, query_id)["Status"]["State"] == "CANCELLED"
    finally:
        reset_transitions(aws["moto"])


def test_daily_budget_refuses_and_says_when_it_refills(aws, athena):
    for _ in range(3):
        _seed_one(aws)
    aws["proxy"].scanned_bytes = 60_000_000
    session = athena(data_limit=100_000_000)
    session.run("SELECT * FROM exec", Window.last_days(7))
    session.run("SELECT * FROM exec", Window.last_days(7))  # 60 MB used < 100 MB: allowed
    with pytest.raises(BudgetExceeded, match=r"refills at \d{4}-\d{2}-\d{2} 00:00 UTC"):
        session.run("SELECT * FROM exec", Window.last_days(7))
    other = athena(data_limit=100_000_000)
    other.user = "carol"  # budgets are per analyst
    other.run("SELECT * FROM exec", Window.last_days(7))


def test_config_from_teleport_yaml(tmp_path):
    teleport = tmp_path / "teleport.yaml"
    teleport.write_text(
        """
auth_service:
  audit_events_uri:
    - 'athena://audit_db.audit_table?topicArn=arn:aws:sns:eu-central-1:123:t&largeEventsS3=s3://audit-transient/large&locationS3=s3://audit-long-term/events&workgroup=audit_workgroup&queueURL=https://sqs/q&queryResultsS3=s3://audit-transient/results'
  access_monitoring:
    enabled: true
    role_arn: arn:aws:iam::123456789012:role/AccessMonitoringRole
    report_results: s3://audit-long-term/report_results
    workgroup: access_monitoring_workgroup
"""
    )
    cfg = load_config(teleport_config=teleport, environ={})
    assert cfg.engine == "athena"
    assert (cfg.athena.database, cfg.athena.table) == ("audit_db", "audit_table")
    assert cfg.athena.query_results == "s3://audit-transient/results"
    assert cfg.athena.workgroup == "access_monitoring_workgroup"  # access_monitoring wins
    assert cfg.athena.role_arn.endswith("AccessMonitoringRole")
    assert cfg.athena.report_results == "s3://audit-long-term/report_results"


def test_doctor_checks_credentials_table_and_workgroup(athena):
    checks = {name: (ok, detail) for name, ok, detail in athena().diagnose()}
    assert (
        checks["credentials"][0] and "assumed-role/AccessMonitoringRole" in checks["credentials"][1]
    )
    assert checks["table"] == (True, "audit_db.audit_table is visible in Glue")
    assert checks["workgroup"][0]
    broken = {name: ok for name, ok, _ in athena(table="nope").diagnose()}
    assert broken["table"] is False


def test_same_rows_as_the_embedded_engine(tmp_path, athena):
    """One source of truth: the Athena SQL, transpiled by sqlglot and run by DuckDB over a table
    in Athena's layout, answers every seed query exactly as the embedded engine does."""
    from accessmon.demo import write_demo

    end = dt.date(2024, 3, 20)
    store = tmp_path / "store"
    write_demo(store, events=4000, days=5, seed=3, end_date=end)
    local = session_for(store)
    remote = athena()
    con = teleport_table(store)
    nonempty = 0
    for sql in SEED_QUERIES:
        expected = local.run(sql, Window.between("2024-03-16", end)).table.to_pylist()
        _, _, athena_sql = remote.prepare(sql, Window.between("2024-03-16", end))
        got = con.sql(athena_sql_for_duckdb(athena_sql)).to_arrow_table().to_pylist()
        key = lambda r: json.dumps(r, sort_keys=True, default=str)  # noqa: E731
        assert sorted(map(key, got)) == sorted(map(key, expected)), sql
        nonempty += bool(expected)
        check_query(sql)
    assert nonempty >= 12


def test_report_results_are_published_under_report_results(aws, athena, tmp_path):
    path = tmp_path / "privilege_access_report_7d_20240320T000000Z.json"
    path.write_text('{"state": "SUCCESS"}')
    uri = athena().engine.publish_results(path, "privilege_access_report")
    assert uri == f"s3://audit-long-term/report_results/privilege_access_report/{path.name}"
    s3 = boto3.client("s3", endpoint_url=aws["moto"], region_name=REGION)
    body = s3.get_object(Bucket="audit-long-term", Key=uri.split("/", 3)[3])["Body"].read()
    assert json.loads(body) == {"state": "SUCCESS"}


def test_store_inventory_is_one_grouped_query_over_the_table(aws, athena):
    """The report's store facts on Athena: one query over Teleport's table (every event type,
    the window's partitions, `"$path"` for the files), its typed answer read back in UTC."""
    seed_results(
        aws["moto"],
        [["event_date", "events", "newest", "files"],
         ["2024-03-19", "40", "2024-03-19 23:10:00.123", "2"],
         ["2024-03-20", "7", "2024-03-20 08:00:00.000", "1"]],
        ["date", "bigint", "timestamp", "bigint"],
    )  # fmt: skip
    aws["proxy"].scanned_bytes = 4096
    session = athena()
    inventory = session.engine.inventory(dt.date(2024, 3, 14), dt.date(2024, 3, 20))
    assert inventory.location == '"audit_db"."audit_table"'
    assert inventory.days == {dt.date(2024, 3, 19): 40, dt.date(2024, 3, 20): 7}
    assert inventory.newest_event == dt.datetime(2024, 3, 20, 8, tzinfo=dt.UTC)
    assert inventory.files == 3
    [stats] = inventory.stats
    assert stats.data_scanned_bytes == 4096
    query = _execution(aws, stats.query_execution_id)["Query"]
    assert query == (
        'SELECT event_date, count(*) AS events, max(event_time) AS newest, count(DISTINCT "$path")'
        ' AS files FROM "audit_db"."audit_table" WHERE event_date BETWEEN DATE \'2024-03-14\' AND '
        "DATE '2024-03-20' GROUP BY event_date"
    )
