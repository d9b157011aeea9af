"""check_query on the analyst's ordinary paths: what it admits, what it names, and where.

The attacks (file readers, catalogs, sandbox escapes, bombs) are in tests/adversarial/; these
are the queries and mistakes of every day, checked without any engine.
"""

from __future__ import annotations

import time

import pytest

from accessmon.errors import QueryError
from accessmon.sql.validate import (
    REFUSED_FUNCTIONS,
    CheckedQuery,
    canonical,
    check_query,
    refused_reason,
)


def refusal(sql: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        check_query(sql)
    return info.value


# -- what is admitted ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "views"),
    [
        ("SELECT user, login FROM session_start", ("session_start",)),
        ("select * from exec where user = 'alice' limit 10", ("exec",)),
        ("(SELECT user FROM exec)", ("exec",)),
        ("SELECT 1 AS one", ()),
        ("SELECT user FROM exec;", ("exec",)),  # one trailing semicolon is still one statement
        (
            "SELECT s.user, e.command FROM session_start s JOIN exec e ON s.sid = e.sid",
            ("session_start", "exec"),
        ),
        (
            "SELECT user FROM exec UNION ALL SELECT user FROM session_start UNION SELECT user FROM exec",
            ("exec", "session_start"),
        ),
        (
            "SELECT user FROM exec WHERE user IN (SELECT identity_user FROM cert_create)",
            ("exec", "cert_create"),
        ),
        ("SELECT user, count(*) AS n FROM EXEC GROUP BY 1 ORDER BY n DESC", ("exec",)),
        ('SELECT "user" FROM "exec"', ("exec",)),
    ],
)
def test_ordinary_queries_pass_and_name_the_views_they_read(sql, views):
    checked = check_query(sql)
    assert isinstance(checked, CheckedQuery)
    assert checked.sql == sql and checked.views == views


def test_the_views_are_named_once_in_the_order_they_appear():
    checked = check_query("SELECT a.user FROM exec a JOIN exec b ON a.sid = b.sid")
    assert checked.views == ("exec",)


def test_started_is_when_validation_began():
    before = time.monotonic()
    checked = check_query("SELECT user FROM exec")
    assert before <= checked.started <= time.monotonic()


def test_everyday_functions_are_allowed():
    sql = (
        "SELECT lower(user) AS u, date_trunc('day', event_time) AS d, count(*) AS n, "
        "cardinality(access_requests) AS r, from_iso8601_timestamp(time) AS t, "
        "regexp_like(command, 'sudo') AS s, coalesce(login, '-') AS l, current_date AS today "
        "FROM exec WHERE event_time > current_timestamp - INTERVAL '1' DAY GROUP BY 1, 2, 4, 5, 6, 7"
    )
    assert check_query(sql).views == ("exec",)


# -- CTEs: a name is a CTE only where it is visible ------------------------------------------------


def test_ctes_read_views_and_are_not_views_themselves():
    checked = check_query(
        "WITH recent AS (SELECT user FROM exec), logins AS (SELECT user FROM session_start) "
        "SELECT * FROM recent JOIN logins USING (user)"
    )
    assert checked.views == ("exec", "session_start")


def test_a_cte_name_compares_like_any_name():
    checked = check_query("WITH Recent AS (SELECT user FROM exec) SELECT * FROM RECENT")
    assert checked.views == ("exec",)


def test_a_cte_may_shadow_a_view_name():
    checked = check_query("WITH exec AS (SELECT user FROM session_start) SELECT * FROM exec")
    assert checked.views == ("session_start",)


def test_a_cte_of_a_subquery_is_not_visible_outside_it():
    message = str(
        refusal("SELECT * FROM (WITH t AS (SELECT user FROM exec) SELECT * FROM t) AS x, t")
    )
    assert message.startswith("unknown view t")


def test_a_nested_cte_reads_the_outer_one():
    sql = (
        "WITH a AS (SELECT user FROM exec) "
        "SELECT * FROM (WITH b AS (SELECT * FROM a) SELECT * FROM b) AS x"
    )
    assert check_query(sql).views == ("exec",)


# -- one SELECT only, with the position of what is refused ----------------------------------------


@pytest.mark.parametrize("sql", ["", "   \n\t", ";", " ; ; "])
def test_an_empty_query_says_so(sql):
    assert str(refusal(sql)) == "the query is empty"


def test_two_statements_are_refused_even_if_both_are_selects():
    assert str(refusal("SELECT 1 AS a; SELECT 2 AS b")) == "exactly one statement is allowed, got 2"


@pytest.mark.parametrize(
    ("sql", "message", "line", "col"),
    [
        ("DELETE FROM exec", "DELETE is not allowed: queries are read-only", 1, 1),
        ("  insert into exec values (1)", "INSERT is not allowed: queries are read-only", 1, 3),
        ("\n\n    DROP VIEW exec", "DROP is not allowed: queries are read-only", 3, 5),
        (
            "SHOW TABLES",
            "SHOW is not allowed: only SELECT queries over the audit views can run",
            1,
            1,
        ),
        (
            "SELECT 1 AS a;\n  EXPLAIN SELECT 1",
            "EXPLAIN is not allowed: only SELECT queries over the audit views can run",
            2,
            3,
        ),
    ],
)
def test_a_statement_other_than_select_is_refused_where_it_starts(sql, message, line, col):
    error = refusal(sql)
    assert str(error) == f"{message} (line {line}, column {col})"
    assert (error.line, error.col) == (line, col)


