"""`event_data`, every view's hidden column: named, it reads the whole event; `*` leaves it out."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from accessmon.config import load_config
from accessmon.errors import QueryError
from accessmon.session import Session
from accessmon.sql.validate import check_query
from accessmon.sql.views import get_view
from accessmon.storage import cache
from accessmon.window import Window
from tests.conftest import build_store, run

WINDOW = Window.between(dt.date(2024, 3, 19), dt.date(2024, 3, 20))
CERT = {
    "event": "cert.create",
    "code": "TC000I",
    "uid": "c-1",
    "time": "2024-03-20T12:00:00.000Z",
    "cert_type": "user",
    "identity": {
        "user": "alice",
        "roles": ["access"],
        "traits": {"logins": ["root", "ubuntu"], "team": ["sre"]},
    },
}
START = {
    "event": "session.start",
    "code": "T2000I",
    "uid": "s-1",
    "time": "2024-03-19T10:00:00.000Z",
    "user": "alice",
    "login": "root",
    "sid": "sid-1",
    "addr.remote": "203.0.113.7:5000",
}
EXEC = {**START, "event": "exec", "code": "T3002I", "uid": "x-1", "command": "id"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("raw"), [CERT, START, EXEC])


def _session(store, use_cache: bool = False) -> Session:
    flags = {
        "store": store,
        "audit_log": store.parent / "audit.jsonl",
        "duckdb": {"cache": use_cache},
    }
    return Session(load_config(flags=flags, environ={}, start=store.parent))


def _names(sql: str) -> list[str]:
    """The output columns of the checked query's top SELECT, as the engines will see them."""
    return [e.alias_or_name for e in check_query(sql).tree.selects]


def test_star_keeps_teleports_columns_and_a_named_event_data_comes_once():
    start = list(get_view("session_start").column_names)
    assert not check_query("SELECT * FROM session_start").raw
    assert _names("SELECT *, event_data FROM session_start") == [*start, "event_data"]
    assert _names("SELECT * FROM session_start WHERE event_data LIKE '%x%'") == start


def test_stars_over_joins_unnest_and_ctes_are_spelled_out_per_view():
    sql = "SELECT s.*, e.event_data FROM session_start s JOIN exec e ON s.sid = e.sid"
    assert _names(sql) == [*get_view("session_start").column_names, "event_data"]
    unnest = check_query(
        "SELECT * FROM windows_desktop_session_end d CROSS JOIN UNNEST(d.participants) AS t(p) "
        "WHERE event_data IS NOT NULL"
    ).tree.sql("trino")
    assert unnest.startswith('SELECT "d"."event_date"') and ", t.* FROM" in unnest
    inner = check_query("WITH x AS (SELECT *, event_data FROM user_login) SELECT * FROM x")
    assert inner.tree.sql("trino").endswith("event_data FROM user_login) SELECT * FROM x")


def test_a_lambda_parameter_named_event_data_is_not_the_column():
    sql = "SELECT any_match(identity_roles, event_data -> event_data = 'x') FROM cert_create"
    assert not check_query(sql).raw
    assert check_query("SELECT any_match(identity_roles, r -> r = event_data) FROM cert_create").raw


def test_a_misspelt_event_data_is_refused_with_the_column_to_use():
    with pytest.raises(QueryError, match=r"unknown column evnt_data\b.*did you mean event_data"):
        check_query("SELECT evnt_data FROM exec")


@pytest.mark.parametrize("use_cache", [False, True], ids=["json", "cache"])
def test_event_data_is_the_stored_event_and_reaches_free_form_traits(store, use_cache):
    if use_cache:
        cache.build(store)
    session = _session(store, use_cache)
    traits = session.query(
        "SELECT json_extract_scalar(event_data, '$.identity.traits.team[0]') AS team, "
        "CAST(json_extract(event_data, '$.identity.traits.logins') AS array(varchar)) AS logins "
        "FROM cert_create",
        WINDOW,
    )
    assert traits["team"].tolist() == ["sre"]
    assert list(traits["logins"].iloc[0]) == ["root", "ubuntu"]
    joined = session.query(
        "SELECT s.*, e.event_data FROM session_start s JOIN exec e ON s.sid = e.sid", WINDOW
    )
    assert list(joined.columns) == [*get_view("session_start").column_names, "event_data"]
    assert json.loads(joined["event_data"].iloc[0]) == EXEC
    plain = session.query("SELECT * FROM session_start", WINDOW)
    assert "event_data" not in plain.columns


def test_a_cached_store_reads_event_data_from_its_files_and_the_rest_from_the_cache(store):
    cache.build(store)
    session = _session(store, True)
    assert "json_transform" not in session.prepare("SELECT login FROM session_start", WINDOW)[2]
    assert "event_data" in session.prepare("SELECT event_data FROM session_start", WINDOW)[2]


def test_the_cli_prints_event_data_and_schema_names_the_hidden_column(store, tmp_path):
    window = ["--from", "2024-03-19", "--to", "2024-03-20"]
    sql = "SELECT uid, event_data FROM exec"
    out = run(["--store", str(store), "query", "exec", *window, sql], tmp_path)
    assert out.returncode == 0, out.stderr
    header, row = (line["data"] for line in json.loads(out.stdout))
    assert header == ["uid", "event_data"] and json.loads(row[1]) == EXEC
    shown = run(["--store", str(store), "schema", "exec"], tmp_path)
    assert re.search(r"^  event_data +varchar +\(hidden: ", shown.stdout, re.M), shown.stdout
    doc = json.loads(
        run(["--store", str(store), "schema", "exec", "--format", "json"], tmp_path).stdout
    )
    assert [c["name"] for c in doc["hidden_columns"]] == ["event_data"]
    assert "event_data" not in [c["name"] for c in doc["columns"]]


@pytest.mark.parametrize(
    ("sql", "names"),
    [
        ("SELECT login, count(*), max(event_time) FROM session_start GROUP BY login",
         ["login", "_col1", "_col2"]),
        ("SELECT count(*) FROM exec UNION ALL SELECT count(*) FROM session_start", ["_col0"]),
        ("SELECT s.login, upper(s.user) AS u, length(s.login) FROM session_start s",
         ["login", "u", "_col2"]),
    ],
)  # fmt: skip
def test_unnamed_columns_are_named_by_position_as_trino_names_them(store, sql, names):
    """tests/trino/test_queries.py checks the same names on a real Trino."""
    assert list(_session(store).query(sql, WINDOW).columns) == names


def test_an_unnamed_column_after_a_star_counts_the_views_columns(store):
    width = len(get_view("session_start").columns)
    frame = _session(store).query("SELECT *, length(login) FROM session_start", WINDOW)
    assert list(frame.columns)[-1] == f"_col{width}"
