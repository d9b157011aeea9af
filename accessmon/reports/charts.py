"""Charts are pure: a DataFrame in, a plotly Figure out, so they render the same everywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    import plotly.express as px

    if kind not in KINDS:
        raise AccessmonError(f"chart kind must be one of {', '.join(KINDS)}, not {kind!r}")
    data = df.copy()
    if y is not None and y in data:
        data[y] = pd.to_numeric(data[y], errors="coerce")
    if color is not None and color in data:
        data[color] = data[color].astype("string").fillna("(none)")
    extra = {"custom_data": custom_data} if custom_data else {}
    if kind == "pie":
        fig = px.pie(data, names=x, values=y, title=title, **extra)
    elif kind == "bar":
        fig = px.bar(data, x=x, y=y, color=color, title=title, **extra)
        fig.update_layout(barmode="stack")
    elif kind == "line":
        fig = px.line(data, x=x, y=y, color=color, title=title, markers=True, **extra)
    else:
        fig = px.scatter(data, x=x, y=y, color=color, title=title, **extra)
    if x == "event_date" and kind != "pie":
        fig.update_xaxes(type="date", tickformat="%Y-%m-%d")
    fig.update_layout(template="plotly_white", legend_title_text=color or "", margin={"t": 50})
    return fig