def test_a_syntax_error_carries_its_line_and_column():
    error = refusal("SELECT user\nFROM exec\nWHERE user = = 'x'")
    assert str(error).startswith("syntax error")
    assert error.line == 3 and error.col is not None and error.col > 1


def test_an_unfinished_clause_is_named_in_plain_words():
    message = str(refusal("SELECT user FROM exec WHERE"))
    assert message.startswith("syntax error") and "Required keyword" not in message


def test_an_unterminated_string_is_a_syntax_error():
    assert str(refusal("SELECT 'abc FROM exec")).startswith("syntax error")


# -- did you mean --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM sesion_start", "unknown view sesion_start (did you mean session_start?)"),
        ("SELECT * FROM Exce", "unknown view exce (did you mean exec?)"),  # canonical form
        ("SELECT * FROM zzz", "unknown view zzz"),
    ],
)
def test_an_unknown_view_suggests_the_closest_one(sql, message):
    assert str(refusal(sql)) == message


def test_an_unknown_column_names_the_view_and_its_position():
    error = refusal("SELECT user,\n       comand\nFROM exec")
    assert str(error).startswith("unknown column comand in exec (did you mean command")
    assert (error.line, error.col) == (2, 8)


def test_a_column_under_a_prefix_is_suggested_with_its_prefix():
    message = str(refusal("SELECT roles FROM cert_create"))
    assert "unknown column roles in cert_create (did you mean identity_roles?)" in message


def test_an_unknown_column_in_a_join_names_both_views():
    message = str(refusal("SELECT nosuch FROM exec JOIN session_start USING (sid)"))
    assert message.startswith("unknown column nosuch in exec, session_start")


def test_a_column_of_a_cte_resolves_and_one_it_lacks_does_not():
    assert check_query("WITH t AS (SELECT user AS who FROM exec) SELECT who FROM t").views == (
        "exec",
    )
    assert "unknown column user" in str(
        refusal("WITH t AS (SELECT user AS who FROM exec) SELECT user FROM t")
    )


# -- the refused functions -----------------------------------------------------------------------


def test_each_reason_of_the_refused_list_reaches_the_analyst():
    for reason, patterns in REFUSED_FUNCTIONS.items():
        stem = next(p for p in patterns if p.endswith("*") and "*" not in p[:-1])
        name = stem[:-1] + "x"  # any name the pattern covers
        assert refused_reason(name) == reason, name
        message = str(refusal(f"SELECT {name}('a') AS v FROM exec"))
        assert message == (
            f"function {name}() is not allowed: it reaches outside the audit views ({reason})"
        )


def test_the_allowed_exceptions_to_the_patterns():
    for name in ("current_date", "current_timestamp", "unnest", "localtimestamp"):
        assert refused_reason(name) is None
    assert refused_reason("current_user") is not None  # current_* otherwise reads the host
    assert refused_reason("lower") is None and refused_reason("date_diff") is None


def test_function_names_compare_in_their_canonical_form():
    assert refused_reason("GETENV") == refused_reason("getenv") is not None
    assert refused_reason("\uff47\uff45\uff54\uff45\uff4e\uff56") is not None  # fullwidth getenv


# -- names in NFKC ----------------------------------------------------------------------------------


def test_canonical_is_nfkc_and_case_folded():
    assert canonical("EXEC") == "exec"
    assert canonical("\uff45\uff58\uff45\uff43") == "exec"  # fullwidth
    assert canonical("Stra\u00dfe") == "strasse"
    assert canonical("\u212a") == "k"  # KELVIN SIGN


def test_a_cte_name_in_another_script_form_matches_its_reference():
    checked = check_query(
        "WITH \uff32\uff45\uff43\uff45\uff4e\uff54 AS (SELECT user FROM exec) SELECT * FROM recent"
    )
    assert checked.views == ("exec",)
    assert '"recent"' in checked.tree.sql("trino")  # the engine sees the name that was checked


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC * FROM session_start", "unknown statement SELEC (did you mean SELECT?) (line 1, column 1)"),
        ("\n  selct 1", "unknown statement selct (did you mean SELECT?) (line 2, column 3)"),
        ("WIHT a AS (SELECT 1) SELECT 1", "unknown statement WIHT (did you mean WITH?)"),
    ],
)  # fmt: skip
def test_a_typo_of_select_is_a_syntax_error_not_a_policy_denial(sql, message):
    with pytest.raises(QueryError) as e:
        check_query(sql)
    assert str(e.value).startswith("syntax error: ") and message in str(e.value)
    assert "only SELECT" not in str(e.value)


@pytest.mark.parametrize("word", ["RESET", "INSTALL", "SHOW", "FOO"])
def test_a_real_statement_or_an_unlike_word_is_still_refused(word):
    with pytest.raises(QueryError, match=f"^{word} is not allowed: only SELECT queries"):
        check_query(f"{word} x")
