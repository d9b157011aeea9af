"""Smoke differential test: a few views' `SELECT *` on accessmon's DuckDB engine and, as the
SQL accessmon renders for Athena, on a real Trino over the same files (issue 17)."""

from __future__ import annotations

import datetime as dt

import pytest

from accessmon.sql.views import all_views
from accessmon.window import Window
from tests.trino import server
from tests.trino.compare import keyed
from tests.trino.conftest import END

WINDOW = Window.between(END - dt.timedelta(days=4), END)
#: Plain columns, arrays, arrays of rows, nested JSON paths, dotted keys, integers, booleans.
VIEWS = [
    "session_start",
    "cert_create",
    "db_session_start",
    "kube_request",
    "access_request_create",
    "instance_join",
]


def test_trino_has_teleports_table_and_the_views(trino_query):
    _, rows = trino_query(f"DESCRIBE {server.TABLE}")
    described = [(r[0], r[1], r[2]) for r in rows]
    assert described == [(n, t, "") for n, t in server.COLUMNS] + [
        ("event_date", "date", "partition key")
    ]
    _, views = trino_query(
        f"SELECT table_name FROM information_schema.views WHERE table_schema = '{server.DATABASE}'"
    )
    assert {v[0] for v in views} == set(all_views())


@pytest.mark.parametrize("view", VIEWS)
def test_select_star_is_the_same_on_duckdb_and_on_trino(
    view, duckdb_session, athena_session, trino_query
):
    sql = f"SELECT * FROM {view}"
    local = duckdb_session.run(sql, WINDOW)
    _, _, athena_sql = athena_session.prepare(sql, WINDOW)
    columns, rows = trino_query(athena_sql)

    assert columns == local.columns
    expected = keyed(columns, [tuple(r.values()) for r in local.table.to_pylist()])
    got = keyed(columns, rows)
    assert len(got) == len(expected) > 0
    for mine, theirs in zip(expected, got, strict=True):
        diff = {c: (a, b) for c, a, b in zip(columns, mine, theirs, strict=True) if a != b}
        assert not diff, f"{view}: DuckDB vs Trino differ in {diff}"
