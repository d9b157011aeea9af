"""Attacks on the SQL sandbox and on the engine's resources (issue 14, points 11 and 12).

Each reproduction runs through the real path: `Session.run` over a real store, and the
console script for the two sandbox bypasses. A refusal must be a QueryError naming what
was wrong; a query that runs out of time or memory must stop with an EngineError naming
the setting. No test measures time: the timeouts are small so the tests end quickly.
"""

from __future__ import annotations

import dataclasses
import re

import duckdb
import pytest

from accessmon.errors import EngineError, QueryError
from accessmon.sql import validate
from accessmon.sql.validate import REFUSED_FUNCTIONS, check_query, refused_reason
from accessmon.window import Window

from ..conftest import build_store, run, session_for

START, END = "2024-03-19", "2024-03-21"
WINDOW = ["--from", START, "--to", END]
SPAN = Window.between(START, END)

EVENTS = [
    {
        "event": "exec",
        "code": "T3002I",
        "uid": f"e-{i}",
        "time": f"2024-03-20T10:0{i}:00.000Z",
        "user": "alice",
        "login": "root",
        "command": "id",
    }
    for i in range(3)
]

PLAN_LEAK = (
    "SELECT json_serialize_plan('select current_setting(''temp_directory'')', optimize := true)"
    " AS x"
)
KELVIN = 'WITH "duc\u212adb_databases" AS (SELECT 1 AS a) SELECT * FROM duckdb_databases'


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("sandbox"), EVENTS)


@pytest.fixture
def session(store):
    with session_for(store, duckdb={"timeout_seconds": 2, "memory_limit": "256MB"}) as s:
        yield s


def refusal(session, sql: str) -> str:
    with pytest.raises(QueryError) as info:
        session.run(sql, SPAN)
    return str(info.value)


# -- 11: functions that take SQL text, settings, files or the catalog -----------------------


def test_json_serialize_plan_cannot_read_a_setting(session):
    message = refusal(session, PLAN_LEAK)
    assert "json_serialize_plan() is not allowed" in message
    assert "accessmon-duckdb-" not in message  # the spill folder (temp_directory)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT json_serialize_sql('SELECT current_setting(''memory_limit'')') AS x",
        "SELECT json_deserialize_sql(json_serialize_sql('SELECT 1')) AS x",
        "SELECT json_execute_serialized_sql(json_serialize_sql('SELECT 1')) AS x",
        "SELECT json_serialize_plan('SELECT 1') AS x",
        "SELECT \"JSON_SERIALIZE_PLAN\"('SELECT 1') AS x",
        "SELECT json_serialize_pl\u0251n('SELECT 1') AS x",  # a look-alike is no function at all
        "SELECT \"json_serialize_\uff50lan\"('SELECT 1') AS x",  # FULLWIDTH p: NFKC makes it p
        'SELECT "duc\u212adb_settings"() AS x',  # KELVIN SIGN
        "SELECT session_user() AS x",
        "SELECT user() AS x",
        "SELECT platform() AS x",
        "SELECT user_agent() AS x",
        "SELECT database_size() AS x",
        "SELECT nextval('s') AS x",
        "SELECT setseed(0.5) AS x",
        "SELECT get_block_size('memory') AS x",
        "SELECT write_log('x') AS x",
        "SELECT in_search_path('memory', 'main') AS x",
    ],
)
def test_sql_text_settings_and_catalog_functions_are_refused(session, sql):
    message = refusal(session, sql)
    assert re.search(r"is not allowed|unknown|syntax error|type error", message), message


def test_a_quoted_function_name_is_checked_like_a_bare_one(session):
    """`"current_setting"(...)` parses to a name sqlglot keeps as an identifier."""
    message = refusal(session, "SELECT \"current_setting\"('temp_directory') AS x")
    assert "current_setting() is not allowed" in message
    assert "accessmon-duckdb-" not in message


def test_every_refused_duckdb_function_is_refused_by_name():
    """The live DuckDB function list, checked against the one list of refusals."""
    con = duckdb.connect()
    names = {
        r[0]
        for r in con.execute("SELECT DISTINCT function_name FROM duckdb_functions()").fetchall()
    }
    con.close()
    refused = sorted(n for n in names if refused_reason(n) and re.fullmatch(r"[a-z_][a-z0-9_]*", n))
    assert {"json_serialize_plan", "json_serialize_sql", "json_deserialize_sql",
            "json_execute_serialized_sql", "current_setting", "query", "read_text"} <= set(refused)  # fmt: skip
    for name in refused:
        messages = []
        for args in ("", "'x'", "'x', 'x'", "'x', 'x', 'x'"):  # some need arguments to parse
            sql = f'SELECT "{name}"({args}) AS x'
            try:
                checked = check_query(sql)
            except QueryError as e:
                messages.append(str(e))
                continue
            # admitted only as something else: `glob(a, b)` is the GLOB operator on strings
            rendered = checked.tree.sql(dialect="duckdb").lower()
            assert f"{name}(" not in rendered and f'"{name}"(' not in rendered, sql
        # refused by name, or never a call at all in Trino's grammar (GLOB is an operator)
        assert all(m.startswith("syntax error") or "is not allowed" in m for m in messages), (
            name,
            messages,
        )


