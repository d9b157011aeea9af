"""Every view, `SELECT *`, on accessmon's DuckDB engine and, as the SQL accessmon renders for
Athena, on a real Trino over the same files: the demo store plus two events per view built
from the view table (`shapes.py`), so every view has rows and every column a value (issue 17).

And the integers real data overflows (issue 17, point 3): `cgroup_id = 4294968064` reads as
itself on both engines, and a value beyond the column's type fails the query on both, where
DuckDB used to give a silent NULL."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from accessmon.config import load_config
from accessmon.errors import AccessmonError
from accessmon.session import Session
from accessmon.sql.render import quote_literal, trino_column
from accessmon.sql.views import WIDENED, all_views, get_view
from accessmon.storage.ingest import ingest
from accessmon.window import Window
from tests.conftest import write_jsonl
from tests.trino.conftest import END
from tests.trino.differential import assert_same_answer, run_both
from tests.trino.shapes import (
    CGROUP_ID,
    FAILS,
    REFUSED_LOCALLY,
    WRONG_TYPED,
    WRONG_TYPED_COLUMNS,
)

WINDOW = Window.between(END - dt.timedelta(days=4), END)


@pytest.mark.parametrize("view", list(all_views()))
def test_every_view_is_the_same_on_duckdb_and_on_trino(
    view, duckdb_session, athena_session, trino_query
):
    sessions = (duckdb_session, athena_session, trino_query)
    rows = assert_same_answer(f"SELECT * FROM {view}", WINDOW, *sessions)
    assert rows >= 2  # at least the two events built from the view table

    # the event with every column filled reads every column, on both engines
    columns, mine, theirs = run_both(
        f"SELECT * FROM {view} WHERE uid = '{view}-full'", WINDOW, *sessions
    )
    assert len(mine) == len(theirs) == 1
    empty = [c for c, v in zip(columns, mine[0], strict=True) if v is None]
    # label maps and trait maps: Teleport's views read `["key"]`, filled here on purpose
    assert empty == [], f"{view}: no value in {empty}"


def test_a_real_cgroup_id_reads_as_itself_on_both(duckdb_session, athena_session, trino_query):
    sql = "SELECT uid, cgroup_id FROM session_command WHERE cgroup_id > 2147483647"
    _, mine, theirs = run_both(sql, WINDOW, duckdb_session, athena_session, trino_query)
    assert mine == theirs == [("session_command-full", CGROUP_ID)]
    assert ("session_command", "cgroup_id") in WIDENED


#: (view, column, JSON value): values the column's type cannot hold.
UNFIT = [
    ("session_command", "cgroup_id", "99999999999999999999"),  # beyond bigint
    ("session_command", "pid", "4294968064"),  # beyond integer
    ("kube_request", "response_code", '"OK"'),  # not a number
]


@pytest.mark.parametrize(("view", "column", "value"), UNFIT)
def test_a_value_the_type_cannot_hold_fails_on_both(
    view, column, value, trino_query, tmp_path, cache
):
    col = get_view(view).column(column)
    event = json.loads(f'{{"{column}": {value}}}')
    # Trino: the view's own column expression, as rendered for Athena, over that event
    sql = f"SELECT {trino_column(col)} FROM (VALUES {quote_literal(json.dumps(event))}) AS t(event_data)"
    with pytest.raises(Exception, match=r"(?i)cannot cast|out of range"):
        trino_query(sql)
    # DuckDB: an error naming the column, from the JSON and from the cache alike
    ingest([write_jsonl(tmp_path / "e.jsonl", [{
        **event, "event": get_view(view).event_type, "time": "2024-03-20T10:00:00.000Z",
        "uid": "unfit"}])], tmp_path / "store")  # fmt: skip
    flags = {"store": tmp_path / "store", "audit_log": tmp_path / "audit.jsonl",
             "duckdb": {"cache": cache}}  # fmt: skip
    session = Session(load_config(flags=flags, environ={}))
    window = Window.between("2024-03-20", "2024-03-20")
    with pytest.raises(
        AccessmonError, match=f"Cannot cast '.*' to {col.type} in view column {column}"
    ):
        session.run(f"SELECT uid, {column} FROM {view}", window)
    # a query that does not read the column runs, as on Trino, which prunes the cast
    assert session.run(f"SELECT uid FROM {view}", window).table.num_rows == 1


@pytest.fixture(params=[True, False], ids=["cache", "json"])
def cache(request) -> bool:
    return request.param


#: The hidden `event_data` column (sql.raw_event): named, it is the stored event on both
#: engines; `*` leaves it out on both, joins and JSON functions over it included.
RAW = [
    "SELECT uid, event_data FROM session_start",
    "SELECT *, event_data FROM exec",
    "SELECT s.*, e.event_data FROM session_start s JOIN session_start e ON s.uid = e.uid",
    "SELECT uid, json_extract_scalar(event_data, '$.identity.user') AS u FROM cert_create",
    "SELECT count(*) AS n FROM user_login WHERE event_data LIKE '%\"success\":true%'",
]


@pytest.mark.parametrize("sql", RAW)
def test_the_hidden_event_data_is_the_same_on_duckdb_and_on_trino(
    sql, duckdb_session, athena_session, trino_query
):
    sessions = (duckdb_session, athena_session, trino_query)
    assert assert_same_answer(sql, WINDOW, *sessions) >= 1
    columns, _, _ = run_both(sql, WINDOW, *sessions)
    assert columns.count("event_data") == (0 if "count(*)" in sql or "json_" in sql else 1)


# -- numbers and booleans of another JSON type (issue 17, point 3) ------------------------------


def _trinos_answer(trino_query, col, value: str):
    """Trino's value of the view's own column expression (as rendered for Athena) over an
    event holding `value`, or FAILS where Trino's cast fails the query."""
    event = _event_text(col, value)
    sql = f"SELECT {trino_column(col)} FROM (VALUES {quote_literal(event)}) AS t(event_data)"
    try:
        _, rows = trino_query(sql)
    except Exception as e:
        assert re.search(r"INVALID_CAST_ARGUMENT|(?i:cannot cast)", str(e)), e
        return FAILS
    return rows[0][0]


