"""The workbench's own audit trail: Teleport-shaped events, one JSON line each, and the bytes
an analyst made Athena scan on a day (the input of the budget)."""

from __future__ import annotations

import datetime as dt
import json
import re
import stat
import threading

from accessmon.storage import audit
from accessmon.storage.ingest import ingest
from accessmon.window import Window

from ..conftest import session_for

TODAY = dt.datetime.now(dt.UTC).date()


def test_an_event_is_shaped_like_teleports():
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    record = audit.event(audit.QUERY_RUN, user="alice", success=True, query="SELECT 1", days=7)
    assert list(record)[:6] == ["event", "code", "uid", "time", "user", "success"]
    assert (record["event"], record["code"]) == ("secreports.audit.query.run", "SRE001I")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
    stamp = dt.datetime.strptime(record["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    assert before <= stamp <= dt.datetime.now(dt.UTC)
    assert re.fullmatch(r"[0-9a-f-]{36}", record["uid"])
    assert (record["user"], record["success"], record["query"], record["days"]) == (
        "alice", True, "SELECT 1", 7
    )  # fmt: skip


def test_a_denied_or_failed_event_has_a_w_code_and_none_fields_are_left_out():
    record = audit.event(audit.REPORT_GET, user="bob", success=False, error="denied", name=None)
    assert record["code"] == "AMR002W" and record["success"] is False
    assert "name" not in record and record["error"] == "denied"


def test_every_kind_has_a_unique_event_and_code():
    kinds = [v for k, v in vars(audit).items() if k.isupper() and isinstance(v, tuple)]
    assert len(kinds) >= 14
    assert len({k[0] for k in kinds}) == len(kinds) == len({k[1] for k in kinds})


def test_append_writes_one_json_line_per_event(tmp_path):
    path = tmp_path / "logs" / "audit.jsonl"
    audit.append(path, audit.event(audit.SCHEMA, user="alice", success=True))
    audit.append(path, {"event": "x", "query": "SELECT 'é'\n-- two lines", "when": TODAY})
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") == 2 and text.endswith("\n")
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["event"] == "accessmon.schema.list"
    assert second == {"event": "x", "query": "SELECT 'é'\n-- two lines", "when": str(TODAY)}
    assert "é" in text  # kept readable, not \\u escaped
    assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0  # not for everyone to read


def test_concurrent_appends_never_interleave(tmp_path):
    path = tmp_path / "audit.jsonl"
    long = "x" * 20_000

    def writer(n: int) -> None:
        for i in range(20):
            audit.append(path, {"writer": n, "i": i, "pad": long})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = audit.read(path)
    assert len(records) == 80 and all(r["pad"] == long for r in records)


def test_read_skips_lines_that_are_no_json_and_a_missing_file_is_empty(tmp_path):
    path = tmp_path / "audit.jsonl"
    assert audit.read(path) == []
    path.write_text('{"a": 1}\nnot json\n\n{"b": 2}\n{"cut": ')
    assert audit.read(path) == [{"a": 1}, {"b": 2}]


def test_bytes_scanned_on_counts_one_users_athena_runs_of_one_day(tmp_path):
    path = tmp_path / "audit.jsonl"
    day = dt.date(2024, 3, 20)

    def line(user, time, scanned, engine="athena"):
        audit.append(path, {"event": "secreports.audit.query.run", "user": user, "time": time,
                            "engine": engine, "data_scanned_in_bytes": scanned})  # fmt: skip

    line("alice", "2024-03-20T00:00:00.000Z", 100)
    line("alice", "2024-03-20T23:59:59.999Z", 50)
    line("alice", "2024-03-19T23:59:59.999Z", 1_000)  # the day before
    line("alice", "2024-03-20T10:00:00.000Z", 1_000, engine="duckdb")
    line("bob", "2024-03-20T10:00:00.000Z", 1_000)
    line("alice", "2024-03-20T11:00:00.000Z", None)  # a failed run scanned nothing
    assert audit.bytes_scanned_on(path, "alice", day) == 150
    assert audit.bytes_scanned_on(path, "bob", day) == 1_000
    assert audit.bytes_scanned_on(path, "alice", day, engine="duckdb") == 1_000
    assert audit.bytes_scanned_on(tmp_path / "none.jsonl", "alice", day) == 0


def test_the_trail_is_a_log_that_ingest_reads_back(tmp_path):
    """The auditors' own activity becomes queryable through the secreports_* views."""
    log = tmp_path / "audit.jsonl"
    audit.append(log, audit.event(audit.QUERY_RUN, user="alice", success=True,
                                  query="SELECT 1", engine="duckdb"))  # fmt: skip
    store = tmp_path / "store"
    ingest([log], store)
    with session_for(store, audit_log=tmp_path / "other.jsonl") as session:
        result = session.run(
            "SELECT event, user FROM secreports_audit_query_run", Window.last_days(1)
        )
    assert result.table.to_pylist() == [{"event": "secreports.audit.query.run", "user": "alice"}]
