"""Ingest: real files in, the Athena layout out, nothing lost, nothing doubled."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accessmon.errors import IngestError
from accessmon.storage import store as store_mod
from accessmon.storage.ingest import content_uid, ingest

from ..conftest import session_for, write_jsonl

SESSION_START = {
    "addr.local": "172.31.28.130:3022",
    "addr.remote": "151.181.228.114:51454",
    "code": "T2000I",
    "ei": 0,
    "event": "session.start",
    "login": "root",
    "namespace": "default",
    "server_id": "de3800ea-69d9-4d72-a108-97e57f8eb393",
    "sid": "56408539-6536-11e9-80a1-427cfde50f5a",
    "size": "80:25",
    "time": "2019-04-22T19:39:26.676Z",
    "uid": "84c07a99-856c-419f-9de5-15560451a116",
    "user": "admin@example.com",
}
CERT_CREATE = {
    "event": "cert.create",
    "code": "TC000I",
    "time": "2019-04-22T23:59:59.999Z",
    "uid": "0f6ab7c1-4c2a-4c45-9a34-5b3c3f0d2a11",
    "cluster_name": "example",
    "cert_type": "user",
    "identity": {
        "user": "alice",
        "roles": ["access", "editor"],
        "expires": "2019-04-23T06:56:50.648137154Z",
        "client_ip": "10.0.0.7",
    },
}
NO_UID = {
    "event": "user.login",
    "time": "2019-04-23T00:00:00.001Z",
    "user": "bob",
    "code": "T1000I",
}


def _rows(store):
    files = store_mod.files_between(store, None, None)
    return pq.read_table(files).sort_by("event_time").to_pylist() if files else []


def test_round_trip_fills_every_column_as_teleport(tmp_path):
    src = write_jsonl(tmp_path / "2019-04-22.log", [SESSION_START, CERT_CREATE, NO_UID])
    summary = ingest([src], tmp_path / "store")
    assert (summary.files, summary.read, summary.added, summary.duplicates, summary.rejected) == (
        1,
        3,
        3,
        0,
        0,
    )
    rows = _rows(tmp_path / "store")
    ss, cc, ul = rows
    assert ss["uid"] == SESSION_START["uid"]
    assert ss["session_id"] == SESSION_START["sid"]
    assert ss["event_type"] == "session.start"
    assert ss["event_time"] == dt.datetime(2019, 4, 22, 19, 39, 26, 676000, tzinfo=dt.UTC)
    assert json.loads(ss["event_data"]) == SESSION_START
    assert ss["user"] == "admin@example.com"
    # cert.create keeps its user in identity.user: the column is empty, as in Teleport's table
    assert cc["user"] == "" and cc["session_id"] == ""
    assert json.loads(cc["event_data"])["identity"]["expires"].endswith("648137154Z")
    # no uid: a stable key derived from the content
    assert ul["uid"] == content_uid(NO_UID)
    uuid.UUID(ul["uid"])
    # partitions are plain date folders: 2019-04-22 and 2019-04-23
    assert [d.isoformat() for d in store_mod.partitions(tmp_path / "store")] == [
        "2019-04-22",
        "2019-04-23",
    ]
    schema = pq.read_schema(store_mod.files_between(tmp_path / "store", None, None)[0])
    assert schema.field("event_time").type == pa.timestamp("ms", tz="UTC")
    assert schema.names == store_mod.SCHEMA.names


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("2024-03-19T23:30:00.5-02:00", dt.datetime(2024, 3, 20, 1, 30, 0, 500000, tzinfo=dt.UTC)),
        (
            "2024-03-20T10:00:00.123456789Z",
            dt.datetime(2024, 3, 20, 10, 0, 0, 123000, tzinfo=dt.UTC),
        ),
        ("2024-03-20T10:00:00Z", dt.datetime(2024, 3, 20, 10, tzinfo=dt.UTC)),
        ("2024-03-20T10:00:00+00:00", dt.datetime(2024, 3, 20, 10, tzinfo=dt.UTC)),
    ],
)
def test_event_time_is_the_utc_instant_to_the_millisecond(tmp_path, time, expected):
    """Offsets count (the partition is the UTC day) and nanoseconds are cut, as in Athena."""
    ingest([write_jsonl(tmp_path / "a.log", [{**SESSION_START, "time": time}])], tmp_path / "s")
    (row,) = _rows(tmp_path / "s")
    assert row["event_time"] == expected
    assert store_mod.partitions(tmp_path / "s") == [expected.date()]


def test_reingest_adds_nothing(tmp_path):
    src = write_jsonl(tmp_path / "a.log", [SESSION_START, CERT_CREATE, NO_UID])
    ingest([src], tmp_path / "store")
    files_before = sorted(store_mod.files_between(tmp_path / "store", None, None))
    again = ingest([src, src], tmp_path / "store")
    assert (again.read, again.added, again.duplicates) == (6, 0, 6)
    assert sorted(store_mod.files_between(tmp_path / "store", None, None)) == files_before


def test_gzip_directories_and_json_arrays(tmp_path):
    logs = tmp_path / "var" / "lib" / "teleport" / "log"
    logs.mkdir(parents=True)
    with gzip.open(logs / "2019-04-22.log.gz", "wt") as fh:
        fh.write(json.dumps(SESSION_START) + "\n")
    (logs / "nested").mkdir()
    (logs / "nested" / "events.json").write_text(json.dumps([CERT_CREATE, NO_UID], indent=2))
    (logs / "recording.tar").write_bytes(b"\x00binary")  # not a log: skipped in directories
    summary = ingest([tmp_path / "var"], tmp_path / "store")
    assert (summary.files, summary.added, summary.rejected) == (2, 3, 0)


def _rejects(store):
    files = list((store / "_rejected").glob("*.jsonl"))
    assert len(files) == 1
    return [json.loads(line) for line in files[0].read_text().splitlines()]


def test_bad_lines_are_set_aside_and_the_rest_ingests(tmp_path):
    src = tmp_path / "mixed.log"
    good = json.dumps(SESSION_START).encode()
    src.write_bytes(
        b"\n".join(
            [
                good,
                b'{"event": "session.start", "time": ',  # malformed
                b'{"time": "2019-04-22T19:39:26.676Z", "uid": "x1"}',  # no event
                b'{"event": "exec", "uid": "x2"}',  # no time
                b'{"event": "exec", "time": "yesterday", "uid": "x3"}',  # bad time
                b'{"event": "exec", "time": "2019-04-22T19:39:26Z", "user": "\xff\xfe"}',  # bad UTF-8
                b"[1, 2]",  # not an object
                b"",
                json.dumps(CERT_CREATE).encode(),
            ]
        )
        + b"\n"
    )
    summary = ingest([src], tmp_path / "store")
    assert (summary.read, summary.added, summary.rejected) == (2, 2, 6)
    rejects = _rejects(tmp_path / "store")
    reasons = {r["line"]: r["reason"] for r in rejects}
    assert set(reasons) == {2, 3, 4, 5, 6, 7}
    assert reasons[2].startswith("malformed JSON")
    assert reasons[3] == "missing 'event'"
    assert reasons[4] == "missing 'time'"
    assert reasons[5].startswith("invalid time")
    assert reasons[6].startswith("invalid UTF-8")
    assert reasons[7] == "not a JSON object"
    assert all(r["source"] == str(src) for r in rejects)


def test_truncated_gzip_keeps_what_was_readable(tmp_path):
    events = [dict(SESSION_START, uid=f"u{i}", sid=f"s{i}") for i in range(2000)]
    whole = gzip.compress("".join(json.dumps(e) + "\n" for e in events).encode())
    src = tmp_path / "cut.log.gz"
    src.write_bytes(whole[: len(whole) // 2])
    summary = ingest([src], tmp_path / "store")
    assert 0 < summary.added < 2000
    assert summary.rejected == 1
    assert "unreadable after line" in _rejects(tmp_path / "store")[0]["reason"]


def test_nothing_readable_is_an_error(tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        ingest([tmp_path / "missing.log"], tmp_path / "store")
    bad = tmp_path / "bad.log"
    bad.write_text("not json\n")
    with pytest.raises(IngestError, match="1 line"):
        ingest([bad], tmp_path / "store")


def test_interrupted_ingest_leaves_whole_files_and_rerun_completes(tmp_path, monkeypatch):
    days = [f"2019-04-{d:02d}T10:00:00.000Z" for d in range(20, 25)]
    events = [dict(SESSION_START, uid=f"u{i}", time=t) for i, t in enumerate(days)]
    src = write_jsonl(tmp_path / "in.log", events)
    real_write = store_mod.atomic_write_parquet
    calls = {"n": 0}

    def crash_on_third(table, path):
        calls["n"] += 1
        if calls["n"] == 3:
            # the process dies mid-write: a temporary file is left behind, no rename
            tmp = path.with_name(f".{path.name}.dead.tmp")
            tmp.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(b"PAR1 half a file")
            raise KeyboardInterrupt
        real_write(table, path)

    monkeypatch.setattr(store_mod, "atomic_write_parquet", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        ingest([src], tmp_path / "store")
    monkeypatch.setattr(store_mod, "atomic_write_parquet", real_write)
    store = tmp_path / "store"
    assert len(_rows(store)) == 2  # only whole files are visible
    summary = ingest([src], store)
    assert (summary.added, summary.duplicates) == (3, 2)
    assert [r["uid"] for r in _rows(store)] == [f"u{i}" for i in range(5)]
    assert (
        session_for(store).query(
            "SELECT count(*) AS n FROM session_start",
            days=None,
            start="2019-04-20",
            end="2019-04-24",
        )["n"][0]
        == 5
    )


def test_store_written_by_pyarrow_in_athena_layout(tmp_path):
    """Files as Teleport writes them (an `aws s3 sync` of its bucket) are a store as they are."""
    store = tmp_path / "synced"
    for day, event in (("2019-04-22", SESSION_START), ("2019-04-23", NO_UID)):
        table = pa.table(
            {
                "uid": [event.get("uid", "")],
                "session_id": [event.get("sid", "")],
                "event_type": [event["event"]],
                "event_time": pa.array(
                    [dt.datetime.fromisoformat(event["time"].replace("Z", "+00:00"))],
                    pa.timestamp("ms", tz="UTC"),
                ),
                "event_data": [json.dumps(event)],
                "user": [event.get("user", "")],
            }
        )
        (store / day).mkdir(parents=True)
        pq.write_table(table, store / day / f"{uuid.uuid4()}.parquet", compression="snappy")
    session = session_for(store)
    df = session.query(
        "SELECT event_date, login, addr_local FROM session_start",
        start="2019-04-01",
        end="2019-04-30",
    )
    assert df.to_dict("records") == [
        {"event_date": dt.date(2019, 4, 22), "login": "root", "addr_local": "172.31.28.130:3022"}
    ]
    assert len(session.query("SELECT * FROM user_login", start="2019-04-23", end="2019-04-23")) == 1
    # and ingest de-duplicates against such files
    assert ingest([write_jsonl(tmp_path / "x.log", [SESSION_START])], store).duplicates == 1
