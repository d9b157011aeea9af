"""The view table rendered as SQL: literals, identifiers, DuckDB's json_transform shapes and the
view bodies for DuckDB (run here on a real in-memory DuckDB) and for Athena (Trino text)."""

from __future__ import annotations

import datetime as dt
import json
import re

import duckdb
import pytest
import sqlglot

from accessmon.sql.render import (
    INSTANT_PREFIX,
    UNFIT_PREFIX,
    duckdb_column,
    duckdb_empty_events,
    duckdb_json_type,
    duckdb_shape,
    duckdb_view,
    quote_ident,
    quote_literal,
    trino_column,
    trino_view,
)
from accessmon.sql.views import Column, all_views, get_view
from accessmon.window import Window

WINDOW = Window.between("2024-03-19", "2024-03-21")


def source(*events: tuple[str, str, dict]) -> str:
    """A relation shaped like the store (event_date, event_type, event_time, event_data)."""
    rows = [
        f"(DATE {quote_literal(day)}, {quote_literal(kind)}, "
        f"TIMESTAMPTZ {quote_literal(day + ' 10:00:00+00')}, {quote_literal(json.dumps(data))})"
        for day, kind, data in events
    ]
    return (
        f"(SELECT * FROM (VALUES {', '.join(rows)}) "
        "AS t(event_date, event_type, event_time, event_data))"
    )


def rows(sql: str) -> list[dict]:
    con = duckdb.connect()
    try:
        relation = con.sql(sql)
        return [dict(zip(relation.columns, r, strict=True)) for r in relation.fetchall()]
    finally:
        con.close()


# -- literals and identifiers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("abc", "'abc'"), ("O'Brien", "'O''Brien'"), ("", "''"), ("''", "''''''"), (7, "'7'")],
)
def test_quote_literal(value, expected):
    assert quote_literal(value) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("user", '"user"'), ('a"b', '"a""b"'), ("addr.local", '"addr.local"')],
)
def test_quote_ident(name, expected):
    assert quote_ident(name) == expected


def test_quoted_values_survive_a_round_trip_through_duckdb():
    value, name = 'it\'s a "test"; --', 'we"ird'
    assert rows(f"SELECT {quote_literal(value)} AS {quote_ident(name)}") == [{name: value}]


# -- json_transform shapes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typ", "expected"),
    [
        ("varchar", "VARCHAR"),
        ("integer", "INTEGER"),
        ("bigint", "BIGINT"),
        ("double", "DOUBLE"),
        ("boolean", "BOOLEAN"),
        ("array(varchar)", ["VARCHAR"]),
        (
            "array(row(cluster varchar, kind varchar, name varchar, sub_resource varchar))",
            [
                {
                    "cluster": "VARCHAR",
                    "kind": "VARCHAR",
                    "name": "VARCHAR",
                    "sub_resource": "VARCHAR",
                }
            ],
        ),
        (
            "array(row(name varchar, rows bigint, error varchar))",
            [{"name": "VARCHAR", "rows": "BIGINT", "error": "VARCHAR"}],
        ),
    ],
)
def test_duckdb_json_type(typ, expected):
    assert duckdb_json_type(typ) == expected


def test_every_json_column_of_the_view_table_has_a_duckdb_type():
    for view in all_views().values():
        for col in view.columns:
            if col.path is not None:
                duckdb_json_type(col.type)  # raises for a type the renderer does not know


@pytest.mark.parametrize("typ", ["date", "timestamp", "map(varchar, varchar)", "array(integer)"])
def test_an_unknown_type_is_an_error_not_a_guess(typ):
    with pytest.raises(ValueError, match=re.escape(f"no DuckDB rendering for type {typ}")):
        duckdb_json_type(typ)


def test_duckdb_shape_nests_as_the_json_paths_say():
    columns = [
        Column("event_date", "date", None),
        Column("user", "varchar", ("user",)),
        Column("identity_user", "varchar", ("identity", "user")),
        Column("identity_roles", "array(varchar)", ("identity", "roles")),
        Column("ei", "integer", ("ei",)),
    ]
    assert duckdb_shape(columns) == {
        "user": "VARCHAR",
        "identity": {"user": "VARCHAR", "roles": ["VARCHAR"]},
        "ei": "VARCHAR",  # its text, read by Trino's rules (12.5 is 13, "12.5" fails)
    }
    assert duckdb_shape(columns, checked=False)["ei"] == "INTEGER"  # DuckDB's own rules


def test_each_column_parses_only_its_own_field():
    col = get_view("cert_create").column("identity_user")
    sql = duckdb_column(col)
    assert sql == (
        'json_transform(event_data, \'{"identity":{"user":"VARCHAR"}}\')'
        "['identity']['user'] AS \"identity_user\""
    )
    assert duckdb_column(col, "j") == "j['identity']['user'] AS \"identity_user\""
    assert duckdb_column(Column("event_date", "date", None)) == "event_date"
    assert duckdb_column(Column("event_time", "timestamp", None)) == (
        "CAST(event_time AS TIMESTAMP) AS event_time"
    )