def test_duckdb_functions_that_look_sensitive_are_refused():
    """A newer DuckDB that adds, say, json_serialize_query must not slip through unnoticed."""
    con = duckdb.connect()
    names = {
        r[0]
        for r in con.execute("SELECT DISTINCT function_name FROM duckdb_functions()").fetchall()
    }
    con.close()
    sensitive = re.compile(
        r"sql|setting|secret|serializ|variable|extension|database|schema|catalog|pragma|"
        r"checkpoint|profil|query|scan|resource|sequence|^show|duckdb|connection|memory|temp"
    )
    reviewed = {"transaction_timestamp"}  # harmless: the time the transaction started
    slipped = sorted(n for n in names if sensitive.search(n) and not refused_reason(n))
    assert [n for n in slipped if n not in reviewed] == []


def test_refusals_are_listed_in_one_place():
    patterns = [p for group in REFUSED_FUNCTIONS.values() for p in group]
    assert len(patterns) == len(set(patterns))
    for name in ("json_serialize_plan", "json_serialize_sql", "json_deserialize_sql",
                 "json_execute_serialized_sql", "current_setting", "duckdb_databases"):  # fmt: skip
        assert refused_reason(name)
    assert refused_reason("lower") is None and refused_reason("current_date") is None


def test_a_kelvin_sign_cte_does_not_reach_the_catalog(session):
    result = session.run(KELVIN, SPAN)
    # the CTE shadows the name for the checks and for DuckDB alike: its one row, no catalog
    assert result.table.column_names == ["a"]
    assert result.table.to_pylist() == [{"a": 1}]


@pytest.mark.parametrize(
    "sql",
    [
        # a look-alike CTE in one scope, the catalog view in another
        'SELECT * FROM (WITH "duc\u212adb_databases" AS (SELECT 1 AS a) SELECT a FROM'
        " duc\u212adb_databases) AS s, duckdb_databases",
        'SELECT * FROM "DUCKDB_SETTINGS"',
        'SELECT * FROM "\uff44uckdb_settings"',  # FULLWIDTH d
        'SELECT * FROM "pg_settin\u0262s"',  # LATIN LETTER SMALL CAPITAL G: no fold to g
    ],
)
def test_look_alike_names_do_not_reach_the_catalog(session, sql):
    message = refusal(session, sql)
    assert "unknown view" in message or "not allowed" in message


def test_names_compare_after_nfkc_and_case_folding():
    assert validate.canonical("duc\u212adb_databases") == "duckdb_databases"
    assert validate.canonical("\uff45\uff58\uff45\uff43") == "exec"
    checked = check_query('SELECT count(*) AS n FROM "\uff25XEC"')  # FULLWIDTH E
    assert checked.views == ("exec",)


def test_a_fullwidth_view_name_runs_as_the_view(session):
    rows = session.run('SELECT count(*) AS n FROM "\uff45xec"', SPAN)
    assert rows.table.to_pylist() == [{"n": 3}]


def test_cli_refuses_the_plan_leak_and_the_kelvin_cte(store, tmp_path):
    out = run(["--store", str(store), "query", "exec", *WINDOW, PLAN_LEAK], tmp_path)
    assert out.returncode != 0
    assert "json_serialize_plan() is not allowed" in out.stderr
    assert "accessmon-duckdb-" not in out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    out = run(["--store", str(store), "query", "exec", *WINDOW, KELVIN], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "database_name" not in out.stdout and "memory" not in out.stdout
    assert '"a"' in out.stdout


# -- 12: resource limits ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT len(range(200000000)) AS n", "range(): 200000000 elements is over the limit"),
        ("SELECT len(range(0, 4000000000, 2)) AS n", "over the limit"),
        ("SELECT length(repeat('x', 2000000000)) AS n", "repeat(): the count 2000000000"),
        ("SELECT length(repeat('xxxxxxxxxx', 5000)) AS n", "repeat(): 50000 characters"),
        ("SELECT length(space(100000000)) AS n", "space(): the count"),
        ("SELECT length(lpad('x', 900000000, 'y')) AS n", "lpad(): the length"),
        ("SELECT length(rpad(user, 900000000)) AS n FROM exec", "rpad(): the length"),
        ("SELECT len(list_resize([1], 900000000)) AS n", "list_resize(): the size"),
        ("SELECT length(printf('%0900000000d', 1)) AS n", "printf(): the width 900000000"),
        ("SELECT length(printf('%*d', 900000000, 1)) AS n", "printf(): a width taken"),
        ("SELECT length(format('%900000000s', 'x')) AS n", "format(): the width"),
        ("SELECT len(range(ei * 100000000)) AS n FROM exec", "range(): the bounds must be"),
        ("SELECT length(repeat('x', ei * 1000000000)) AS n FROM exec", "must be a constant"),
        (
            "SELECT len(list_transform(range(5000), x -> range(5000))) AS n",
            "range() inside another call would make 25000000",
        ),
        ("SELECT length(repeat(repeat('x', 5000), 5000)) AS n", "over the limit"),
        ("SELECT * FROM generate_series(1, 200000000)", "over the limit of 10000"),
        ("SELECT sequence(1, 200000000) AS s", "over the limit of 10000"),
        ("SELECT sequence(1, ei) AS s FROM exec", "sequence is not available on the local"),
    ],
)
def test_huge_generated_values_are_refused(session, sql, expected):
    assert expected in refusal(session, sql)


