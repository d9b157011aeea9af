"""The one place the front ends turn values into text: cells, HTML tables, sizes, names."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from accessmon.errors import AccessmonError
from accessmon.text import cell_text, html_table, human_bytes, millis_text
from accessmon.ui.frames import (
    athena_text,
    chart_defaults,
    need_column,
    sort_frame,
    text_rows,
)

MOMENT = dt.datetime(2024, 3, 20, 12, 12, 3, 374999)


def test_timestamps_to_the_millisecond_in_both_formatters():
    assert millis_text(MOMENT) == "2024-03-20 12:12:03.374"
    assert cell_text(pd.Timestamp(MOMENT)) == "2024-03-20 12:12:03.374"
    assert athena_text(MOMENT, pa.timestamp("ms")) == "2024-03-20 12:12:03.374"
    assert athena_text(MOMENT, pa.timestamp("ms", tz="UTC")) == "2024-03-20 12:12:03.374 UTC"


@pytest.mark.parametrize(
    ("value", "typ", "text"),
    [
        (None, pa.string(), ""),
        (True, pa.bool_(), "true"),
        (dt.date(2024, 3, 20), pa.date32(), "2024-03-20"),
        (["a", "b"], pa.list_(pa.string()), "[a, b]"),
        ({"x": 1, "y": None}, pa.struct([("x", pa.int64()), ("y", pa.string())]), "{x=1, y=NULL}"),
        # issue 17: the text Trino's client shows (and Athena returns), checked on a real
        # Trino by tests/trino/test_text.py
        ([("T1000I", 6), ("T2000I", 3)], pa.map_(pa.string(), pa.int64()), "{T1000I=6, T2000I=3}"),
        ({"_0": 1, "_1": "x"}, pa.struct([("_0", pa.int32()), ("_1", pa.string())]), "{1, x}"),
        ([None, "x"], pa.list_(pa.string()), "[NULL, x]"),
        (dt.datetime(1, 1, 1), pa.timestamp("us", tz="UTC"), "0001-01-01 00:00:00.000 UTC"),
        (dt.date(1, 1, 1), pa.date32(), "0001-01-01"),
        (1.5, pa.float64(), "1.5"),
        (100.0, pa.float64(), "100.0"),
        (1e7, pa.float64(), "1.0E7"),
        (12345678.9, pa.float64(), "1.23456789E7"),
        (1e-4, pa.float64(), "1.0E-4"),
        (0.001, pa.float64(), "0.001"),
        (-2.5e-10, pa.float64(), "-2.5E-10"),
        (0.0, pa.float64(), "0.0"),
        (float("nan"), pa.float64(), "NaN"),
        (float("-inf"), pa.float64(), "-Infinity"),
        (
            dt.timedelta(days=1, seconds=3723, microseconds=5000),
            pa.duration("ms"),
            "1 01:02:03.005",
        ),
    ],
)
def test_athena_text(value, typ, text):
    assert athena_text(value, typ) == text


def test_text_rows_honour_column_types():
    table = pa.table({"ok": [True, None], "n": [1, 2]})
    assert list(text_rows(table)) == [["true", "1"], ["", "2"]]


def test_cell_text_of_dataframe_cells():
    assert cell_text(float("nan")) == "" and cell_text(pd.NaT) == "" and cell_text(None) == ""
    assert cell_text({"a": [1, 2], "b": None}) == "{a=[1, 2], b=NULL}"  # a row, as Athena
    assert cell_text([("T1000I", 6), ("T2000I", 3)]) == "{T1000I=6, T2000I=3}"  # a map
    assert cell_text([None, "x"]) == "[NULL, x]"
    assert cell_text(dt.datetime(1, 1, 1)) == "0001-01-01 00:00:00.000"
    assert cell_text(dt.date(1, 1, 1)) == "0001-01-01"
    assert cell_text(dt.date(2024, 3, 20)) == "2024-03-20"


def test_html_table_escapes_names_and_cells():
    out = html_table(["<b>"], [["<script>alert(1)</script>"]], "am-results")
    assert "<script>" not in out and "&lt;script&gt;" in out and "<th>&lt;b&gt;</th>" in out
    assert out.startswith('<table class="am-results">')


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KB"),
        (3 * 1024**2, "3.0 MB"),
        (2 * 1024**5, "2048.0 TB"),
    ],
)
def test_human_bytes(n, text):
    assert human_bytes(n) == text


def test_sort_frame_sorts_lists_by_their_text_and_keeps_nulls_last():
    frame = pd.DataFrame({"roles": [["b"], None, ["a", "z"]]})
    assert sort_frame(frame, "roles")["roles"].tolist() == [["a", "z"], ["b"], None]


def test_need_column_suggests_the_closest_name():
    with pytest.raises(
        AccessmonError, match=r"sort: no column usr in the result \(did you mean user\?\)"
    ):
        need_column(pd.DataFrame({"user": []}), "usr", "sort")
    assert chart_defaults(pd.DataFrame()) == {"x": None, "y": None, "color": None}
