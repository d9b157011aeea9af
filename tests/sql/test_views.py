"""The 35 audit views, checked column by column against realistic Teleport events.

`tests/fixtures/events/<view>.json` holds one event per view, shaped like Teleport's
event JSON (dotted `addr.*` keys, nested `identity`/`trusted_device`/`device`/`target`,
omitted empty values). Every view is queried through a Session (Trino SQL -> DuckDB)
over one store holding all 35 events, so each view must return its own event only,
with each column equal to what the event's JSON holds at that column's path.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from accessmon.errors import AccessmonError, QueryError
from accessmon.sql.views import WIDENED, Column, View, teleport_views
from accessmon.storage.ingest import ingest
from accessmon.storage.store import files_between
from accessmon.window import Window

from ..conftest import REPO, SPEC, build_store, session_for, write_jsonl

FIXTURES = REPO / "tests" / "fixtures" / "events"
VIEWS = teleport_views()
DAY = dt.date(2024, 3, 20)
WINDOW = Window.between("2024-03-20", "2024-03-20")

#: Label maps: Teleport's views read `$["<map>"]["key"]`, which real maps never have.
MAP_COLUMN = re.compile(r"_(labels|traits)_(key|value)$")
#: Columns no fixture fills on purpose (an AWS app route has no Azure or GCP identity).
NEVER_FILLED = {"identity_route_to_app_azure_identity", "identity_route_to_app_gcp_service_account"}

#: Events of types that have no view; they must not disturb any view.
OTHER_EVENTS = [
    {
        "event": "session.end",
        "code": "T2004I",
        "uid": "0b7e3c1d-0000-4000-8000-000000000001",
        "time": "2024-03-20T16:30:00.000Z",
        "cluster_name": "teleport.example.com",
        "user": "alice@example.com",
        "sid": "56408539-bd2e-4c1b-9f2e-7a6d5c4b3a29",
        "participants": ["alice@example.com"],
        "session_start": "2024-03-20T16:00:00.123Z",
        "session_stop": "2024-03-20T16:30:00Z",
    },
    {
        "event": "app.session.chunk",
        "code": "T2008I",
        "uid": "0b7e3c1d-0000-4000-8000-000000000002",
        "time": "2024-03-20T12:00:00.000Z",
        "user": "bob@example.com",
        "session_chunk_id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
    },
    {
        "event": "secreports.audit.query.run",
        "code": "SRE001I",
        "uid": "0b7e3c1d-0000-4000-8000-000000000003",
        "time": "2024-03-20T21:00:00.000Z",
        "user": "auditor@example.com",
        "query": "SELECT * FROM session_start",
        "days": 7,
        "success": True,
    },
]

#: Events of view types just outside the 2024-03-20 window; no view may return them.
OUT_OF_WINDOW = [
    {
        "event": "session.start",
        "code": "T2000I",
        "uid": "0b7e3c1d-0000-4000-8000-000000000011",
        "time": "2024-03-19T23:59:59.999Z",
        "user": "late@example.com",
        "login": "root",
    },
    {
        "event": "cert.create",
        "code": "TC000I",
        "uid": "0b7e3c1d-0000-4000-8000-000000000012",
        "time": "2024-03-21T00:00:00.000Z",
        "cert_type": "user",
        "identity": {"user": "early@example.com", "expires": "2024-03-21T12:00:00Z"},
    },
]


def load_fixture(view_name: str) -> dict:
    return json.loads((FIXTURES / f"{view_name}.json").read_text(encoding="utf-8"))


# -- expected values, computed from the fixture JSON ------------------------------------------


def walk(event: dict, path: tuple[str, ...]):
    """The value at `path`, or None where a key is absent (Athena's json_extract gives NULL)."""
    node = event
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


_ROW_TYPE = re.compile(r"^array\(row\((?P<fields>.*)\)\)$")


def row_fields(typ: str) -> list[str]:
    """Field names of `array(row(a varchar, b varchar))`, or [] for other types."""
    m = _ROW_TYPE.match(typ)
    return [f.strip().split(" ")[0] for f in m.group("fields").split(",")] if m else []


def event_time(event: dict) -> dt.datetime:
    """The event's `time` in UTC without zone, truncated to milliseconds like the store."""
    t = pd.Timestamp(event["time"]).tz_convert("UTC").tz_localize(None).floor("ms")
    return t.to_pydatetime()


def expected_value(col: Column, event: dict):
    if col.name == "event_date":
        return DAY
    if col.name == "event_time":
        return event_time(event)
    raw = walk(event, col.path)
    if raw is None:
        return None
    where = f"{event['event']} {col.name}"
    if col.type == "varchar":
        assert isinstance(raw, str), f"fixture {where}: expected a JSON string, got {raw!r}"
        return raw
    if col.type in ("integer", "bigint"):
        assert isinstance(raw, int) and not isinstance(raw, bool), f"fixture {where}: {raw!r}"
        return raw
    if col.type == "boolean":
        assert isinstance(raw, bool), f"fixture {where}: {raw!r}"
        return raw
    if col.type == "array(varchar)":
        assert isinstance(raw, list) and all(isinstance(x, str) for x in raw), where
        return raw
    fields = row_fields(col.type)
    assert fields, f"unknown column type {col.type}"
    assert isinstance(raw, list) and all(isinstance(x, dict) for x in raw), where
    return [{f: item.get(f) for f in fields} for item in raw]


def check_arrow_type(col: Column, typ: pa.DataType) -> None:
    where = f"{col.name} ({col.type}) is {typ}"
    if col.type == "varchar":
        assert typ == pa.string(), where
    elif col.type == "integer":
        assert typ == pa.int32(), where
    elif col.type == "bigint":
        assert typ == pa.int64(), where
    elif col.type == "boolean":
        assert typ == pa.bool_(), where
    elif col.type == "date":
        assert typ == pa.date32(), where
    elif col.type == "timestamp":
        assert pa.types.is_timestamp(typ) and typ.tz is None, where
    elif col.type == "array(varchar)":
        assert pa.types.is_list(typ) and typ.value_type == pa.string(), where
    else:
        fields = row_fields(col.type)
        assert fields, f"unknown column type {col.type}"
        assert pa.types.is_list(typ) and pa.types.is_struct(typ.value_type), where
        struct = typ.value_type
        assert [struct.field(i).name for i in range(struct.num_fields)] == fields, where
        assert all(struct.field(i).type == pa.string() for i in range(struct.num_fields)), where


# -- one store with every fixture ---------------------------------------------------------------


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    events = [load_fixture(name) for name in VIEWS] + OTHER_EVENTS + OUT_OF_WINDOW
    return build_store(tmp_path_factory.mktemp("views"), events)


@pytest.fixture(scope="module")
def session(store_path):
    s = session_for(store_path)
    yield s
    s.close()


def run_view(session, view: View) -> pa.Table:
    return session.run(f"SELECT * FROM {view.name}", WINDOW).table


def rows(session, sql: str, window: Window | None = None) -> list[dict]:
    """Result rows as Python values (NULL -> None), without pandas' NaN for missing strings."""
    return session.run(sql, window or WINDOW).table.to_pylist()


@pytest.mark.parametrize("view", list(VIEWS.values()), ids=list(VIEWS))
def test_view_reads_its_event(session, view: View):
    event = load_fixture(view.name)
    table = run_view(session, view)

    assert table.column_names == [c.name for c in view.columns]
    assert table.column_names[:2] == ["event_date", "event_time"]
    assert table.num_rows == 1, f"{view.name} must return only its own event of the window"
    for col, field in zip(view.columns, table.schema, strict=True):
        check_arrow_type(col, field.type)

    row = table.to_pylist()[0]
    expected = {c.name: expected_value(c, event) for c in view.columns}
    for name in view.column_names:
        assert row[name] == expected[name], f"{view.name}.{name}"
    assert row["event_date"] == DAY


@pytest.mark.parametrize("view", list(VIEWS.values()), ids=list(VIEWS))
def test_fixture_is_realistic(view: View):
    """One event of the view's type on 2024-03-20, filling most columns and leaving some NULL."""
    event = load_fixture(view.name)
    assert event["event"] == view.event_type
    assert re.fullmatch(r"2024-03-20T\d\d:\d\d:\d\d\.\d{3}Z", event["time"])
    assert event["code"] in view.codes
    json_cols = [c for c in view.columns if c.path is not None]
    filled = [c for c in json_cols if expected_value(c, event) is not None]
    assert len(filled) >= 0.55 * len(json_cols), f"{view.name}: fill most columns"
    assert len(filled) < len(json_cols), f"{view.name}: leave some keys out"

    def empty(v) -> bool:
        return v in ("", [], {}, False, 0, None)

    def no_empty_values(node) -> None:  # Teleport omits empty values
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            assert not empty(value) or isinstance(node, list), f"{view.name}: empty {key}"
            if isinstance(value, dict | list):
                no_empty_values(value)

    no_empty_values(event)


def test_fixtures_fill_every_column_somewhere():
    """Each JSON column (but label maps) is non-NULL in at least one fixture."""
    filled, names = set(), set()
    for view in VIEWS.values():
        event = load_fixture(view.name)
        for col in view.columns:
            if col.path is None or MAP_COLUMN.search(col.name):
                continue
            names.add(col.name)
            if expected_value(col, event) is not None:
                filled.add(col.name)
    assert names - filled == NEVER_FILLED
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(VIEWS)


def test_window_excludes_neighbouring_days(session):
    """The out-of-window events are in the store: a wider window returns them."""
    wide = Window.between("2024-03-19", "2024-03-21")
    df = session.query("SELECT event_date, user FROM session_start ORDER BY event_time", wide)
    assert list(df["user"]) == ["late@example.com", "alice@example.com"]
    assert list(df["event_date"]) == [dt.date(2024, 3, 19), DAY]
    df = session.query("SELECT identity_user FROM cert_create ORDER BY event_time", wide)
    assert list(df["identity_user"]) == ["alice@example.com", "early@example.com"]


def test_query_returns_dataframe(session):
    df = session.query("SELECT * FROM exec", WINDOW)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == list(VIEWS["exec"].column_names)
    assert len(df) == 1
    assert df.loc[0, "exitCode"] == "1"


# -- targeted checks ----------------------------------------------------------------------------


def test_addr_columns_read_dotted_keys(make_store):
    """`addr.local` is one key with a dot in it, not `addr` -> `local`."""
    assert VIEWS["session_start"].column("addr_local").path == ("addr.local",)
    assert VIEWS["session_start"].column("addr_remote").path == ("addr.remote",)
    event = {
        "event": "session.start",
        "code": "T2000I",
        "uid": "addr-1",
        "time": "2024-03-20T10:00:00.000Z",
        "user": "alice@example.com",
        "addr.local": "172.31.28.130:3022",
        "addr": {"local": "nested-local", "remote": "nested-remote"},
    }
    session = make_store([event])
    assert rows(session, "SELECT addr_local, addr_remote FROM session_start") == [
        {"addr_local": "172.31.28.130:3022", "addr_remote": None}
    ]


def test_cert_create_user_is_in_identity_only(session, store_path):
    """The store's `user` is "" for cert.create; the view reads `identity.user`."""
    table = pq.read_table(files_between(store_path, None, None))
    certs = table.filter(pc.equal(table.column("event_type"), "cert.create"))
    assert certs.num_rows == 2
    assert certs.column("user").to_pylist() == ["", ""]
    assert rows(session, "SELECT identity_user FROM cert_create") == [
        {"identity_user": "alice@example.com"}
    ]
    assert "user" not in VIEWS["cert_create"].column_names


@pytest.mark.parametrize("view", ["cert_create", "bot_join", "instance_join"])
def test_user_column_missing_from_view_is_an_error(session, view):
    """DuckDB would bind a missing `user` to its current_user function and answer 'duckdb';
    like Athena, accessmon refuses the column instead."""
    with pytest.raises(QueryError, match=f"unknown column user in {view}"):
        session.run(f"SELECT user FROM {view}", WINDOW)


def test_store_row_columns(store_path):
    """The stored columns Teleport's table has: session_id from sid, user from user."""
    table = pq.read_table(files_between(store_path, DAY, DAY))
    rows = {r["event_type"]: r for r in table.to_pylist()}
    assert rows["session.start"]["session_id"] == load_fixture("session_start")["sid"]
    assert rows["session.start"]["user"] == "alice@example.com"
    assert rows["bot.join"]["session_id"] == ""
    assert rows["bot.join"]["user"] == ""
    assert rows["instance.join"]["user"] == ""


def test_label_maps_give_null_key_and_value(make_store):
    event = {
        "event": "session.start",
        "code": "T2000I",
        "uid": "labels-1",
        "time": "2024-03-20T10:00:00.000Z",
        "user": "alice@example.com",
        "server_labels": {"env": "prod"},
        "kubernetes_labels": {"env": "prod", "team": "platform"},
    }
    session = make_store([event])
    sql = (
        "SELECT server_labels_key, server_labels_value, kubernetes_labels_key,"
        " kubernetes_labels_value, server_labels_key IS NULL AS key_is_null FROM session_start"
    )
    assert rows(session, sql)[0] == {
        "server_labels_key": None,
        "server_labels_value": None,
        "kubernetes_labels_key": None,
        "kubernetes_labels_value": None,
        "key_is_null": True,
    }


def test_unknown_event_types_are_ingested_and_ignored(tmp_path):
    """Events of types without a view are stored, and every view stays empty but typed."""
    source = write_jsonl(tmp_path / "in.jsonl", OTHER_EVENTS)
    summary = ingest([source], tmp_path / "store")
    assert (summary.added, summary.rejected) == (len(OTHER_EVENTS), 0)
    session = session_for(tmp_path / "store")
    for view in VIEWS.values():
        table = run_view(session, view)
        assert table.num_rows == 0
        assert table.column_names == list(view.column_names)
        for col, field in zip(view.columns, table.schema, strict=True):
            check_arrow_type(col, field.type)
    session.close()


def test_with_mfa_absent_is_null(session):
    """session_start's fixture has no with_mfa; exec's has one."""
    assert "with_mfa" not in load_fixture("session_start")
    assert "with_mfa" in load_fixture("exec")
    sql = "SELECT with_mfa IS NULL AS no_mfa, count(*) AS n FROM {} GROUP BY 1"
    assert rows(session, sql.format("session_start")) == [{"no_mfa": True, "n": 1}]
    assert rows(session, sql.format("exec")) == [{"no_mfa": False, "n": 1}]


def test_cardinality_of_absent_access_requests_is_null(session):
    assert "access_requests" not in load_fixture("session_start")
    assert len(load_fixture("exec")["access_requests"]) == 2
    sql = (
        "SELECT CARDINALITY(access_requests) IS NULL AS none,"
        " CARDINALITY(access_requests) AS n FROM {}"
    )
    assert rows(session, sql.format("session_start")) == [{"none": True, "n": None}]
    assert rows(session, sql.format("exec")) == [{"none": False, "n": 2}]


def test_explicit_json_nulls_read_as_null(make_store):
    event = {
        "event": "session.start",
        "code": "T2000I",
        "uid": "nulls-1",
        "time": "2024-03-20T10:00:00.000Z",
        "user": "alice@example.com",
        "with_mfa": None,
        "access_requests": None,
        "trusted_device": None,
        "ei": None,
    }
    session = make_store([event])
    sql = (
        "SELECT with_mfa IS NULL AS a, CARDINALITY(access_requests) IS NULL AS b,"
        " trusted_device_device_id IS NULL AS c, trusted_device_os_type IS NULL AS d,"
        " ei IS NULL AS e FROM session_start"
    )
    assert rows(session, sql) == [dict.fromkeys("abcde", True)]


def test_event_time_is_truncated_to_ms_and_time_kept_as_text(make_store):
    events = [
        {"event": "exec", "uid": "t-1", "time": "2024-03-20T12:12:03.374159Z", "user": "a"},
        {"event": "exec", "uid": "t-2", "time": "2024-03-20T14:12:03.9+02:00", "user": "b"},
    ]
    session = make_store(events)
    table = session.run("SELECT user, event_time, time FROM exec ORDER BY user", WINDOW).table
    assert table.to_pylist() == [
        {
            "user": "a",
            "event_time": dt.datetime(2024, 3, 20, 12, 12, 3, 374000),
            "time": "2024-03-20T12:12:03.374159Z",
        },
        {
            "user": "b",
            "event_time": dt.datetime(2024, 3, 20, 12, 12, 3, 900000),
            "time": "2024-03-20T14:12:03.9+02:00",
        },
    ]


def test_nanosecond_expiry_works_with_from_iso8601_timestamp(session):
    """The seed's long-lived-certificate query over the fixture, whose certificate expires one
    day and 137 µs after `time`. Athena's from_iso8601_timestamp is timestamp(3): the 137 µs
    are dropped, so the certificate is not longer than a day, and neither is it here."""
    sql = (
        "SELECT DISTINCT event_date, COUNT ( * ) AS count, identity_user AS user FROM cert_create"
        " WHERE from_iso8601_timestamp(identity_expires) - from_iso8601_timestamp( time )"
        " > INTERVAL '1' DAY GROUP BY event_date, identity_user ORDER BY event_date"
    )
    assert rows(session, sql) == []
    sql = sql.replace("> INTERVAL '1' DAY", ">= INTERVAL '1' DAY")
    assert rows(session, sql) == [{"event_date": DAY, "count": 1, "user": "alice@example.com"}]


def test_row_arrays_keep_missing_fields_as_null(session):
    sql = (
        "SELECT CARDINALITY(members) AS n, members[1].member_name AS first,"
        " members[2].removed_on AS removed FROM access_list_member_create"
    )
    assert rows(session, sql) == [{"n": 2, "first": "bob@example.com", "removed": None}]
    sql = "SELECT identity_allowed_resource_ids[2].sub_resource AS sub FROM cert_create"
    assert rows(session, sql) == [{"sub": "kube-system/coredns-5d78c9869d-abcde"}]


def test_unnest_of_row_array_expands_fields(session):
    sql = (
        "SELECT m.member_name, m.removed_on FROM access_list_member_create"
        " CROSS JOIN UNNEST(members) AS m (joined_on, member_name, reason, removed_on)"
        " ORDER BY 1"
    )
    assert rows(session, sql) == [
        {"member_name": "bob@example.com", "removed_on": "0001-01-01T00:00:00Z"},
        {"member_name": "carol@example.com", "removed_on": None},
    ]


# -- the view table against the spec (an independent source for names, types and paths) ----------

VIEWS_MD = SPEC / "views.md"


def _split_top(spec: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in spec:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [*parts, cur.strip()]


def _spec_views() -> dict[str, tuple[str, list[tuple[str, str]]]]:
    text = VIEWS_MD.read_text(encoding="utf-8")
    out = {}
    for block in text.split("\n### ")[1:]:
        lines = [ln for ln in block.splitlines() if ln.strip()]
        event_type = re.search(r"event type `([^`]+)`", lines[1]).group(1)
        cols = lines[2].removesuffix(" (unmarked columns are varchar)")
        parsed = []
        for item in _split_top(cols):
            name, _, typ = item.partition(" ")
            parsed.append((name, typ or "varchar"))
        out[lines[0].strip()] = (event_type, parsed)
    return out


def _spec_paths() -> dict[str, tuple[str, ...]]:
    text = VIEWS_MD.read_text(encoding="utf-8")
    return {
        m.group(1): tuple(re.findall(r'\["([^"]+)"\]', m.group(2)))
        for m in re.finditer(r"^\| (\w+) \| (\$\S+) \|$", text, re.M)
    }


def test_widened_columns_are_bigint_and_were_integer_in_teleport():
    """Issue 17: real `session.command` events carry cgroup_id = 4294968064."""
    assert WIDENED
    for (view, column), (teleports, why) in WIDENED.items():
        assert VIEWS[view].column(column).type == "bigint"
        assert dict(_spec_views()[view][1])[column] == teleports == "integer" and why


def test_view_table_matches_spec():
    spec = _spec_views()
    assert sorted(spec) == sorted(VIEWS) and len(VIEWS) == 35
    paths = _spec_paths()
    for name, view in VIEWS.items():
        event_type, cols = spec[name]
        assert view.event_type == event_type
        teleports = [(c.name, WIDENED.get((name, c.name), (c.type,))[0]) for c in view.columns]
        assert teleports == cols, name
        for col in view.columns[2:]:
            assert col.path == paths.get(col.name, (col.name,)), f"{name}.{col.name}"


# -- integers real data overflows (issue 17, point 3) ------------------------------------------


@pytest.mark.parametrize("cache", [True, False], ids=["cache", "json"])
def test_a_real_cgroup_id_and_a_value_that_does_not_fit(tmp_path, cache):
    """4294968064 (a real `session.command` cgroup id) reads as itself; a value its column's
    type cannot hold fails the query naming the column, as Athena's cast fails it, from the
    JSON and from the cache alike, never a silent NULL. Queries not reading it still run."""
    base = {"event": "session.command", "time": "2024-03-20T10:00:00.000Z"}
    fits = build_store(tmp_path, [{**base, "uid": "a", "cgroup_id": 4294968064, "pid": 7}], "ok")
    session = session_for(fits, duckdb={"cache": cache})
    assert rows(session, "SELECT cgroup_id, pid FROM session_command") == [
        {"cgroup_id": 4294968064, "pid": 7}
    ]
    unfit = [
        {**base, "uid": "b", "cgroup_id": 99999999999999999999},  # beyond bigint
        {**base, "uid": "c", "pid": 4294968064},  # beyond integer
    ]
    session = session_for(build_store(tmp_path, unfit, "unfit"), duckdb={"cache": cache})
    for column, typ, value in [
        ("cgroup_id", "bigint", "99999999999999999999"),
        ("pid", "integer", "4294968064"),
    ]:
        with pytest.raises(
            AccessmonError, match=f"Cannot cast '{value}' to {typ} in view column {column}"
        ):
            rows(session, f"SELECT uid, {column} FROM session_command")
    assert len(rows(session, "SELECT uid, ppid FROM session_command")) == 2
