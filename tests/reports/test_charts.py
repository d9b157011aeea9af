"""The charts give the traces plotly express gives (names, order, points, hover text,
custom data), without express's cost; plotly.js gets a template it understands."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import plotly.express as px
import pytest

from accessmon.errors import AccessmonError
from accessmon.reports.charts import figure

FRAME = pd.DataFrame(
    {
        "event_date": [dt.date(2024, 3, d) for d in (19, 19, 20, 21, 21)],
        "user": ["bob", "alice", "bob", None, "alice"],
        "count": [3, 1, 2, 5, 4],
        "_finding": ["f-1", "f-2", "f-1", "f-3", "f-2"],
    }
)


def _traces(fig) -> list[dict]:
    """Each trace as plotly.js receives it, arrays decoded, only what both ways set."""
    keys = ("type", "name", "x", "y", "customdata", "hovertemplate", "mode", "labels", "values")
    out = []
    for trace in json.loads(fig.to_json())["data"]:
        out.append({k: _plain(trace[k]) for k in keys if k in trace})
    return out


def _plain(value):
    if isinstance(value, dict) and "bdata" in value:  # plotly 6's typed arrays
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return value


@pytest.mark.parametrize("kind", ["bar", "line", "scatter"])
def test_traces_are_express_traces(kind):
    ours = figure(FRAME, kind, "event_date", "count", "user", custom_data=["_finding"])
    data = FRAME.assign(user=FRAME["user"].astype("string").fillna("(none)"))
    make = {"bar": px.bar, "line": px.line, "scatter": px.scatter}[kind]
    extra = {"markers": True} if kind == "line" else {}
    theirs = make(data, x="event_date", y="count", color="user", custom_data=["_finding"], **extra)
    assert _traces(ours) == _traces(theirs)
    assert [t["name"] for t in _traces(ours)] == ["bob", "alice", "(none)"]  # first seen first


def test_a_pie_and_charts_without_y_or_color_are_express_charts():
    known = FRAME.dropna()
    pie = px.pie(known, names="user", values="count")
    assert _traces(figure(known, "pie", "user", "count")) == _traces(pie)
    assert _traces(figure(FRAME, "bar", "user")) == _traces(px.bar(FRAME, x="user"))
    line = px.line(FRAME, x="user", markers=True)
    assert _traces(figure(FRAME, "line", "user")) == _traces(line)


def test_the_layout_is_a_stacked_white_chart_plotly_js_can_draw():
    layout = json.loads(figure(FRAME, "bar", "event_date", "count", "user", "T").to_json())[
        "layout"
    ]
    assert layout["barmode"] == "stack" and layout["title"]["text"] == "T"
    assert layout["template"]["layout"]["plot_bgcolor"] == "white"  # the object, not a name
    assert layout["xaxis"]["type"] == "date" and layout["legend"]["title"]["text"] == "user"


def test_an_unknown_kind_or_column_is_refused():
    with pytest.raises(AccessmonError, match="chart kind must be one of bar, line"):
        figure(FRAME, "donut", "user")
    with pytest.raises(ValueError, match="no column 'nope'"):
        figure(FRAME, "bar", "nope")
