"""JSON text, decimals, element_at(a, 0) and max_by in a window on the local engine, as a real
Trino 476 answers (issue 17). Trino's answers here were read from Trino itself; the corpus
cases (tests/trino/corpus_*.py) check them against a running Trino in `make test-trino`."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import subprocess
import sys

import pytest

from accessmon.errors import AccessmonError, QueryError
from accessmon.sql.trino_json import canonical, varchar
from accessmon.ui.frames import grid_frame, text_rows
from accessmon.window import Window
from tests.conftest import build_store, session_for

DAY = dt.date(2024, 3, 20)
WINDOW = Window.between(DAY, DAY)
EVENTS = [
    {"event": "session.start", "code": "T2000I", "time": "2024-03-20T10:00:00.000Z",
     "uid": "s1", "user": "alice", "login": "root", "ei": 0},
    {"event": "session.start", "code": "T2000I", "time": "2024-03-20T10:01:00.000Z",
     "uid": "s2", "user": "alice", "ei": 3},
]  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("json-numbers"), EVENTS)


@pytest.fixture(scope="module")
def session(store):
    return session_for(store)


def one(session, sql: str) -> list:
    return list(session.run(sql, WINDOW).table.to_pylist()[0].values())


# -- JSON ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sort", "trino"),
    [
        ('{"b":1, "a":2}', True, '{"a":2,"b":1}'),
        ('{"b":{"y":1,"x":[{"d":1,"c":2}]},"a":null}', True,
         '{"a":null,"b":{"x":[{"c":2,"d":1}],"y":1}}'),
        ('{"b":{"y":1,"x":2}}', False, '{"b":{"y":1,"x":2}}'),
        ('{"a":1,"b":2,"a":3}', True, '{"a":3,"b":2}'),
        ('{"a":1,"a":2}', False, '{"a":1,"a":2}'),
        # Java orders keys by UTF-16 units: a surrogate pair before U+FFFF
        ('{"\\ud83d\\ude00":1,"\\uffff":2,"B":3,"a":4,"":5}', True,
         '{"":5,"B":3,"a":4,"\\uD83D\\uDE00":1,"\uffff":2}'),
        ('["\\u00e9\\u001f\\u007f\\t\\n/<>&\\"\\\\"]', True, '["é\\u001F\x7f\\t\\n/<>&\\"\\\\"]'),
        ("[1e10, 1.0E-5, 0.1, 1e21, 123456789012.5, -0.0, -0, 1E2, 0.001, 1.50]", True,
         "[1.0E10,1.0E-5,0.1,1.0E21,1.234567890125E11,-0.0,0,100.0,0.001,1.5]"),
        ("[12345678901234567890123, 1.0E400]", True, '[12345678901234567890123,"Infinity"]'),
    ],
)  # fmt: skip
def test_json_is_written_as_trino_writes_it(text, sort, trino):
    assert canonical(text, sort) == trino


@pytest.mark.parametrize(
    ("text", "trino"),
    [('"x"', "x"), ("1.50", "1.5E0"), ("150", "150"), ("1e300", "1.0E300"), ("0.001", "1.0E-3"),
     ("true", "true"), ("null", None)],
)  # fmt: skip
def test_a_json_scalar_cast_to_varchar_is_trinos_text(text, trino):
    assert varchar(text) == trino


def test_json_objects_print_with_sorted_keys_in_every_result(session):
    sql = (
        """SELECT json_parse('{"b":1,"a":2}') AS p, json_extract('{"o":{"b":1, "a":2}}', '$.o') """
        """AS e, json_extract(json_parse('{"o":{"b":1, "a":2}}'), '$.o') AS pe, """
        """json_format(json_parse('{"b":[{"d":1,"c":2}]}')) AS f"""
    )
    result = session.run(sql, WINDOW)
    trino = ['{"a":2,"b":1}', '{"b":1,"a":2}', '{"a":2,"b":1}', '{"b":[{"c":2,"d":1}]}']
    assert list(text_rows(result.table)) == [trino]  # the CLI's JSON, CSV and table
    grid = grid_frame(result.table.to_pandas())  # the editor's grid
    assert list(grid.iloc[0]) == trino


def test_the_cli_prints_json_and_decimals_as_trino(store, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSMON_")}
    sql = """SELECT json_parse('{"b":1,"a":2}') AS j, 7.0 / 2 AS d, 0.0000001 AS small"""
    for fmt, expected in (
        ("json", [{"data": ["j", "d", "small"]}, {"data": ['{"a":2,"b":1}', "3.5", "0.0000001"]}]),
        ("csv", 'j,d,small\n"{""a"":2,""b"":1}",3.5,0.0000001\n'),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "accessmon", "query", "exec", "--store", str(store),
             "--from", DAY.isoformat(), "--to", DAY.isoformat(), "--format", fmt, sql],
            cwd=tmp_path, env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout) if fmt == "json" else out.stdout.replace("\r\n", "\n")
        assert got == expected


def test_a_json_object_or_array_cast_to_varchar_fails_as_on_trino(session):
    with pytest.raises(AccessmonError, match=r"""Cannot cast '\{"a":2,"b":1\}' to varchar"""):
        session.run("""SELECT CAST(json_parse('{"b":1,"a":2}') AS varchar)""", WINDOW)
    with pytest.raises(AccessmonError, match=r"Cannot cast '\[1\]' to varchar"):
        session.run("""SELECT CAST(json_extract('{"n":[1]}', '$.n') AS varchar)""", WINDOW)
    assert one(session, """SELECT CAST(json_extract('{"n":1.50}', '$.n') AS varchar)""") == [
        "1.5E0"
    ]


# -- element_at, max_by -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT element_at(ARRAY[1, 2], 0)",
        "SELECT element_at(ARRAY['a'], ei - ei) FROM session_start",  # a computed 0
    ],
)
def test_element_at_zero_fails_as_on_trino(session, sql):
    with pytest.raises(AccessmonError, match="SQL array indices start at 1"):
        session.run(sql, WINDOW)


def test_element_at_zero_of_no_array_or_of_a_map_answers(session):
    sql = (
        "SELECT element_at(CAST(NULL AS array(integer)), 0), element_at(ARRAY[1, 2], -5), "
        "element_at(MAP(ARRAY[0], ARRAY['z']), 0)"
    )
    assert one(session, sql) == [None, None, "z"]


def test_max_by_in_a_window_keeps_a_null_x_as_trino(session):
    sql = (
        "SELECT x, max_by(x, y) OVER (), min_by(x, y) OVER (), max_by(x, y, 2) OVER () "
        "FROM (VALUES (NULL, 3), (1, 2), (5, 1), (7, NULL)) AS t(x, y) ORDER BY x NULLS FIRST"
    )
    rows = [list(r.values()) for r in session.run(sql, WINDOW).table.to_pylist()]
    assert rows == [[x, None, 5, [None, 1]] for x in (None, 1, 5, 7)]


# -- decimals -------------------------------------------------------------------------------------


def test_decimal_arithmetic_prints_as_trino(session):
    sql = (
        "SELECT 7.0 / 2, 7.0 / 3, -7.0 / 2, 1.10 / 3.333, 1.10 * 3, CAST(1.5 AS decimal(10, 2)), "
        "round(7.0 / 3, 2), round(2.35, 1), truncate(1.55, 1), CAST(1.5 AS decimal), "
        "CAST(1.005e0 AS decimal(10, 2)), 0.0000001"
    )
    result = session.run(sql, WINDOW)
    trino = ["3.5", "2.3", "-3.5", "0.330", "3.30", "1.50", "2.3", "2.40", "1.50", "2", "1.01",
             "0.0000001"]  # fmt: skip
    assert list(text_rows(result.table)) == [trino]
    types = [str(t) for t in result.table.schema.types]
    assert types[:3] == ["decimal128(2, 1)"] * 3 and types[6] == "decimal128(3, 1)"


def test_decimal_avg_is_trinos_exact_mean(session):
    values = one(session, "SELECT avg(ei * 1.5), avg(1.5) FROM session_start WHERE false")
    assert values == [None, None]
    (mean,) = one(session, "SELECT avg(ei * 1.5) FROM session_start")  # (0 + 4.5) / 2
    assert mean == decimal.Decimal("2.3")  # 2.25 rounded half up at scale 1


def test_decimal_division_by_zero_fails(session):
    with pytest.raises(AccessmonError, match=r"[Dd]ivision by zero"):
        session.run("SELECT 7.0 / (ei - ei) FROM session_start", WINDOW)


REFUSALS = {
    "SELECT uid,\n  avg(ei * 1.5) OVER (PARTITION BY user) FROM session_start": (
        "avg of a decimal in a window is not available on the local engine (line 2, column 3); "
        "use avg(CAST(x AS double)) OVER (...), or --engine athena"
    ),
    "SELECT CAST(avg(ei) AS varchar) FROM session_start": (
        "cast of a double to varchar is not available on the local engine (Trino writes "
        "2.5E0); select the double itself, which prints as on Trino, or --engine athena"
    ),
    "SELECT array_sort(ARRAY[1, 2], (a, b) -> 0)": (
        "array_sort with a comparator is not available on the local engine (line 1, column 8); "
        "use array_sort(x) or reverse(array_sort(x)), or --engine athena"
    ),
}


@pytest.mark.parametrize("sql", list(REFUSALS))
def test_refusals_name_the_use_its_place_and_the_alternative(session, sql):
    with pytest.raises(QueryError, match="is not available") as refused:
        session.run(sql, WINDOW)
    assert str(refused.value) == REFUSALS[sql]
