"""at_timezone values and reals on the local engine, printed as Trino prints them in every
front end (issue 17); Trino's own text for the same values is checked in
tests/trino/test_text.py and tests/trino/test_corpus_time_text.py."""

from __future__ import annotations

import datetime as dt
import struct
import zoneinfo

import pytest

from accessmon.errors import QueryError
from accessmon.text import double_text, zone_text
from accessmon.ui.frames import grid_frame, row_json, text_rows
from accessmon.window import Window
from tests.conftest import EVENT

WINDOW = Window.between(dt.date(2024, 3, 19), dt.date(2024, 3, 21))


@pytest.fixture
def session(make_store):
    return make_store([EVENT, {**EVENT, "uid": "u-2", "time": "2024-03-20T23:30:00.5Z"}])


def _texts(session, sql: str) -> list[list[str]]:
    return sorted(text_rows(session.run(sql, WINDOW).table))


def test_at_timezone_prints_its_zones_name_in_the_cli_and_the_grid(session):
    sql = (
        "SELECT uid, at_timezone(event_time, 'Europe/Berlin') AS berlin, "
        "event_time AT TIME ZONE 'Asia/Tokyo' AS tokyo, at_timezone(event_time, 'Etc/UTC') AS utc "
        "FROM session_start ORDER BY uid"
    )
    assert _texts(session, sql) == [
        ["u-1", "2024-03-20 13:12:03.374 Europe/Berlin", "2024-03-20 21:12:03.374 Asia/Tokyo",
         "2024-03-20 12:12:03.374 UTC"],
        ["u-2", "2024-03-21 00:30:00.500 Europe/Berlin", "2024-03-21 08:30:00.500 Asia/Tokyo",
         "2024-03-20 23:30:00.500 UTC"],
    ]  # fmt: skip
    frame = session.run(sql, WINDOW).to_pandas()
    grid = grid_frame(frame)
    assert grid["berlin"].tolist() == [
        "2024-03-20 13:12:03.374 Europe/Berlin", "2024-03-21 00:30:00.500 Europe/Berlin"]  # fmt: skip
    assert '"tokyo": "2024-03-20 21:12:03.374 Asia/Tokyo"' in row_json(frame, 0)


def test_at_timezone_keeps_its_instant_and_its_wall_time_where_they_are_read(session):
    sql = (
        "SELECT max(at_timezone(event_time, 'Europe/Berlin')) AS latest, "
        "max(hour(at_timezone(event_time, 'Europe/Berlin'))) AS h, "
        "max(to_unixtime(at_timezone(event_time, 'Europe/Berlin'))) AS u, "
        "max(CAST(at_timezone(event_time, 'Europe/Berlin') AS varchar)) AS t, "
        "max(to_iso8601(at_timezone(event_time, 'America/St_Johns'))) AS iso, "
        "count_if(at_timezone(event_time, 'Europe/Berlin') > TIMESTAMP '2024-03-20 23:00:00') AS n "
        "FROM session_start"
    )
    assert _texts(session, sql) == [[
        "2024-03-21 00:30:00.500 Europe/Berlin", "13", "1.7109774005E9",
        "2024-03-21 00:30:00.500 Europe/Berlin", "2024-03-20T21:00:00.500-02:30", "1",
    ]]  # fmt: skip


def test_a_star_before_at_timezone_keeps_the_zone_on_the_last_column(session):
    result = session.run(
        "SELECT *, at_timezone(event_time, 'Europe/Berlin') AS berlin FROM session_start", WINDOW
    )
    assert result.table.schema.field("berlin").type.tz == "Europe/Berlin"
    assert result.table.schema.field("event_time").type.tz is None  # timestamp(3), as on Trino


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT at_timezone(event_time, login) FROM session_start",
         "at_timezone with a zone that is not a constant is not available on the local engine"),
        ("SELECT at_timezone(event_time, 'CET') FROM session_start",
         "at_timezone with zone 'CET' is not available on the local engine; use a region name"),
        ("SELECT b FROM (SELECT at_timezone(event_time, 'Europe/Berlin') AS b FROM session_start)",
         "at_timezone here (its value would not show its zone as on Trino)"),
        ("SELECT date_trunc('hour', event_time AT TIME ZONE 'Europe/Berlin') FROM session_start",
         "AT TIME ZONE under date_trunc, date_add or an interval here"),
        ("SELECT date_diff('day', at_timezone(event_time, 'Europe/Berlin'), current_timestamp) "
         "FROM session_start", "date_diff in days of at_timezone values"),
        ("SELECT *, at_timezone(event_time, 'UTC'), * FROM session_start",
         "at_timezone between two `*`"),
        ("SELECT CAST(CAST(ei AS real) AS varchar) FROM session_start",
         "CAST of a real to varchar is not available on the local engine"),
    ],
)  # fmt: skip
def test_uses_that_would_lose_the_zone_are_refused_before_running(session, sql, message):
    with pytest.raises(QueryError, match=r"--engine athena$") as e:
        session.prepare(sql, WINDOW)
    assert message in str(e.value)


def test_reals_print_their_own_shortest_digits(session):
    sql = (
        "SELECT CAST(0.1 AS real) AS a, CAST(0.1 AS real) + CAST(0.2 AS real) AS b, "
        "CAST(1e7 AS real) AS c, ARRAY[CAST(1e-4 AS real), NULL] AS d, "
        "avg(CAST(1 AS real) / 3) AS e, sum(CAST(0.1 AS real)) AS f, sign(CAST(-2 AS real)) AS g "
        "FROM session_start"
    )
    assert _texts(session, sql) == [
        ["0.1", "0.3", "1.0E7", "[1.0E-4, NULL]", "0.33333334", "0.2", "-1.0"]
    ]
    grid = grid_frame(session.run(sql, WINDOW).to_pandas())
    assert grid["a"].tolist() == [0.1] and grid["e"].tolist() == [0.33333334]


def _real(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.1, "0.1"), (1e-4, "1.0E-4"), (123456.789, "123456.79"), (1 / 3, "0.33333334"),
     (16777217, "1.6777216E7"), (3.4e38, "3.4E38"), (1.4e-45, "1.4E-45"), (-0.0, "-0.0"),
     (9999999, "9999999.0"), (0.001, "0.001"), (2 / 3, "0.6666667")],
)  # fmt: skip
def test_real_text_is_javas_float_to_string(value, text):
    assert double_text(_real(value), 32) == text  # as Trino 476 printed each of them


def test_double_text_is_unchanged_and_gives_two_digits_at_the_least():
    assert [double_text(v) for v in (1.5, 1e7, 1e-4, 0.1 + 0.2, 5e-324)] == [
        "1.5", "1.0E7", "1.0E-4", "0.30000000000000004", "4.9E-324"]  # fmt: skip


def test_zone_text_names_regions_and_utc():
    assert zone_text(zoneinfo.ZoneInfo("Europe/Berlin")) == "Europe/Berlin"
    assert zone_text(dt.UTC) == "UTC" and zone_text("UTC") == "UTC"