def test_small_generated_values_run(session):
    sql = (
        "SELECT len(range(100)) AS r, repeat('ab', 3) AS s, lpad(user, 8, '.') AS p,"
        " len(list_transform(range(10), x -> repeat('y', 10))) AS t FROM exec LIMIT 1"
    )
    rows = session.run(sql, SPAN).table.to_pylist()
    assert rows == [{"r": 100, "s": "ababab", "p": "...alice", "t": 10}]


@pytest.mark.parametrize("n", [8000, 20000])
def test_a_huge_or_chain_is_refused_not_validated_for_minutes(session, n):
    sql = "SELECT * FROM exec WHERE " + " OR ".join(f"ei = {i}" for i in range(n))
    assert "the query is too long" in refusal(session, sql)


def test_a_long_or_chain_under_the_size_limit_is_refused_for_its_depth(session):
    sql = "SELECT * FROM exec WHERE " + " OR ".join(f"ei = {i}" for i in range(2000))
    message = refusal(session, sql)
    assert "nests too deeply" in message and "IN (...)" in message


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "(" * 3000 + "1" + ")" * 3000 + " AS x",
        "SELECT " + "abs(" * 200 + "1" + ")" * 200 + " AS x",
        "SELECT * FROM exec WHERE " + "NOT " * 3000 + "true",
        "SELECT " + "- " * 3000 + "1 AS x",
        "SELECT " + "CASE WHEN true THEN " * 500 + "1" + " END" * 500 + " AS x",
        "SELECT * FROM " + "(SELECT * FROM " * 100 + "exec" + ") AS t" * 100,
    ],
    ids=["parentheses", "calls", "not", "minus", "case", "subqueries"],
)
def test_deep_nesting_is_a_query_error_not_a_recursion_error(session, sql):
    assert "nests too deeply" in refusal(session, sql)


def test_an_in_list_is_the_way_for_many_values(session):
    logins = ", ".join(f"'u{i}'" for i in range(2000))
    sql = f"SELECT count(*) AS n FROM exec WHERE login IN ('root', {logins})"
    assert session.run(sql, SPAN).table.to_pylist() == [{"n": 3}]


def test_validation_time_counts_against_the_timeout(session):
    """The deadline starts when validation starts: a query whose validation (and planning)
    used up duckdb.timeout_seconds is stopped before it reaches DuckDB."""
    checked = check_query("SELECT count(*) AS n FROM exec")
    sql = session.engine.render(checked, Window.between(START, END))
    late = dataclasses.replace(checked, started=checked.started - 2.5)
    with pytest.raises(EngineError, match=r"stopped after 2 s \(duckdb.timeout_seconds"):
        session.engine.execute(sql, late)
    assert session.engine.execute(sql, checked).table.to_pylist() == [{"n": 3}]


def test_memory_limit_holds_or_the_query_stops_with_a_clear_error(store):
    """A list aggregate cannot spill: with a small memory_limit DuckDB must refuse the
    allocation (or the timeout stop it), never grow the process past the limit."""
    sql = (
        "SELECT len(list(a.x + b.x)) AS n FROM (SELECT unnest(range(10000)) AS x) AS a,"
        " (SELECT unnest(range(10000)) AS x) AS b"
    )
    flags = {"duckdb": {"timeout_seconds": 2, "memory_limit": "64MB", "threads": 1}}
    with session_for(store, **flags) as session, pytest.raises(EngineError) as info:
        session.run(sql, SPAN)
    assert re.search(r"duckdb\.memory_limit \(64MB\)|duckdb\.timeout_seconds", str(info.value))


def test_cli_refuses_huge_arguments_and_deep_nesting(store, tmp_path):
    for sql, expected in [
        ("SELECT len(range(200000000)) AS n", "over the limit of 10000"),
        ("SELECT " + "(" * 3000 + "1" + ")" * 3000 + " AS x", "nests too deeply"),
    ]:
        out = run(["--store", str(store), "query", "exec", *WINDOW, sql], tmp_path)
        assert out.returncode != 0
        assert expected in out.stderr
        assert "RecursionError" not in out.stderr and "internal error" not in out.stderr