def _event_text(col, value: str) -> str:
    """An event with `value` (raw JSON text: 1e400 as written) at the column's path."""
    doc: dict = {"event": "x"}
    node = doc
    for key in (col.path or ())[:-1]:
        node = node.setdefault(key, {})
    node[(col.path or ("",))[-1]] = "@VALUE@"
    return json.dumps(doc).replace('"@VALUE@"', value)


@pytest.mark.parametrize(("view", "column"), WRONG_TYPED_COLUMNS)
def test_numbers_and_booleans_of_another_json_type_as_trino_reads_them(
    view, column, trino_query, tmp_path
):
    """Trino's cast from JSON: 12.5 as integer 13, "12.5" fails; "t", 1, 2.5 as boolean true,
    "yes" fails; "1.5d", " 2e3 ", "NaN" as double, "inf" fails. The real Trino gives each answer of WRONG_TYPED (the table
    tests/storage/test_cache.py holds the local engine to), and accessmon's DuckDB engine
    gives the same, from the JSON and from the cache, or fails naming the column; the one
    value it refuses where Trino answers (hexadecimal float text) is REFUSED_LOCALLY."""
    col = get_view(view).column(column)
    values = WRONG_TYPED[col.type]
    events = [json.loads(_event_text(col, '"@"')) | {"event": get_view(view).event_type,
              "time": "2024-03-20T10:00:00.000Z", "uid": f"v{i}"} for i in range(len(values))]  # fmt: skip
    lines = [json.dumps(e).replace('"@"', v) for e, (v, _) in zip(events, values, strict=True)]
    (tmp_path / "e.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest([tmp_path / "e.jsonl"], tmp_path / "store")
    window = Window.between("2024-03-20", "2024-03-20")
    sessions = {
        mode: Session(load_config(flags={"store": tmp_path / "store", "duckdb": {"cache": mode},
                                         "audit_log": tmp_path / "audit.jsonl"}, environ={}))
        for mode in (True, False)
    }  # fmt: skip
    for i, (value, expected) in enumerate(values):
        theirs = _trinos_answer(trino_query, col, value)
        assert repr(theirs) == repr(expected), f"Trino reads {value} as {col.type} {theirs!r}"
        for mode, session in sessions.items():
            sql = f"SELECT {column} AS v FROM {view} WHERE uid = 'v{i}'"
            if theirs == FAILS or (col.type, value) in REFUSED_LOCALLY:
                with pytest.raises(AccessmonError, match=f"to {col.type} in view column {column}"):
                    session.run(sql, window)
            else:
                mine = session.run(sql, window).table.column("v").to_pylist()
                assert repr(mine) == repr([theirs]), f"{value} (cache: {mode})"
