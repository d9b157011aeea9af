"""A report's provenance and quality panel on Trino: the query ids of every query, and the same
store facts, empty days and null rates as DuckDB finds over the same store."""

from __future__ import annotations

import datetime as dt
import re

from accessmon.config import load_config
from accessmon.reports.run import run_report
from accessmon.session import Session
from accessmon.storage import audit
from accessmon.window import Window
from tests.trino import server
from tests.trino.conftest import END

WINDOW = Window.between(END - dt.timedelta(days=4), END)
QUERY_ID = re.compile(r"\d{8}_\d{6}_\d{5}_\w{5}")


def test_report_provenance_and_quality_on_trino(trino, trino_store, duckdb_session, tmp_path):
    flags = {
        "store": trino_store,
        "engine": "trino",
        "audit_log": tmp_path / "audit.jsonl",
        "trino": {"host": "127.0.0.1", "port": trino.port, "catalog": server.CATALOG,
                  "schema": server.DATABASE, "table": server.TABLE},
    }  # fmt: skip
    session = Session(load_config(flags=flags, environ={}))
    run = run_report(session, "privilege_access_report", WINDOW)
    assert run.state == "SUCCESS"
    for q in run.queries:
        assert q.query_ids and all(QUERY_ID.fullmatch(i) for i in q.query_ids), q.name
        assert run.provenance["query_ids"][q.name] == q.query_ids
    local = run_report(duckdb_session, "privilege_access_report", WINDOW)
    store, here = run.provenance["store"], local.provenance["store"]
    assert store["location"] == f'"{server.CATALOG}"."{server.DATABASE}"."{server.TABLE}"'
    assert (store["newest_event"], store["files"]) == (here["newest_event"], here["files"])
    assert store["files"] > 0
    assert run.quality["empty_days"] == local.quality["empty_days"]
    assert run.quality["fields"] == local.quality["fields"]
    assert run.quality["stale"] == local.quality["stale"]
    # the checks' own queries: their ids, and their bytes in the run's one audit line
    checks = run.quality["checks"]
    views = {f["view"] for f in run.quality["fields"]}
    assert len(views) == 6 and len(checks["query_ids"]) == 1 + 6  # the inventory, one per view
    assert all(QUERY_ID.fullmatch(i) for i in checks["query_ids"])
    assert checks["data_scanned_in_bytes"] > 0
    [record] = audit.read(tmp_path / "audit.jsonl")
    assert record["event"] == "secreports.report.run"
    assert (
        record["data_scanned_in_bytes"] == run.data_scanned_bytes + checks["data_scanned_in_bytes"]
    )
    assert record["quality_checks"] == checks
