"""Function calls analysts write on Athena, with view columns as arguments (issue 17):
date and time, string and regex, JSON. One case a line, `(id, Trino SQL)`.

Each case runs on accessmon's DuckDB engine and, as the Athena SQL accessmon renders, on a
real Trino (tests/trino/test_corpus_time_text.py); it must give Trino's rows or be refused
before it runs with an error naming the function. tests/sql/test_function_corpus.py runs the
local side in `make test`, without Trino, and prints the counts.
"""

from __future__ import annotations

# fmt: off
CASES: list[tuple[str, str]] = [
    # -- date and time ----------------------------------------------------------------------
    ('date_diff_day_current', "SELECT date_diff('day', event_date, current_date) > 100 AS v FROM session_start"),
    ('date_diff_second_expiry', "SELECT date_diff('second', event_time, from_iso8601_timestamp(identity_expires)) AS v FROM cert_create"),
    ('date_diff_hour_expiry', 'SELECT date_diff(\'hour\', from_iso8601_timestamp("time"), from_iso8601_timestamp(identity_expires)) AS v FROM cert_create'),
    ('date_diff_minute_interval', "SELECT date_diff('minute', event_time, event_time + INTERVAL '90' MINUTE) AS v FROM session_start"),
    ('date_diff_day_dates', "SELECT date_diff('day', event_date, DATE '2024-03-20') AS v FROM session_start"),
    ('date_diff_week', "SELECT date_diff('week', event_date, DATE '2024-06-01') AS v FROM session_start"),
    ('date_diff_month', "SELECT date_diff('month', event_date, DATE '2024-12-31') AS v FROM session_start"),
    ('date_diff_millisecond', "SELECT date_diff('millisecond', date_trunc('hour', event_time), event_time) AS v FROM session_start"),
    ('date_add_hour', "SELECT date_add('hour', 3, event_time) AS v FROM session_start"),
    ('date_add_minute_neg', "SELECT date_add('minute', -30, event_time) AS v FROM exec"),
    ('date_add_day_date', "SELECT date_add('day', -1, event_date) AS v FROM session_start"),
    ('date_add_month_date', "SELECT date_add('month', 1, event_date) AS v FROM session_start"),
    ('date_add_second', "SELECT date_add('second', 86400, event_time) AS v FROM user_login"),
    ('date_trunc_hour', "SELECT date_trunc('hour', event_time) AS v FROM session_start"),
    ('date_trunc_day', "SELECT date_trunc('day', event_time) AS v FROM exec"),
    ('date_trunc_minute', "SELECT date_trunc('minute', event_time) AS v FROM user_login"),
    ('date_trunc_week', "SELECT date_trunc('week', event_time) AS v FROM session_start"),
    ('date_trunc_month_date', "SELECT date_trunc('month', event_date) AS v FROM session_start"),
    ('date_trunc_group', "SELECT date_trunc('hour', event_time) AS h, count(*) AS n FROM exec GROUP BY 1"),
    ('format_datetime_day', "SELECT format_datetime(event_time, 'yyyy-MM-dd') AS v FROM session_start"),
    ('format_datetime_seconds', "SELECT format_datetime(event_time, 'yyyy-MM-dd HH:mm:ss') AS v FROM session_start"),
    ('format_datetime_t_millis', "SELECT format_datetime(event_time, 'yyyy-MM-dd''T''HH:mm:ss.SSS') AS v FROM exec"),
    ('format_datetime_hh_mm', "SELECT format_datetime(event_time, 'HH:mm') AS v FROM user_login"),
    ('format_datetime_compact', "SELECT format_datetime(event_time, 'yyyyMMdd') AS v FROM user_login"),
    ('format_datetime_weekday', "SELECT format_datetime(event_time, 'EEE') AS v FROM session_start"),
    ('format_datetime_weekday_long', "SELECT format_datetime(event_time, 'EEEE') AS v FROM exec"),
    ('format_datetime_month_name', "SELECT format_datetime(event_time, 'MMM dd') AS v FROM exec"),
    ('format_datetime_month_long', "SELECT format_datetime(event_time, 'MMMM yyyy') AS v FROM exec"),
    ('format_datetime_12h', "SELECT format_datetime(event_time, 'hh:mm a') AS v FROM session_start"),
    ('format_datetime_group', "SELECT format_datetime(event_time, 'yyyy-MM-dd HH') AS h, count(*) AS n FROM session_start GROUP BY 1"),
    ('format_datetime_tz_offset', 'SELECT format_datetime(from_iso8601_timestamp("time"), \'yyyy-MM-dd HH:mm Z\') AS v FROM session_start'),
    ('format_datetime_era', "SELECT format_datetime(event_time, 'G yyyy') AS v FROM session_start"),
    ('date_format_day', "SELECT date_format(event_time, '%Y-%m-%d') AS v FROM session_start"),
    ('date_format_time', "SELECT date_format(event_time, '%H:%i:%s') AS v FROM session_start"),
    ('date_format_minute', "SELECT date_format(event_time, '%Y-%m-%d %H:%i') AS v FROM exec"),
    ('date_format_weekday', "SELECT date_format(event_time, '%a') AS v FROM exec"),
    ('date_format_weekday_long', "SELECT date_format(event_time, '%W') AS v FROM exec"),
    ('date_format_month', "SELECT date_format(event_time, '%b %e') AS v FROM user_login"),
    ('date_format_millis', "SELECT date_format(event_time, '%Y-%m-%dT%H:%i:%s.%f') AS v FROM exec"),
    ('date_format_day_of_year', "SELECT date_format(event_time, '%j') AS v FROM session_start"),
    ('date_format_t', "SELECT date_format(event_time, '%T') AS v FROM session_start"),
    ('parse_datetime_t', 'SELECT parse_datetime(substr("time", 1, 19), \'yyyy-MM-dd\'\'T\'\'HH:mm:ss\') AS v FROM session_start'),
    ('parse_datetime_day', "SELECT parse_datetime(CAST(event_date AS varchar), 'yyyy-MM-dd') AS v FROM exec"),
    ('parse_datetime_space', "SELECT parse_datetime(date_format(event_time, '%Y-%m-%d %H:%i:%s'), 'yyyy-MM-dd HH:mm:ss') AS v FROM exec"),
    ('date_parse_t', 'SELECT date_parse(substr("time", 1, 19), \'%Y-%m-%dT%H:%i:%s\') AS v FROM session_start'),
    ('date_parse_day', "SELECT date_parse(CAST(event_date AS varchar), '%Y-%m-%d') AS v FROM exec"),
    ('date_parse_filter', "SELECT count(*) AS n FROM exec WHERE event_time >= date_parse('2024-03-19', '%Y-%m-%d')"),
    ('at_timezone_berlin', "SELECT at_timezone(event_time, 'Europe/Berlin') AS v FROM session_start"),
    ('at_timezone_new_york', "SELECT at_timezone(event_time, 'America/New_York') AS v FROM exec"),
    ('at_timezone_utc', "SELECT at_timezone(event_time, 'UTC') AS v FROM user_login"),
    ('at_timezone_kolkata_hour', "SELECT hour(at_timezone(event_time, 'Asia/Kolkata')) AS v FROM exec"),
    ('at_timezone_expiry', "SELECT at_timezone(from_iso8601_timestamp(identity_expires), 'Europe/Berlin') AS v FROM cert_create"),
    ('at_time_zone_syntax', "SELECT event_time AT TIME ZONE 'Europe/Berlin' AS v FROM session_start"),
    ('to_iso8601_ts', 'SELECT to_iso8601(event_time) AS v FROM session_start'),
    ('to_iso8601_date', 'SELECT to_iso8601(event_date) AS v FROM session_start'),
    ('to_iso8601_tz', 'SELECT to_iso8601(from_iso8601_timestamp("time")) AS v FROM exec'),
    ('to_unixtime', 'SELECT to_unixtime(event_time) AS v FROM session_start'),
    ('from_unixtime_roundtrip', 'SELECT from_unixtime(to_unixtime(event_time)) AS v FROM exec'),
    ('from_unixtime_const', 'SELECT from_unixtime(1710876000) AS v FROM session_start'),
    ('from_unixtime_floor', 'SELECT from_unixtime(floor(to_unixtime(event_time) / 3600) * 3600) AS v FROM exec'),
    ('from_iso8601_timestamp_time', 'SELECT from_iso8601_timestamp("time") AS v FROM session_start'),
    ('from_iso8601_timestamp_expires', 'SELECT from_iso8601_timestamp(identity_expires) AS v FROM cert_create'),
    ('from_iso8601_timestamp_year1', 'SELECT from_iso8601_timestamp(identity_prev_identity_expires) AS v FROM cert_create'),
    ('from_iso8601_timestamp_cmp', 'SELECT from_iso8601_timestamp(identity_expires) > event_time AS v FROM cert_create'),
    ('from_iso8601_date', 'SELECT from_iso8601_date(substr("time", 1, 10)) AS v FROM session_start'),
    ('hour', 'SELECT hour(event_time) AS v FROM session_start'),
    ('minute', 'SELECT minute(event_time) AS v FROM exec'),
    ('second', 'SELECT second(event_time) AS v FROM exec'),
    ('day_of_week', 'SELECT day_of_week(event_time) AS v FROM session_start'),
    ('dow', 'SELECT dow(event_date) AS v FROM exec'),
    ('day_of_year', 'SELECT day_of_year(event_time) AS v FROM exec'),
    ('year_month_day', 'SELECT year(event_time) AS y, month(event_time) AS m, day(event_time) AS d FROM exec'),
    ('week', 'SELECT week(event_date) AS v FROM exec'),
    ('quarter', 'SELECT quarter(event_time) AS v FROM exec'),
    ('extract_hour', 'SELECT extract(hour FROM event_time) AS v FROM user_login'),
    ('extract_dow', 'SELECT extract(dow FROM event_date) AS v FROM user_login'),
    ('cast_ts_date', 'SELECT CAST(event_time AS date) AS v FROM session_start'),
    ('date_fn', 'SELECT date(event_time) AS v FROM session_start'),
    ('last_day_of_month', 'SELECT last_day_of_month(event_date) AS v FROM session_start'),
    ('current_date_fact', "SELECT current_date >= DATE '2024-01-01' AS v FROM session_start"),
    ('current_date_after_event', 'SELECT event_date < current_date AS v FROM exec'),
    ('current_date_add', "SELECT date_add('day', 1, current_date) > current_date AS v FROM exec"),
    ('current_timestamp_fact', 'SELECT event_time < current_timestamp AS v FROM exec'),
    ('current_date_interval', "SELECT count(*) AS n FROM exec WHERE event_date > current_date - INTERVAL '3650' DAY"),
    ('interval_hour_cmp', "SELECT count(*) AS n FROM exec WHERE event_time > TIMESTAMP '2024-03-19 00:00:00' - INTERVAL '1' HOUR"),
    ('timestamp_literal', "SELECT event_time > TIMESTAMP '2024-03-19 12:00:00' AS v FROM session_start"),
    ('human_readable_seconds', "SELECT human_readable_seconds(date_diff('second', event_time, from_iso8601_timestamp(identity_expires))) AS v FROM cert_create"),
    # -- string and regex -------------------------------------------------------------------
    ('regexp_like_prefix', "SELECT regexp_like(login, '^r') AS v FROM session_start"),
    ('regexp_like_domain', 'SELECT count(*) AS n FROM session_start WHERE regexp_like("user", \'@example\\.com$\')'),
    ('regexp_like_alternation', "SELECT regexp_like(command, 'passwd|shadow|sudo') AS v FROM exec"),
    ('regexp_like_private_ip', "SELECT regexp_like(addr_remote, '^(10|172\\.(1[6-9]|2[0-9]|3[01])|192\\.168)\\.') AS v FROM session_start"),
    ('regexp_like_case', "SELECT regexp_like(login, '(?i)ROOT') AS v FROM session_start"),
    ('regexp_like_partial', "SELECT regexp_like(command, 'etc') AS v FROM exec"),
    ('regexp_extract_ip', "SELECT regexp_extract(addr_remote, '^([0-9.]+):', 1) AS v FROM session_start"),
    ('regexp_extract_domain', 'SELECT regexp_extract("user", \'@(.*)$\', 1) AS v FROM session_start'),
    ('regexp_extract_whole', "SELECT regexp_extract(command, '[a-z]+') AS v FROM exec"),
    ('regexp_extract_no_match', "SELECT regexp_extract(login, '[0-9]+') AS v FROM session_start"),
    ('regexp_extract_group_no_match', 'SELECT regexp_extract("user", \'^(zz)(.*)\', 2) AS v FROM session_start'),
    ('regexp_extract_all', "SELECT regexp_extract_all(command, '[a-z]+') AS v FROM exec"),
    ('regexp_extract_all_group', "SELECT regexp_extract_all(addr_remote, '([0-9]+)', 1) AS v FROM session_start"),
    ('regexp_replace_strip', 'SELECT regexp_replace("user", \'@.*$\', \'\') AS v FROM session_start'),
    ('regexp_replace_no_replacement', "SELECT regexp_replace(addr_remote, ':[0-9]+$') AS v FROM session_start"),
    ('regexp_replace_all', "SELECT regexp_replace(command, '[aeiou]', '*') AS v FROM exec"),
    ('regexp_replace_backref', 'SELECT regexp_replace("user", \'(\\w+)@(\\w+)\', \'$2:$1\') AS v FROM session_start'),
    ('regexp_count', "SELECT regexp_count(command, '/') AS v FROM exec"),
    ('regexp_position', 'SELECT regexp_position("user", \'@\') AS v FROM session_start'),
    ('regexp_split', "SELECT regexp_split(addr_remote, '[.:]') AS v FROM session_start"),
    ('split', "SELECT split(addr_remote, ':') AS v FROM session_start"),
    ('split_space', "SELECT split(command, ' ') AS v FROM exec"),
    ('split_subscript', 'SELECT split("user", \'@\')[1] AS v FROM session_start'),
    ('split_element_at', "SELECT element_at(split(addr_remote, ':'), 2) AS v FROM session_start"),
    ('split_cardinality', "SELECT cardinality(split(command, ' ')) AS v FROM exec"),
    ('split_part_ip', "SELECT split_part(addr_remote, ':', 1) AS v FROM session_start"),
    ('split_part_domain', 'SELECT split_part("user", \'@\', 2) AS v FROM session_start'),
    ('split_part_out_of_range', "SELECT split_part(addr_remote, ':', 5) AS v FROM session_start"),
    ('strpos', 'SELECT strpos("user", \'@\') AS v FROM session_start'),
    ('strpos_missing', "SELECT strpos(command, 'zzz') AS v FROM exec"),
    ('strpos_instance', "SELECT strpos(addr_remote, '.', 2) AS v FROM session_start"),
    ('position_in', 'SELECT position(\'@\' IN "user") AS v FROM session_start'),
    ('lower', 'SELECT lower("user") AS v FROM session_start'),
    ('upper', 'SELECT upper(login) AS v FROM session_start'),
    ('trim', "SELECT trim(concat('  ', login, '  ')) AS v FROM session_start"),
    ('ltrim_rtrim', "SELECT ltrim('  ' || login) AS l, rtrim(login || '  ') AS r FROM exec"),
    ('trim_chars', "SELECT trim(BOTH '/' FROM command) AS v FROM exec"),
    ('concat', "SELECT concat(login, '@', server_id) AS v FROM session_start"),
    ('concat_null', 'SELECT concat(login, impersonator) AS v FROM session_start'),
    ('concat_pipes', "SELECT login || '@' || addr_remote AS v FROM session_start"),
    ('concat_pipes_null', 'SELECT login || impersonator AS v FROM session_start'),
    ('concat_ws', "SELECT concat_ws('/', login, code, impersonator) AS v FROM session_start"),
    ('levenshtein_distance', "SELECT levenshtein_distance(login, 'root') AS v FROM session_start"),
    ('levenshtein_users', "SELECT count(*) AS n FROM session_start WHERE levenshtein_distance(lower(login), 'admin') <= 2"),
    ('hamming_distance', "SELECT hamming_distance(code, 'T2000I') AS v FROM session_start"),
    ('url_extract_host', "SELECT url_extract_host('https://' || cluster_name || ':3080/web/cluster') AS v FROM session_start"),
    ('url_extract_path', "SELECT url_extract_path('https://' || cluster_name || ':3080/web/cluster') AS v FROM session_start"),
    ('url_extract_port', "SELECT url_extract_port('https://' || cluster_name || ':3080/web') AS v FROM session_start"),
    ('url_extract_protocol', "SELECT url_extract_protocol('https://' || cluster_name || '/') AS v FROM session_start"),
    ('url_extract_parameter', "SELECT url_extract_parameter('https://x/?user=' || login || '&a=1', 'user') AS v FROM session_start"),
    ('url_encode', 'SELECT url_encode("user") AS v FROM session_start'),
    ('url_decode', 'SELECT url_decode(url_encode(command)) AS v FROM exec'),
    ('length', 'SELECT length(command) AS v FROM exec'),
    ('substr', 'SELECT substr(sid, 1, 8) AS v FROM session_start'),
    ('substr_negative', 'SELECT substr(addr_remote, -5) AS v FROM session_start'),
    ('substring_from_for', 'SELECT substring("user" FROM 1 FOR 5) AS v FROM session_start'),
    ('replace', 'SELECT replace("user", \'@\', \' at \') AS v FROM session_start'),
    ('replace_remove', "SELECT replace(addr_remote, '.') AS v FROM session_start"),
    ('reverse', 'SELECT reverse(login) AS v FROM session_start'),
    ('lpad', "SELECT lpad(login, 10, '*') AS v FROM session_start"),
    ('rpad_truncates', 'SELECT rpad("user", 5, \'.\') AS v FROM session_start'),
    ('starts_with', 'SELECT starts_with("user", \'a\') AS v FROM session_start'),
    ('like', "SELECT count(*) AS n FROM exec WHERE command LIKE '%/etc/%'"),
    ('like_escape', "SELECT count(*) AS n FROM session_start WHERE login LIKE 'r%' ESCAPE '\\'"),
    ('chr_codepoint', 'SELECT chr(codepoint(CAST(substr(login, 1, 1) AS varchar(1)))) AS v FROM session_start'),
    ('translate', "SELECT translate(login, 'o', '0') AS v FROM session_start"),
    ('to_hex_md5', 'SELECT lower(to_hex(md5(to_utf8("user")))) AS v FROM session_start'),
    ('to_hex_sha256', 'SELECT to_hex(sha256(to_utf8(login))) AS v FROM session_start'),
    ('format', "SELECT format('%s-%s', login, code) AS v FROM session_start"),
    ('coalesce_text', "SELECT coalesce(impersonator, login, 'none') AS v FROM session_start"),
    ('nullif', "SELECT nullif(login, 'root') AS v FROM session_start"),
    ('cast_int_varchar', 'SELECT CAST(ei AS varchar) AS v FROM session_start'),
    ('cast_ts_varchar', 'SELECT CAST(event_time AS varchar) AS v FROM session_start'),
    ('cast_date_varchar', 'SELECT CAST(event_date AS varchar) AS v FROM session_start'),
    ('try_cast_int', "SELECT try_cast(split_part(addr_remote, ':', 2) AS integer) AS v FROM session_start"),
    ('word_count_group', 'SELECT split_part("user", \'@\', 1) AS u, count(*) AS n FROM session_start GROUP BY 1'),
    ('normalize', 'SELECT normalize(login) AS v FROM session_start'),
    ('soundex', 'SELECT soundex(login) AS v FROM session_start'),
    # -- JSON -------------------------------------------------------------------------------
    ('json_extract_scalar_text', 'SELECT json_extract_scalar(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.login\') AS v FROM session_start'),
    ('json_extract_scalar_number', 'SELECT json_extract_scalar(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.n\') AS v FROM session_start'),
    ('json_extract_scalar_index', 'SELECT json_extract_scalar(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.tags[1]\') AS v FROM session_start'),
    ('json_extract_scalar_object', 'SELECT json_extract_scalar(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.tags\') AS v FROM session_start'),
    ('json_extract_scalar_missing', 'SELECT json_extract_scalar(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.nope\') AS v FROM session_start'),
    ('json_extract_scalar_bracket', 'SELECT json_extract_scalar(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$["user"]\') AS v FROM session_start'),
    ('json_extract_format', 'SELECT json_format(json_extract(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.tags\')) AS v FROM session_start'),
    ('json_extract_string_format', 'SELECT json_format(json_extract(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.login\')) AS v FROM session_start'),
    ('json_extract_cast_varchar', 'SELECT CAST(json_extract(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.login\') AS varchar) AS v FROM session_start'),
    ('json_extract_cast_array', 'SELECT CAST(json_extract(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.tags\') AS array(varchar)) AS v FROM session_start'),
    ('json_extract_cast_integer', 'SELECT CAST(json_extract(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.n\') AS integer) AS v FROM session_start'),
    ('json_format_object', 'SELECT json_format(json_parse(\'{"user":"\' || "user" || \'","login":"\' || login || \'"}\')) AS v FROM session_start'),
    ('json_parse_format', 'SELECT json_format(json_parse(\'["\' || login || \'", 1, true, null]\')) AS v FROM session_start'),
    ('json_parse_extract', 'SELECT json_extract_scalar(json_parse(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\'), \'$.user\') AS v FROM session_start'),
    ('json_array_contains', 'SELECT json_array_contains(\'["\' || login || \'", "x"]\', \'root\') AS v FROM session_start'),
    ('json_array_contains_cast', "SELECT json_array_contains(json_format(CAST(identity_roles AS json)), 'access') AS v FROM cert_create"),
    ('json_array_length', 'SELECT json_array_length(json_extract(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.tags\')) AS v FROM session_start'),
    ('json_array_get', 'SELECT json_format(json_array_get(json_extract(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.tags\'), 0)) AS v FROM session_start'),
    ('json_size', 'SELECT json_size(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.tags\') AS v FROM session_start'),
    ('cast_array_json', 'SELECT json_format(CAST(identity_logins AS json)) AS v FROM cert_create'),
    ('json_format_scalar', 'SELECT json_format(CAST(login AS json)) AS v FROM session_start'),
    ('is_json_scalar', 'SELECT is_json_scalar(json_extract(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.n\')) AS v FROM session_start'),
    ('json_where', 'SELECT count(*) AS n FROM session_start WHERE json_extract_scalar(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'$.login\') = \'root\''),
    ('json_extract_nested', 'SELECT json_extract_scalar(\'{"a":{"b":"\' || login || \'"}}\', \'$.a.b\') AS v FROM session_start'),
    ('json_extract_array_of_objects', 'SELECT json_extract_scalar(\'[{"u":"\' || login || \'"}]\', \'$[0].u\') AS v FROM session_start'),
    ('json_value', 'SELECT json_value(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'lax $.login\') AS v FROM session_start'),
    ('json_query', 'SELECT json_query(\'{"user":"\' || "user" || \'","login":"\' || login || \'","n":\' || CAST(ei AS varchar) || \',"tags":["a","b"]}\', \'lax $.tags\') AS v FROM session_start'),
]
# fmt: on

#: Cases the local engine stops while running, where a value would differ from Trino's (the
#: text of a JSON object: Trino sorts its keys), with the same kind of error as a refusal.
STOPPED_AT_RUN = {"json_format_object"}


def refusal(sql: str) -> str | None:
    """The local engine's refusal of `sql` (before anything runs), or None if it would run:
    the checks of rendering without a store, cheap enough for the summary line."""
    from accessmon.errors import QueryError
    from accessmon.sql.fidelity import refuse_unfaithful
    from accessmon.sql.transpile import with_views
    from accessmon.sql.validate import check_query

    checked = check_query(sql)
    try:
        refuse_unfaithful(checked.tree, sql=sql)
        with_views(checked.tree, {}, "duckdb")
    except QueryError as e:
        return str(e)
    return None


def summary() -> str:
    """One line for `make test`: how much of the corpus runs locally."""
    refused = sum(refusal(sql) is not None or case in STOPPED_AT_RUN for case, sql in CASES)
    return (
        f"function corpus (time/text/json): {len(CASES)} cases, "
        f"{len(CASES) - refused} local, {refused} refused"
    )
