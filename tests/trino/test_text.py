"""The text of values (issue 17, point 2): `accessmon query exec` prints tctl's JSON of
strings, and each string must be the text Athena returns for the value.

The oracle is Trino's own CLI on the same SQL (the Athena SQL accessmon renders): Athena
returns the strings a Trino client shows, which for scalars is `CAST(x AS varchar)`'s text
except doubles (Java's `Double.toString`: `1.5`, `1.0E7`, where the cast gives `1.5E0`), and
for arrays, maps and rows the client's text (`[a, b]`, `{T1000I=6}`, `{n=1, s=x}`, `NULL`
inside them). Compared: accessmon's CLI, run as a subprocess, against Trino's CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.trino import cli
from tests.trino.conftest import END

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FROM = "2024-03-16"

#: alias -> expression; every family the text of values covers, literal and from the views.
CASES = {
    # maps (a histogram's order is the engine's own: compared as a set of entries)
    "histogram": "(SELECT histogram(code) FROM user_login WHERE code IN ('T1000I', 'T1001W'))",
    "map": "map(ARRAY['T1000I', 'T2000I'], ARRAY[6, 3])",
    # arrays
    "array": "ARRAY['a', 'b, c']",
    "array_null": "ARRAY[NULL, 'x']",
    "view_array": "(SELECT identity_roles FROM cert_create WHERE uid = 'cert_create-full')",
    "array_of_rows": "(SELECT resource_ids FROM access_request_create"
    " WHERE uid = 'access_request_create-full')",
    "array_of_times": "ARRAY[TIMESTAMP '2024-03-20 12:12:03.374']",
    # rows
    "row": "CAST(ROW(1, 'x') AS ROW(n integer, s varchar))",
    "row_null": "CAST(ROW(1, NULL) AS ROW(n integer, s varchar))",
    "row_unnamed": "ROW(1, 2.5e0)",
    # timestamps and dates, year 1 included
    "timestamp": "TIMESTAMP '2024-03-20 12:12:03.374'",
    "event_time": "(SELECT max(event_time) FROM session_start)",
    "expires": "(SELECT from_iso8601_timestamp(identity_expires) FROM cert_create"
    " WHERE uid = 'cert_create-full')",
    "year_1": "from_iso8601_timestamp('0001-01-01T00:00:00Z')",
    "prev_expires": "(SELECT from_iso8601_timestamp(identity_prev_identity_expires)"
    " FROM cert_create WHERE uid = 'cert_create-full')",
    "date": "(SELECT max(event_date) FROM session_start)",
    "date_year_1": "DATE '0001-01-01'",
    # timestamps with a time zone carry its name (at_timezone, AT TIME ZONE)
    "at_timezone": "at_timezone(TIMESTAMP '2024-03-20 12:12:03.374', 'Europe/Berlin')",
    "at_time_zone": "TIMESTAMP '2024-07-20 12:12:03.374' AT TIME ZONE 'America/New_York'",
    "at_timezone_utc": "at_timezone(TIMESTAMP '2024-03-20 12:12:03.374', 'Etc/UTC')",
    "at_timezone_max": "max(at_timezone(TIMESTAMP '2024-03-20 23:12:03.374', 'Asia/Tokyo'))",
    "at_timezone_text": "CAST(at_timezone(TIMESTAMP '2024-03-20 12:12:03.374', 'Asia/Kolkata')"
    " AS varchar)",
    "at_timezone_iso": "to_iso8601(at_timezone(from_iso8601_timestamp('2024-03-20T12:12:03.374Z'),"
    " 'America/St_Johns'))",
    # booleans
    "true": "true",
    "false": "(SELECT bool_and(success) FROM user_login)",
    # doubles
    "double": "1.5e0",
    "double_big": "1e7",
    "double_small": "1e-4",
    "double_whole": "100e0",
    "double_sum": "0.1e0 + 0.2e0",
    "double_third": "1 / 3e0",
    "double_avg": "(SELECT avg(response_code) FROM kube_request)",
    # JSON (Trino writes json_parse's keys sorted, json_extract's as in the text) and decimals
    "json_object": """json_parse('{"b":1,"a":[{"d":1,"c":2}]}')""",
    "json_extracted": """json_extract('{"o":{"b":1, "a":2.50}}', '$.o')""",
    "decimal_div": "7.0 / 2",
    "decimal_scale": "round(2.35, 1)",
    "decimal_small": "0.0000001",
    # reals: a 32-bit float's shortest digits
    "real": "CAST(0.1 AS real)",
    "real_sum": "CAST(0.1 AS real) + CAST(0.2 AS real)",
    "real_big": "CAST(1e7 AS real)",
    "real_small": "CAST(1e-4 AS real)",
    "real_third": "CAST(1 AS real) / 3",
    "real_array": "ARRAY[CAST(0.1 AS real), NULL]",
    "real_avg": "(SELECT avg(CAST(response_code AS real) / 7) FROM kube_request)",
    # a bracketed IPv6 host
    "url_ipv6": "url_extract_host('https://[::1]:3080/x')",
    # integers, text, NULL
    "bigint": "(SELECT max(cgroup_id) FROM session_command)",
    "count": "(SELECT count(*) FROM user_login)",
    "varchar": "'x'",
    "null": "CAST(NULL AS varchar)",
}
UNORDERED_MAPS = {"histogram"}
SQL = "SELECT " + ", ".join(f'{e} AS "{a}"' for a, e in CASES.items())


def _entries(text: str) -> list[str]:
    return sorted(text.strip("{}").split(", "))


def test_query_exec_prints_each_value_as_athena_returns_it(
    trino, trino_store, athena_session, tmp_path
):
    out = subprocess.run(
        [sys.executable, "-m", "accessmon", "query", "exec", "--store", str(trino_store),
         "--from", FROM, "--to", END.isoformat(), "--format", "json", SQL],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**os.environ, "PYTHONPATH": REPO, "ACCESSMON_USER": "analyst"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    header, *rows = [obj["data"] for obj in json.loads(out.stdout)]
    assert header == list(CASES) and len(rows) == 1
    mine = dict(zip(header, rows[0], strict=True))

    from accessmon.window import Window

    window = Window.between(FROM, END)
    _, _, athena_sql = athena_session.prepare(SQL, window)
    theirs_header, theirs_row = cli.tsv(trino, athena_sql)
    assert theirs_header == list(CASES)
    theirs = dict(zip(theirs_header, theirs_row, strict=True))

    differ = {}
    for alias in CASES:
        a, b = mine[alias], theirs[alias]
        if alias in UNORDERED_MAPS:
            a, b = _entries(a), _entries(b)
        if a != b:
            differ[alias] = (a, b)
    assert not differ, f"accessmon vs Trino: {differ}"
    # the cases the issue names, spelled out
    assert theirs["year_1"] == "0001-01-01 00:00:00.000 UTC"
    assert mine["map"] == "{T1000I=6, T2000I=3}"
    assert mine["at_timezone"] == "2024-03-20 13:12:03.374 Europe/Berlin"
    assert mine["real"] == "0.1" and mine["url_ipv6"] == "[::1]"


@pytest.fixture(scope="module", autouse=True)
def _cli_jar():
    try:
        cli.jar()
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.fail(f"Trino's CLI could not be fetched through Maven: {e}", pytrace=False)