# -- DuckDB view bodies, run ---------------------------------------------------------------------------


EXEC = {"event": "exec", "user": "alice", "ei": 3, "addr.local": "10.0.0.1:22", "command": "id"}


def test_the_duckdb_view_reads_its_event_type_within_the_window_only():
    events = source(
        ("2024-03-20", "exec", EXEC),
        ("2024-03-20", "session.start", {"user": "bob"}),
        ("2024-03-18", "exec", {**EXEC, "user": "before"}),
        ("2024-03-22", "exec", {**EXEC, "user": "after"}),
    )
    sql = duckdb_view(get_view("exec"), events, WINDOW)
    assert "event_type = 'exec'" in sql
    assert "event_date BETWEEN DATE '2024-03-19' AND DATE '2024-03-21'" in sql
    (row,) = rows(f"SELECT user, ei, addr_local, command, login, event_date FROM ({sql})")
    assert row == {
        "user": "alice",
        "ei": 3,
        "addr_local": "10.0.0.1:22",
        "command": "id",
        "login": None,  # absent from the event: NULL, as on Athena
        "event_date": dt.date(2024, 3, 20),
    }


def test_the_duckdb_view_has_every_column_in_teleports_order():
    view = get_view("session_start")
    sql = duckdb_view(view, source(("2024-03-20", "session.start", {"user": "u"})), WINDOW)
    con = duckdb.connect()
    try:
        columns = con.sql(sql).columns
    finally:
        con.close()
    assert columns[: len(view.columns)] == list(view.column_names)
    assert columns[len(view.columns) :] == []  # session_start has no expiry to keep parsed


def test_views_with_expiries_get_empty_instant_columns_unless_parsed_once():
    view = get_view("lock_created")
    assert view.instant_columns == ("expires", "time")
    event = {"user": "a", "expires": "2024-03-21T00:00:00Z", "time": "2024-03-20T10:00:00.5Z"}
    events = source(("2024-03-20", "lock.created", event))
    (lazy,) = rows(duckdb_view(view, events, WINDOW))
    assert lazy[INSTANT_PREFIX + "expires"] is None and lazy["expires"] == event["expires"]
    (once,) = rows(duckdb_view(view, events, WINDOW, parse_once=True))
    assert once[INSTANT_PREFIX + "expires"] == dt.datetime(2024, 3, 21)
    assert once[INSTANT_PREFIX + "time"] == dt.datetime(2024, 3, 20, 10, 0, 0, 500000)
    hidden = (INSTANT_PREFIX, UNFIT_PREFIX)  # the cache's own columns
    assert {k: v for k, v in once.items() if not k.startswith(hidden)} == {
        k: v for k, v in lazy.items() if not k.startswith(hidden)
    }


def test_a_view_over_no_files_has_the_columns_and_no_rows():
    view = get_view("exec")
    sql = duckdb_view(view, duckdb_empty_events(), WINDOW)
    con = duckdb.connect()
    try:
        relation = con.sql(sql)
        assert relation.columns == list(view.column_names)
        assert relation.fetchall() == []
    finally:
        con.close()


def test_quotes_in_an_event_never_leave_their_literal():
    events = source(("2024-03-20", "exec", {**EXEC, "command": "echo '); DROP TABLE x; --"}))
    (row,) = rows(f"SELECT command FROM ({duckdb_view(get_view('exec'), events, WINDOW)})")
    assert row == {"command": "echo '); DROP TABLE x; --"}


# -- Athena / Trino view bodies -----------------------------------------------------------------------


def test_trino_column_casts_the_json_path_like_teleport():
    view = get_view("cert_create")
    assert trino_column(view.column("identity_roles")) == (
        'CAST(json_extract(event_data, \'$["identity"]["roles"]\') AS array(varchar)) '
        'AS "identity_roles"'
    )
    assert trino_column(view.column("event_date")) == "event_date"


def test_the_trino_view_prunes_partitions_with_the_windows_dates():
    view = get_view("exec")
    sql = trino_view(view, '"audit_db"."events"', Window.between("2024-03-01", "2024-03-07"))
    assert sql.startswith("SELECT event_date, event_time, CAST(json_extract(")
    assert sql.endswith(
        ' FROM "audit_db"."events" WHERE event_type = \'exec\''
        " AND event_date BETWEEN DATE '2024-03-01' AND DATE '2024-03-07'"
    )
    (tree,) = sqlglot.parse(sql, read="trino")
    assert [s.alias_or_name for s in tree.selects] == list(view.column_names)


def test_a_days_window_renders_the_same_dates_as_the_range_it_covers():
    days = Window.last_days(3, today=dt.date(2024, 3, 21))
    view = get_view("auth")
    assert trino_view(view, "t", days) == trino_view(view, "t", WINDOW)
    assert duckdb_view(view, "s", days) == duckdb_view(view, "s", WINDOW)
