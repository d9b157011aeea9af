"""Whole queries on accessmon's DuckDB engine and, as the SQL accessmon renders for Athena, on
a real Trino over the same files (issue 17): the seed's example queries, every query of the
Privileged Access Report and every built-in detection rule's query. Rows compare by type, in
any order unless the query orders them (`differential.py`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from accessmon.alerts.loader import load_rules
from accessmon.config import load_config
from accessmon.reports.definitions import load_definitions
from accessmon.sql.examples import load_examples
from accessmon.window import Window
from tests.trino.conftest import END
from tests.trino.differential import assert_same_answer

WINDOW = Window.between(END - dt.timedelta(days=4), END)


def _reports() -> dict[str, str]:
    definitions, errors = load_definitions(Path("/nonexistent-reports-dir"))
    assert not errors and definitions
    return {f"{d.name}.{q.name}": q.query for d in definitions.values() for q in d.queries}


def _rules() -> dict[str, tuple[str, int]]:
    config = load_config(flags={"rules_dir": "/nonexistent-rules-dir"}, environ={})
    rules = load_rules(config).rules
    builtin = {n: (r.sql, r.default_days) for n, r in rules.items() if r.builtin and r.sql}
    assert builtin
    return builtin


EXAMPLES = {e.name: e.query for e in load_examples()}
REPORTS = _reports()
RULES = _rules()


@pytest.mark.parametrize("sql", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_example_queries(sql, duckdb_session, athena_session, trino_query):
    assert assert_same_answer(sql, WINDOW, duckdb_session, athena_session, trino_query) > 0


@pytest.mark.parametrize("sql", REPORTS.values(), ids=REPORTS.keys())
def test_report_queries(sql, duckdb_session, athena_session, trino_query):
    assert assert_same_answer(sql, WINDOW, duckdb_session, athena_session, trino_query) > 0


@pytest.mark.parametrize(("sql", "days"), RULES.values(), ids=RULES.keys())
def test_builtin_rule_queries(sql, days, duckdb_session, athena_session, trino_query):
    """Over the rule's own window (its last `days` days) and over the whole test window."""
    own = Window.between(END - dt.timedelta(days=days - 1), END)
    for window in (own, WINDOW):
        assert_same_answer(sql, window, duckdb_session, athena_session, trino_query)


#: Output columns with no name of their own: Trino calls them `_col<position>`, which the
#: headers, CSV, charts and report columns show (`run_both` compares the names).
UNNAMED = [
    "SELECT user, count(*), max(event_time) FROM session_start GROUP BY user",
    "SELECT *, length(login) FROM session_start",
    "SELECT s.login, CAST(s.ei AS varchar), upper(s.user) FROM session_start s",
    "SELECT count(*) FROM exec UNION ALL SELECT count(*) FROM session_start",
    "SELECT DISTINCT lower(user) FROM (SELECT user FROM exec) AS t",
]


@pytest.mark.parametrize("sql", UNNAMED)
def test_unnamed_columns_are_named_as_trino_names_them(
    sql, duckdb_session, athena_session, trino_query
):
    assert assert_same_answer(sql, WINDOW, duckdb_session, athena_session, trino_query) > 0
