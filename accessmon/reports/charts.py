"""Charts are pure: a DataFrame in, a plotly Figure out, so they render the same everywhere.

The traces are plain dicts, one per color group, as plotly express would build them, put in
a Figure without plotly's per-property validation: express, or validated graph objects, cost
about a second a figure of forty users (most of a report's rendering time); this, about a
twentieth (`make bench --only charts`)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from accessmon.errors import AccessmonError

if TYPE_CHECKING:
    import pandas as pd
    from plotly.graph_objects import Figure

KINDS = ("bar", "line", "scatter", "pie")


def figure(
    df: pd.DataFrame,
    kind: str = "bar",
    x: str | None = None,
    y: str | None = None,
    color: str | None = None,
    title: str | None = None,
    custom_data: list[str] | None = None,
) -> Figure:
    """A stacked bar (Teleport's report chart), line, scatter or pie of a result.

    `custom_data` columns ride along with each point (the report puts a finding's anchor
    there, for its drill-down) and are not shown."""
    import pandas as pd
    import plotly.graph_objects as go

    if kind not in KINDS:
        raise AccessmonError(f"chart kind must be one of {', '.join(KINDS)}, not {kind!r}")
    for column in (x, y, color, *(custom_data or [])):
        if column is not None and column not in df:
            raise ValueError(f"no column {column!r} in the result")
    data = df.copy()
    if y is not None:
        data[y] = pd.to_numeric(data[y], errors="coerce")
    if color is not None:
        data[color] = data[color].astype("string").fillna("(none)")
    if kind == "pie":
        traces = [_pie(data, x, y, custom_data)]
    else:
        traces = _traces(kind, data, x, y, color, custom_data)
    layout: dict[str, Any] = {
        "template": _template(),
        "title": {"text": title},
        "legend": {"title": {"text": color or ""}, "tracegroupgap": 0},
        "margin": {"t": 50},
    }
    if kind == "bar":
        layout["barmode"] = "stack"
    if kind != "pie":
        layout["xaxis"] = {"title": {"text": x}}
        layout["yaxis"] = {"title": {"text": y or ("count" if kind == "bar" else "index")}}
        if x == "event_date":
            layout["xaxis"] |= {"type": "date", "tickformat": "%Y-%m-%d"}
    return go.Figure(data=traces, layout=layout, _validate=False)


@cache
def _template() -> dict:
    """plotly_white as plotly.js needs it (a name alone is understood by plotly.py only)."""
    import plotly.io as pio

    return pio.templates["plotly_white"].to_plotly_json()


def _traces(
    kind: str,
    data: pd.DataFrame,
    x: str | None,
    y: str | None,
    color: str | None,
    custom_data: list[str] | None,
) -> list[dict]:
    """One trace per color group, in order of first appearance, with the hover text express
    gives; columns are sliced as arrays once, not per group through pandas."""
    import numpy as np
    import pandas as pd

    n = len(data)
    xs = data[x].to_numpy() if x else np.arange(n)
    if y is not None:
        ys = data[y].to_numpy()
    else:  # express: bars of one per row (stacked into a count), else the row's position
        ys = np.ones(n, dtype=int) if kind == "bar" else np.arange(n)
    extra = data[custom_data].to_numpy() if custom_data else None
    if color:
        codes, names = pd.factorize(data[color], sort=False)
        groups = [(str(name), codes == i) for i, name in enumerate(names)]
    else:
        groups = [("", np.ones(n, dtype=bool))]
    y_name = y or ("count" if kind == "bar" else "index")
    traces = []
    for name, rows in groups:
        hover = ([f"{color}={name}"] if color else []) + [
            f"{x or 'index'}=%{{x}}",
            f"{y_name}=%{{y}}",
        ]
        trace = {
            "type": "bar" if kind == "bar" else "scatter",
            "x": xs[rows],
            "y": ys[rows],
            "name": name,
            "legendgroup": name,
            "showlegend": bool(color),
            "hovertemplate": "<br>".join(hover) + "<extra></extra>",
        }
        if extra is not None:
            trace["customdata"] = extra[rows]
        if kind != "bar":
            trace["mode"] = "lines+markers" if kind == "line" else "markers"
        traces.append(trace)
    return traces


def _pie(data: pd.DataFrame, x: str | None, y: str | None, custom_data: list[str] | None) -> dict:
    hover = [f"{x}=%{{label}}"] + ([f"{y}=%{{value}}"] if y else [])
    trace: dict[str, Any] = {
        "type": "pie",
        "name": "",
        "hovertemplate": "<br>".join(hover) + "<extra></extra>",
    }
    if x:
        trace["labels"] = data[x].to_numpy()
    if y:
        trace["values"] = data[y].to_numpy()
    if custom_data:
        trace["customdata"] = data[custom_data].to_numpy()
    return trace
