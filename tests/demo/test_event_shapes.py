"""Every view gets events shaped like Teleport's: keys, types, omitempty, store columns."""

from __future__ import annotations

import collections
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from accessmon.demo import generate
from accessmon.demo.schedule import TYPE_WEIGHTS
from accessmon.demo.world import CLUSTER_NAME
from accessmon.sql.views import all_views
from accessmon.storage import store

from .conftest import END, ts

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
RFC3339_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
#: Teleport writes these two without omitempty: "ei":0 and "success":false are real.
ALWAYS_WRITTEN = {"ei", "success"}
#: Map-valued keys: their keys are free-form, not view columns.
FREE_FORM = {"traits", "server_labels", "db_labels", "kubernetes_labels", "desktop_labels"}


def teleport_views():
    """Teleport's 35 views; accessmon's own secreports.* events are not demo material."""
    return [
        v
        for v in all_views().values()
        if getattr(v, "teleport", True) and not v.event_type.startswith("secreports.")
    ]


#: Event types without a top-level user (cert.create keeps it in identity.user).
NO_USER = {v.event_type for v in teleport_views() if "user" not in v.column_names}


def test_every_view_has_events_even_at_small_n():
    view_types = {v.event_type for v in teleport_views()}
    assert len(view_types) == 35
    assert set(TYPE_WEIGHTS) == view_types
    table = generate(2000, end_date=END)
    assert table.num_rows == 2000
    counts = collections.Counter(table.column("event_type").to_pylist())
    assert set(counts) == view_types
    assert min(counts.values()) >= 3


def test_exact_row_count_and_schema_for_tiny_sizes():
    for n in (1, 7, 35, 36, 101):
        table = generate(n, days=30, end_date=END)
        assert table.schema == store.SCHEMA
        assert table.num_rows == n
        assert max(t.date() for t in table.column("event_time").to_pylist()) == END


def test_store_columns_follow_the_event(default_table):
    rows = default_table.slice(0, 20_000).to_pylist() + default_table.slice(180_000).to_pylist()
    seen_cert = 0
    for row in rows:
        ev = json.loads(row["event_data"])
        assert row["uid"] == ev["uid"] and UUID4.match(ev["uid"])
        assert row["event_type"] == ev["event"]
        assert row["session_id"] == ev.get("sid", "")
        assert RFC3339_MS.match(ev["time"])
        assert row["event_time"] == ts(ev["time"])
        assert ev["cluster_name"] == CLUSTER_NAME
        assert isinstance(ev["ei"], int) and isinstance(ev["code"], str)
        if ev["event"] in NO_USER:
            assert "user" not in ev and row["user"] == ""
        else:
            assert row["user"] == ev["user"] != ""
        if ev["event"] == "cert.create":
            seen_cert += 1
            assert ev["identity"]["user"]
            assert RFC3339_NS.match(ev["identity"]["expires"])
    assert seen_cert > 100


def test_event_data_is_compact_json_without_empty_values(parsed, default_table):
    def check(obj, top: bool):
        for k, v in obj.items():
            if top and k in ALWAYS_WRITTEN:
                continue
            assert v not in ("", [], {}, None), (k, v)
            assert v is not False, k
            assert not (type(v) is int and v == 0), k
            if isinstance(v, dict):
                check(v, False)
            elif isinstance(v, list):
                for item in v:
                    if isinstance(item, dict):
                        check(item, False)

    for events in parsed.values():
        for ev in events:
            check(ev, True)
    sample = default_table.column("event_data")[0].as_py()
    assert json.dumps(json.loads(sample), separators=(",", ":"), sort_keys=True) == sample


def test_json_keys_and_types_match_the_views(parsed):
    """Every key is a view column's JSON path (or a free-form map) with the column's type."""
    for view in teleport_views():
        events = parsed[view.event_type]
        assert events, view.event_type
        paths = {c.path: c.type for c in view.columns if c.path}
        heads = {p[0] for p in paths}
        for ev in events[:2000]:
            for k, v in ev.items():
                assert k in heads, (view.event_type, k)
                if isinstance(v, dict) and k not in FREE_FORM:
                    for k2 in v:
                        assert k2 in FREE_FORM or any(p[:2] == (k, k2) for p in paths), (k, k2)
            for path, typ in paths.items():
                v = ev
                for part in path:
                    v = v.get(part) if isinstance(v, dict) else None
                if v is None:
                    continue
                if typ in ("integer", "bigint"):
                    assert type(v) is int, (path, v)
                elif typ == "boolean":
                    assert type(v) is bool, (path, v)
                elif typ.startswith("array"):
                    assert isinstance(v, list), (path, v)
                elif path[0] not in FREE_FORM:
                    assert isinstance(v, str), (path, v)


def test_teleport_specific_keys(parsed):
    start = parsed["session.start"][0]
    assert "addr.local" in start and "addr.remote" in start
    assert re.match(r"^\d+\.\d+\.\d+\.\d+:\d+$", start["addr.remote"])
    execs = parsed["exec"]
    assert all("exitCode" in e for e in execs)
    assert any("exitError" in e and e["code"] == "T3002E" for e in execs)
    assert all(isinstance(e["identity"], dict) for e in parsed["cert.create"])
    ids = [r for e in parsed["access_request.create"] for r in e.get("resource_ids", [])]
    assert ids and all({"cluster", "kind", "name"} <= set(r) for r in ids)
    assert all(
        isinstance(m, dict) for e in parsed["access_list.member.create"] for m in e["members"]
    )
    assert all("target" in e for e in parsed["lock.created"])
    assert any("mfa_device" in e for e in parsed["user.login"])
    assert any("device_id" in e["device"] for e in parsed["device.enroll"])
    dbs = parsed["db.session.start"]
    assert {e["db_protocol"] for e in dbs} == {"postgres", "mysql", "mongodb"}
    assert all({"db_user", "db_name", "db_service", "db_uri"} <= set(e) for e in dbs)
    kube = parsed["kube.request"]
    assert all(
        {"kubernetes_cluster", "verb", "request_path", "resource_kind"} <= set(e) for e in kube
    )
    assert all(isinstance(e["response_code"], int) for e in kube)
    users = {e["user"] for e in parsed["session.start"]}
    assert {"alice", "bob", "admin-annie"} <= users
    assert any(u.startswith("bot-") for u in users)


def test_uids_unique_and_rows_in_time_order(default_table):
    assert pc.count_distinct(default_table.column("uid")).as_py() == default_table.num_rows
    times = default_table.column("event_time").cast(pa.int64()).to_numpy()
    assert (np.diff(times) >= 0).all()
