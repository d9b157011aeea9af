"""A query result, shown: cell text, HTML tables, byte sizes, column names, sort and chart picks.

The one place in the front ends that turns values into text: the CLI's JSON, CSV and tables
(`athena_text`, from Arrow types) and the Query Editor's results table (`cell_text`, from a
DataFrame) both format here. Pure functions, no widgets: pandas and plotly load on first call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from accessmon.errors import AccessmonError
from accessmon.names import did_you_mean
from accessmon.reports import charts
from accessmon.text import cell_text, html_table, human_bytes, millis_text

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from accessmon.result import QueryResult


# -- cells -----------------------------------------------------------------------------------


def athena_text(value: Any, typ: pa.DataType) -> str:
    """One value as Athena prints it; NULL is the empty string, as in tctl's output."""
    if value is None:
        return ""
    if pa.types.is_timestamp(typ):
        text = millis_text(value)
        return text + " UTC" if typ.tz else text
    if pa.types.is_date(typ):
        return value.isoformat()
    if pa.types.is_boolean(typ):
        return "true" if value else "false"
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        return "[" + ", ".join(athena_text(v, typ.value_type) for v in value) + "]"
    if pa.types.is_struct(typ):
        return (
            "{" + ", ".join(f"{f.name}={athena_text(value.get(f.name), f.type)}" for f in typ) + "}"
        )
    if isinstance(value, dt.timedelta):
        days, rest = value.days, value - dt.timedelta(days=value.days)
        h, rem = divmod(int(rest.total_seconds()), 3600)
        m, s = divmod(rem, 60)
        return f"{days} {h:02d}:{m:02d}:{s:02d}.{rest.microseconds // 1000:03d}"
    return str(value)


def text_rows(table: pa.Table) -> Iterable[list[str]]:
    """Rows of strings, column types honoured, without going through pandas."""
    types = [f.type for f in table.schema]
    for batch in table.to_batches():
        columns = [col.to_pylist() for col in batch.columns]
        for row in zip(*columns, strict=True):
            yield [athena_text(v, t) for v, t in zip(row, types, strict=True)]


def table_html(frame: pd.DataFrame) -> str:
    """An escaped HTML table of a page of rows."""
    return html_table(frame.columns, frame.itertuples(index=False, name=None), "am-results")


# -- sizes and statistics ----------------------------------------------------------------------


def stats_text(result: QueryResult) -> str:
    """`12 rows in 35 ms`, plus the bytes scanned on Athena, where they cost money."""
    rows = len(result)
    text = f"{rows} row{'s' if rows != 1 else ''} in {result.stats.elapsed_ms} ms"
    if result.stats.engine == "athena":
        text += f", {human_bytes(result.stats.data_scanned_bytes)} scanned"
    return text


# -- columns, sort and charts --------------------------------------------------------------------


def unique_names(names: Any) -> list[str]:
    """Column names made unique (`id`, `id_2`): `SELECT *` over a join repeats names, and
    sorting, charting and Parquet readers need each column to have its own."""
    taken: set[str] = set()
    out = []
    for name in map(str, names):
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}_{n}"
        taken.add(candidate)
        out.append(candidate)
    return out


def need_column(frame: pd.DataFrame, column: str | None, role: str) -> None:
    """Refuse a column the result does not have, with the closest name as a suggestion."""
    if column is not None and column not in frame.columns:
        names = [str(c) for c in frame.columns]
        raise AccessmonError(
            f"{role}: no column {column} in the result{did_you_mean(column, names, n=1)}"
        )


def sort_frame(frame: pd.DataFrame, column: str, ascending: bool = True) -> pd.DataFrame:
    """A stable sort, nulls last; list-valued columns sort by their text."""
    kwargs = {"ascending": ascending, "kind": "stable", "na_position": "last"}
    try:
        return frame.sort_values(column, **kwargs)
    except (TypeError, ValueError):  # arrays, dicts and mixed types do not compare
        return frame.sort_values(column, key=lambda s: s.map(cell_text), **kwargs)


def chart_defaults(frame: pd.DataFrame) -> dict[str, str | None]:
    """Sensible first picks: x the date (or first column), y the first number, color a label."""
    import pandas as pd

    columns = [str(c) for c in frame.columns]
    if not columns:
        return {"x": None, "y": None, "color": None}
    x = "event_date" if "event_date" in columns else columns[0]
    numeric = [c for c in columns if c != x and pd.api.types.is_numeric_dtype(frame[c])]
    y = numeric[0] if numeric else None
    labels = [
        c
        for c in columns
        if c not in (x, y) and not pd.api.types.is_numeric_dtype(frame[c]) and y is not None
    ]
    return {"x": x, "y": y, "color": labels[0] if labels else None}


def chart_figure(
    frame: pd.DataFrame,
    kind: str = "bar",
    x: str | None = None,
    y: str | None = None,
    color: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Pure: a DataFrame in, a plotly Figure out (bar, line, scatter or pie)."""
    if x is None:
        raise AccessmonError("choose the chart's x column")
    for role, column in (("x", x), ("y", y), ("color", color)):
        need_column(frame, column, f"chart {role}")
    try:
        return charts.figure(frame, kind, x, y, color, title)
    except (ValueError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AccessmonError(f"cannot draw a {kind} chart of these columns: {first}") from e
