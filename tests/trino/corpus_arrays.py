"""Function calls analysts use on Athena, with real column values as arguments: arrays and
maps, aggregates, window functions, TRY/TRY_CAST/COALESCE, integer overflow (issue 17).

Each case runs on accessmon's DuckDB engine and, as the SQL accessmon renders for Athena, on
a real Trino (tests/trino/test_corpus_arrays.py); tests/sql/test_function_corpus.py runs the
local side of every case in `make test`. A case either gives Trino's answer or is refused
before it runs, naming the function.

`check` says how the answers are compared:
- "rows": the rows as a bag (a query without ORDER BY has no row order on either engine);
- "ordered": the rows in order (the query orders by a unique key);
- "bags": as "rows", and every array in the answer as a bag: array_agg without ORDER BY
  collects in no defined order on either engine;
- "member": the one row's values must each be one of the values the column holds
  (arbitrary() may pick any of them); `member_of` is the query for the candidates;
- "approx": approx_distinct, which the local engine answers exactly, as count(DISTINCT x)
  (DuckDB's own sketch is far coarser than Trino's): a whole number in the answer may
  differ from Trino's estimate by at most 3 of Trino's standard errors (2.3 %, or the
  given maximum standard error). On data this small Trino's estimate is exact in practice.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    name: str
    sql: str
    check: str = "rows"
    member_of: str = ""
    #: Trino fails this query (overflow, a bad cast, division by zero): the local engine
    #: must fail too, never answer.
    fails: bool = False


def _cases() -> list[Case]:
    c = Case
    return [
        # --- arrays: membership, size, elements -------------------------------------------
        c("contains", "SELECT user, contains(access_requests, 'none') AS has FROM session_start"),
        c("contains_roles", "SELECT uid, contains(identity_roles, 'access') FROM cert_create"),
        c("contains_null_array", "SELECT contains(CAST(NULL AS array(varchar)), 'x')"),
        c("cardinality", "SELECT user, cardinality(access_requests) AS n FROM session_start"),
        c(
            "cardinality_logins",
            "SELECT cardinality(identity_logins) AS n, count(*) AS c FROM cert_create GROUP BY 1",
        ),
        c("cardinality_argv", "SELECT cardinality(argv), count(*) FROM session_command GROUP BY 1"),
        c("element_at_1", "SELECT element_at(identity_roles, 1) FROM cert_create"),
        c("element_at_last", "SELECT element_at(identity_roles, -1) FROM cert_create"),
        c("element_at_past_end", "SELECT element_at(identity_roles, 100) FROM cert_create"),
        c("subscript", "SELECT argv[1] FROM session_command WHERE cardinality(argv) > 0"),
        c("element_at_map", "SELECT element_at(histogram(login), 'root') FROM session_start"),
        c("element_at_zero", "SELECT element_at(identity_roles, 0) FROM cert_create", fails=True),
        c(
            "element_at_zero_computed",
            "SELECT element_at(argv, cardinality(argv) - cardinality(argv)) FROM session_command",
            fails=True,
        ),
        c("element_at_zero_null_array", "SELECT element_at(CAST(NULL AS array(varchar)), 0)"),
        c("element_at_map_zero_key", "SELECT element_at(histogram(ei), 0) FROM session_start"),
        c("element_at_before_start", "SELECT element_at(identity_roles, -10) FROM cert_create"),
        # --- lambdas ----------------------------------------------------------------------
        c(
            "any_match",
            "SELECT user, any_match(access_requests, x -> x LIKE 'r%') AS m FROM session_start",
        ),
        c(
            "any_match_roles",
            "SELECT uid, any_match(identity_roles, r -> r = 'editor') FROM cert_create",
        ),
        c(
            "any_match_where",
            "SELECT count(*) FROM cert_create WHERE any_match(identity_logins, l -> l = 'root')",
        ),
        c(
            "all_match",
            "SELECT uid, all_match(identity_roles, r -> length(r) > 3) FROM cert_create",
        ),
        c(
            "all_match_empty",
            "SELECT all_match(filter(identity_roles, r -> false), r -> r = 'x') FROM cert_create",
        ),
        c(
            "none_match",
            "SELECT uid, none_match(identity_logins, l -> l = 'root') FROM cert_create",
        ),
        c("any_match_null_elem", "SELECT any_match(ARRAY['a', NULL], x -> x = 'b')"),
        c("all_match_null_elem", "SELECT all_match(ARRAY['a', NULL], x -> x = 'a')"),
        c("none_match_null_elem", "SELECT none_match(ARRAY['a', NULL], x -> x = 'b')"),
        c("filter", "SELECT uid, filter(identity_roles, r -> r <> 'access') FROM cert_create"),
        c("filter_argv", "SELECT filter(argv, a -> a LIKE '-%') FROM session_command"),
        c("transform", "SELECT transform(identity_roles, r -> upper(r)) FROM cert_create"),
        c("transform_len", "SELECT transform(argv, a -> length(a)) FROM session_command"),
        c(
            "transform_filter",
            "SELECT transform(filter(identity_logins, l -> l <> 'root'), "
            "l -> l || '@' || cluster_name) FROM cert_create",
        ),
        c(
            "reduce",
            "SELECT reduce(identity_roles, 0, (s, r) -> s + length(r), s -> s) FROM cert_create",
        ),
        c(
            "reduce_finish",
            "SELECT reduce(identity_roles, 0, (s, r) -> s + length(r), s -> s * 10) "
            "FROM cert_create",
        ),
        # --- array building ---------------------------------------------------------------
        c("array_join", "SELECT array_join(identity_roles, ',') FROM cert_create"),
        c("array_join_argv", "SELECT array_join(argv, ' ') FROM session_command"),
        c("array_join_null", "SELECT array_join(ARRAY['a', NULL, 'b'], ',')"),
        c("array_join_null_repl", "SELECT array_join(ARRAY['a', NULL, 'b'], ',', 'N')"),
        c("flatten", "SELECT flatten(ARRAY[identity_roles, identity_logins]) FROM cert_create"),
        c("flatten_agg", "SELECT cardinality(flatten(array_agg(identity_roles))) FROM cert_create"),
        c(
            "array_distinct",
            "SELECT array_distinct(identity_logins || identity_logins) FROM cert_create",
        ),
        c(
            "array_distinct_agg",
            "SELECT array_sort(array_distinct(array_agg(login))) FROM session_start",
        ),
        c("array_sort", "SELECT array_sort(identity_roles) FROM cert_create"),
        c("array_sort_nulls", "SELECT array_sort(ARRAY['b', NULL, 'a'])"),
        c("array_sort_agg", "SELECT array_sort(array_agg(DISTINCT code)) FROM session_start"),
        c("slice", "SELECT slice(argv, 1, 2) FROM session_command"),
        c("slice_neg", "SELECT slice(identity_roles, -1, 1) FROM cert_create"),
        c("slice_middle", "SELECT slice(argv, 2, 2) FROM session_command"),
        c("slice_neg_long", "SELECT slice(identity_roles, -2, 5) FROM cert_create"),
        c("slice_neg_past_start", "SELECT slice(identity_roles, -10, 2) FROM cert_create"),
        c("slice_zero", "SELECT slice(identity_roles, 0, 2) FROM cert_create", fails=True),
        c("sequence", "SELECT sequence(1, 5)"),
        c("sequence_step", "SELECT sequence(10, 1, -3)"),
        c(
            "sequence_cardinality",
            "SELECT uid, sequence(1, cardinality(identity_roles)) FROM cert_create",
        ),
        c("array_concat", "SELECT identity_roles || identity_logins FROM cert_create"),
        c("concat_arrays", "SELECT concat(identity_roles, ARRAY['extra']) FROM cert_create"),
        c("array_position", "SELECT array_position(identity_roles, 'editor') FROM cert_create"),
        c("array_position_null", "SELECT array_position(ARRAY['a', NULL], NULL)"),
        c(
            "array_max",
            "SELECT array_max(identity_roles), array_min(identity_roles) FROM cert_create",
        ),
        c("array_remove", "SELECT array_remove(identity_logins, 'root') FROM cert_create"),
        c("array_except", "SELECT array_except(identity_logins, ARRAY['root']) FROM cert_create"),
        c(
            "array_intersect",
            "SELECT array_sort(array_intersect(identity_logins, "
            "ARRAY['root', 'ubuntu', 'x'])) FROM cert_create",
        ),
        c(
            "arrays_overlap",
            "SELECT arrays_overlap(identity_logins, ARRAY['root']) FROM cert_create",
        ),
        c("array_literal", "SELECT ARRAY[login, user] FROM session_start"),
        c(
            "contains_null_elem",
            "SELECT contains(ARRAY['a', NULL], 'b'), contains(ARRAY['a'], NULL)",
        ),
        c("array_max_null", "SELECT array_max(ARRAY['a', NULL]), array_min(ARRAY[2, NULL, 1])"),
        c("array_union", "SELECT array_union(identity_roles, identity_logins) FROM cert_create"),
        c("array_remove_null", "SELECT array_remove(ARRAY['a', NULL, 'b'], 'a')"),
        c("array_remove_null_value", "SELECT array_remove(ARRAY['a', NULL], NULL)"),
        c(
            "array_intersect_order",
            "SELECT array_intersect(ARRAY['b', 'a', 'c', 'a'], ARRAY['a', 'b'])",
        ),
        c("array_intersect_null", "SELECT array_intersect(ARRAY[1, 1, NULL], ARRAY[1, NULL])"),
        c("flatten_null", "SELECT flatten(ARRAY[ARRAY[1], NULL, ARRAY[2]])"),
        c("subscript_past_end", "SELECT argv[3] FROM session_command", fails=True),
        c(
            "subscript_checked",
            "SELECT argv[cardinality(argv)] FROM session_command WHERE cardinality(argv) > 0",
        ),
        c(
            "map_subscript_missing",
            "SELECT histogram(login)['nobody'] FROM session_start",
            fails=True,
        ),
        c(
            "element_at_map_missing",
            "SELECT element_at(histogram(login), 'nobody') FROM session_start",
        ),
        c(
            "array_sort_comparator",
            "SELECT array_sort(identity_roles, (a, b) -> "
            "IF(a < b, 1, IF(a = b, 0, -1))) FROM cert_create",
        ),
        c("array_frequency", "SELECT array_frequency(identity_logins) FROM cert_create"),
        c("zip", "SELECT zip(identity_roles, identity_logins) FROM cert_create"),
        c(
            "transform_values",
            "SELECT transform_values(histogram(login), (k, v) -> v * 2) FROM session_start",
        ),
        # --- maps -------------------------------------------------------------------------
        c("histogram", "SELECT histogram(code) FROM session_start"),
        c("histogram_group", "SELECT user, histogram(login) FROM session_start GROUP BY user"),
        c("histogram_int", "SELECT histogram(ei) FROM session_start"),
        c("map_keys", "SELECT array_sort(map_keys(histogram(code))) FROM session_start"),
        c("map_values", "SELECT array_sort(map_values(histogram(login))) FROM session_start"),
        c("map_cardinality", "SELECT cardinality(histogram(user)) FROM session_start"),
        c("map_subscript", "SELECT histogram(login)['root'] FROM session_start"),
        c("map_literal", "SELECT MAP(ARRAY['a', 'b'], ARRAY[1, 2])"),
        c(
            "map_agg",
            "SELECT map_agg(code, n) FROM (SELECT code, count(*) AS n "
            "FROM session_start GROUP BY code)",
        ),
        # --- UNNEST -----------------------------------------------------------------------
        c(
            "unnest_cross_join",
            "SELECT uid, r FROM cert_create CROSS JOIN UNNEST(identity_roles) AS t(r)",
        ),
        c(
            "unnest_count",
            "SELECT r, count(*) FROM cert_create CROSS JOIN "
            "UNNEST(identity_roles) AS t(r) GROUP BY r",
        ),
        c(
            "unnest_ordinality",
            "SELECT uid, a, i FROM session_command CROSS JOIN "
            "UNNEST(argv) WITH ORDINALITY AS t(a, i)",
        ),
        c(
            "unnest_two_arrays",
            "SELECT uid, r, l FROM cert_create CROSS JOIN "
            "UNNEST(identity_roles, identity_logins) AS t(r, l)",
        ),
        c(
            "unnest_rows",
            "SELECT uid, rk, rn FROM access_request_create CROSS JOIN "
            "UNNEST(resource_ids) AS t(rc, rk, rn, rs)",
        ),
        c("unnest_literal", "SELECT x FROM UNNEST(ARRAY[3, 1, 2]) AS t(x)"),
        c(
            "unnest_literal_ord",
            "SELECT x, n FROM UNNEST(ARRAY['a', 'b']) WITH ORDINALITY AS t(x, n)",
        ),
        c(
            "unnest_access_requests",
            "SELECT ar, count(*) FROM session_start CROSS JOIN "
            "UNNEST(access_requests) AS t(ar) GROUP BY ar",
        ),
        # --- aggregates -------------------------------------------------------------------
        c("count_if", "SELECT count_if(login = 'root') FROM session_start"),
        c("count_if_group", "SELECT user, count_if(success) FROM user_login GROUP BY user"),
        c("count_if_empty", "SELECT count_if(login = 'root') FROM session_start WHERE false"),
        c("approx_distinct", "SELECT approx_distinct(user) FROM session_start", "approx"),
        c(
            "approx_distinct_group",
            "SELECT login, approx_distinct(server_hostname) FROM session_start GROUP BY login",
            "approx",
        ),
        c(
            "approx_distinct_error",
            "SELECT approx_distinct(login, 0.01) FROM session_start",
            "approx",
        ),
        c(
            "count_distinct_group",
            "SELECT login, count(DISTINCT server_hostname) FROM session_start GROUP BY login",
        ),
        c("array_agg", "SELECT user, array_agg(login) FROM session_start GROUP BY user", "bags"),
        c(
            "array_agg_order",
            "SELECT user, array_agg(uid ORDER BY event_time, uid) FROM session_start GROUP BY user",
        ),
        c("array_agg_distinct", "SELECT array_sort(array_agg(DISTINCT user)) FROM session_start"),
        c("array_agg_empty", "SELECT array_agg(user) FROM session_start WHERE false"),
        c("max_by", "SELECT user, max_by(uid, event_time) FROM session_start GROUP BY user"),
        c("min_by", "SELECT user, min_by(uid, event_time) FROM session_start GROUP BY user"),
        c(
            "max_by_null_x",
            "SELECT max_by(uid, event_time), min_by(login, event_time) FROM session_start",
        ),
        c("max_by_n", "SELECT max_by(uid, event_time, 2) FROM session_start"),
        c("double_as_varchar", "SELECT CAST(avg(ei) AS varchar) FROM session_start"),
        c("decimal_product_as_varchar", "SELECT CAST(ei * 1.5 AS varchar) FROM session_start"),
        c("bool_and", "SELECT user, bool_and(success) FROM user_login GROUP BY user"),
        c("bool_or", "SELECT user, bool_or(NOT success) FROM user_login GROUP BY user"),
        c("every", "SELECT every(with_mfa IS NOT NULL) FROM session_command"),
        c("every_group", "SELECT user, every(success) FROM user_login GROUP BY user"),
        c("every_empty", "SELECT every(success) FROM user_login WHERE false"),
        c(
            "arbitrary",
            "SELECT arbitrary(user) FROM session_start",
            "member",
            "SELECT DISTINCT user FROM session_start",
        ),
        c(
            "any_value",
            "SELECT any_value(login) FROM session_start",
            "member",
            "SELECT DISTINCT login FROM session_start",
        ),
        c("count_distinct", "SELECT count(DISTINCT user) FROM session_start"),
        c("sum_int", "SELECT sum(ei) FROM session_start"),
        c("avg_int", "SELECT avg(ei) FROM session_start"),
        c("agg_filter", "SELECT count(*) FILTER (WHERE login = 'root') FROM session_start"),
        c("stddev", "SELECT stddev(pid) FROM session_command"),
        # --- window functions -------------------------------------------------------------
        c(
            "row_number",
            "SELECT uid, row_number() OVER (PARTITION BY user "
            "ORDER BY event_time, uid) FROM session_start",
        ),
        c("rank", "SELECT uid, rank() OVER (ORDER BY event_date) FROM session_start"),
        c("dense_rank", "SELECT uid, dense_rank() OVER (ORDER BY login) FROM session_start"),
        c(
            "lag",
            "SELECT uid, lag(uid) OVER (PARTITION BY user ORDER BY event_time, uid) "
            "FROM session_start",
        ),
        c(
            "lag_default",
            "SELECT uid, lag(login, 1, 'none') OVER (ORDER BY event_time, uid) FROM session_start",
        ),
        c(
            "lead",
            "SELECT uid, lead(event_time) OVER (PARTITION BY user "
            "ORDER BY event_time, uid) FROM session_start",
        ),
        c(
            "first_value",
            "SELECT uid, first_value(uid) OVER (PARTITION BY user "
            "ORDER BY event_time, uid) FROM session_start",
        ),
        c(
            "last_value_frame",
            "SELECT uid, last_value(uid) OVER (PARTITION BY user "
            "ORDER BY event_time, uid ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) "
            "FROM session_start",
        ),
        c("count_over", "SELECT uid, count(*) OVER (PARTITION BY user) FROM session_start"),
        c(
            "running_sum",
            "SELECT uid, sum(ei) OVER (PARTITION BY user ORDER BY event_time, uid "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM session_start",
        ),
        c(
            "moving_sum",
            "SELECT uid, sum(pid) OVER (ORDER BY event_time, uid "
            "ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM session_command",
        ),
        c(
            "running_count_range",
            "SELECT uid, count(*) OVER (ORDER BY event_date) FROM session_start",
        ),
        c("ntile", "SELECT uid, ntile(4) OVER (ORDER BY event_time, uid) FROM session_start"),
        c(
            "max_by_window",
            "SELECT uid, max_by(login, uid) OVER (PARTITION BY user), "
            "min_by(login, uid) OVER (PARTITION BY user) FROM session_start",
        ),
        c(
            "max_by_window_running",
            "SELECT uid, max_by(login, uid) OVER (PARTITION BY user ORDER BY uid) FROM session_start",
        ),
        c(
            "max_by_window_null_x",
            "SELECT x, max_by(x, y) OVER (), min_by(x, y) OVER (), max_by(x, y, 2) OVER () "
            "FROM (VALUES (NULL, 3), (1, 2), (5, 1), (7, NULL)) AS t(x, y)",
        ),
        c(
            "max_by_n_window",
            "SELECT uid, min_by(login, uid, 2) OVER (PARTITION BY user) FROM session_start",
        ),
        c(
            "percent_rank",
            "SELECT uid, percent_rank() OVER (ORDER BY event_time, uid) FROM session_start",
        ),
        # --- TRY, TRY_CAST, COALESCE ------------------------------------------------------
        c("try_div_zero", "SELECT TRY(1 / 0)"),
        c("try_div_col", "SELECT uid, TRY(pid / (ppid - ppid)) FROM session_command"),
        c("try_cast_text", "SELECT TRY_CAST('x' AS integer)"),
        c("try_cast_overflow", "SELECT TRY_CAST('4294968064' AS integer)"),
        c("try_cast_bigint", "SELECT TRY_CAST('4294968064' AS bigint)"),
        c("try_cast_col", "SELECT uid, TRY_CAST(login AS integer) FROM session_start"),
        c("try_cast_double", "SELECT TRY_CAST('1.5' AS double)"),
        c("try_cast_bool", "SELECT TRY_CAST('maybe' AS boolean)"),
        c("cast_text_fails", "SELECT CAST('x' AS integer)", fails=True),
        c("coalesce", "SELECT uid, coalesce(with_mfa, login, 'none') FROM session_command"),
        c("coalesce_array", "SELECT coalesce(identity_access_requests, ARRAY[]) FROM cert_create"),
        c(
            "coalesce_cardinality",
            "SELECT coalesce(cardinality(access_requests), 0) FROM session_start",
        ),
        c("nullif", "SELECT nullif(login, 'root') FROM session_start"),
        c("if_null", "SELECT if(with_mfa IS NULL, 'no', 'yes') FROM session_command"),
        # --- integer overflow -------------------------------------------------------------
        c("int_literal_overflow", "SELECT 2147483647 + 1", fails=True),
        c("int_col_overflow", "SELECT ei + 2147483647 + 1 FROM session_start", fails=True),
        c(
            "int_cast_overflow",
            "SELECT CAST(pid AS integer) * 2147483647 FROM session_command WHERE pid > 1",
            fails=True,
        ),
        c("int_sum_widens", "SELECT sum(CAST(2147483647 AS integer)) FROM session_start"),
        c("bigint_overflow", "SELECT 9223372036854775807 + 1", fails=True),
        c(
            "bigint_col_overflow",
            "SELECT CAST(pid AS bigint) * 9223372036854775807 FROM session_command WHERE pid > 1",
            fails=True,
        ),
        c("try_int_overflow", "SELECT TRY(2147483647 + 1)"),
        c("int_negate_min", "SELECT -CAST(-2147483648 AS integer)", fails=True),
        c("int_negate_col", "SELECT -(ei - 2147483647 - 1) FROM session_start", fails=True),
        c("cast_int_overflow", "SELECT CAST(4294968064 AS integer)", fails=True),
        c("int_div", "SELECT pid / 2, pid % 7 FROM session_command"),
        c("int_div_negative", "SELECT -pid / 7, (-pid) % 7 FROM session_command"),
        c("int_div_zero", "SELECT pid / (ppid - ppid) FROM session_command", fails=True),
        c(
            "count_div",
            "SELECT count(*) / 7, cardinality(argv) / 2 FROM session_command GROUP BY argv",
        ),
        c("double_div", "SELECT avg(pid) / 2, pid / 2.5e0 FROM session_command GROUP BY pid"),
        # --- decimals: a literal with a point is a decimal on Trino ----------------------------
        c("decimal_div", "SELECT 7.0 / 2, 7.0 / 3, -7.0 / 2, 2 / 4.0, 1.10 / 3.333, 7.0 / 0.3"),
        c("decimal_arithmetic", "SELECT 1.10 * 3, 1.10 + 1, 7.0 - 0.25, 7.0 % 2, -(1.5)"),
        c(
            "decimal_cast",
            "SELECT CAST(1.5 AS decimal(10, 2)), CAST(1.5 AS decimal), "
            "CAST('1.005' AS decimal(10, 2)), CAST(-2.5 AS decimal(10, 0))",
        ),
        c(
            "decimal_cast_double",
            "SELECT CAST(1.005e0 AS decimal(10, 2)), CAST(2.5e0 AS decimal(4, 0))",
        ),
        c(
            "decimal_round",
            "SELECT round(7.0 / 3, 2), round(2.35, 1), round(-2.35, 1), round(2.5), "
            "round(123.4, -1), truncate(1.55, 1), ceil(1.5), floor(-1.5), abs(-1.5)",
        ),
        c("decimal_columns", "SELECT uid, ei * 1.5, ei / 2.0, ei + 0.25 FROM session_start"),
        c("decimal_bigint_div", "SELECT uid, pid / 3.0, pid * 0.001 FROM session_command"),
        c("decimal_avg", "SELECT avg(ei * 1.5), avg(1.5), sum(ei * 1.5) FROM session_start"),
        c("decimal_avg_group", "SELECT user, avg(pid * 1.0) FROM session_command GROUP BY user"),
        c("decimal_avg_empty", "SELECT avg(ei * 1.5) FROM session_start WHERE false"),
        c(
            "decimal_compare",
            "SELECT count_if(7.0 / 3 = 2.3), count_if(ei / 3.0 >= 0.3) FROM session_start",
        ),
        c("decimal_text", "SELECT 0.0000001, CAST(7.0 / 2 AS varchar), CAST(1.10 * 3 AS varchar)"),
        c("decimal_double", "SELECT 1.5 * 2.5e0, 7.0 / 2e0, 7.0 / 2 + 0.5e0"),
        c(
            "decimal_cte",
            "WITH t AS (SELECT uid, user, ei * 1.5 AS z FROM session_start) "
            "SELECT user, avg(z), sum(z) / 4, max(z) / 7 FROM t GROUP BY user",
        ),
        c(
            "decimal_union",
            "SELECT avg(v), sum(v) / 3 FROM (SELECT 1.5 AS v UNION ALL SELECT 2.25 UNION ALL SELECT 2)",
        ),
        c(
            "decimal_function_div",
            "SELECT uid, cardinality(argv) / 2.0, length(program) / 3.0, "
            "date_diff('second', event_time, event_time + INTERVAL '3' SECOND) / 2.0 "
            "FROM session_command",
        ),
        c("decimal_round_digits_column", "SELECT round(1.55, ei) FROM session_start"),
        c("decimal_div_zero", "SELECT 7.0 / (ei - ei) FROM session_start", fails=True),
        c(
            "decimal_avg_window",
            "SELECT uid, avg(ei * 1.5) OVER (PARTITION BY user) FROM session_start",
        ),
        # --- JSON to varchar: Trino casts a scalar only -------------------------------------
        c(
            "json_cast_object_varchar",
            'SELECT CAST(json_parse(\'{"b":1,"a":2}\') AS varchar)',
            fails=True,
        ),
        c(
            "json_cast_array_varchar",
            "SELECT CAST(json_extract('{\"n\":[1]}', '$.n') AS varchar)",
            fails=True,
        ),
        c(
            "json_try_cast_varchar",
            "SELECT TRY_CAST(json_parse('{\"b\":1}') AS varchar), "
            "TRY_CAST(json_parse('\"x\"') AS varchar)",
        ),
        c(
            "json_cast_scalar_varchar",
            "SELECT CAST(json_parse('1.50') AS varchar), CAST(json_parse('true') AS varchar), "
            'CAST(json_extract(\'{"n":150, "s":"x"}\', \'$.n\') AS varchar), '
            'CAST(json_extract(\'{"n":150, "s":"x"}\', \'$.s\') AS varchar)',
        ),
    ]


CASES: list[Case] = _cases()

#: What a refusal says (fidelity.refuse_unfaithful): "<function> is not available on the
#: local engine; <alternative> or --engine athena".
REFUSED = "is not available on the local engine"
