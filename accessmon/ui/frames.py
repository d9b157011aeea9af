"""A query result, shown: cell text, HTML tables, byte sizes, column names, sort and chart picks.

The one place in the front ends that turns values into text: the CLI's JSON, CSV and tables
(`athena_text`, from Arrow types) and the Query Editor's results table (`cell_text`, from a
DataFrame) both format here. Pure functions, no widgets: pandas and plotly load on first call.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from accessmon.errors import AccessmonError
from accessmon.names import did_you_mean
from accessmon.reports import charts
from accessmon.text import (
    cell_text,
    date_text,
    decimal_text,
    double_text,
    human_bytes,
    is_listlike,
    millis_text,
    zone_text,
)

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from accessmon.result import QueryResult


# -- cells -----------------------------------------------------------------------------------


def athena_text(value: Any, typ: pa.DataType, nested: bool = False) -> str:
    """One value as Athena prints it (Trino's client text): NULL is the empty string, as in
    tctl's output, and `NULL` inside an array, map or row; maps `{T1000I=6, T2000I=3}`, arrays
    `[a, b]`, rows `{n=1, s=x}` (`{1, x}` unnamed), doubles as Java prints them (`1.0E7`)."""
    if value is None:
        return "NULL" if nested else ""
    if pa.types.is_timestamp(typ):
        text = millis_text(value)
        return f"{text} {zone_text(typ.tz)}" if typ.tz else text
    if pa.types.is_date(typ):
        return date_text(value)
    if pa.types.is_boolean(typ):
        return "true" if value else "false"
    if pa.types.is_floating(typ):
        return double_text(float(value), typ.bit_width)
    if pa.types.is_decimal(typ):
        return decimal_text(value)
    if pa.types.is_map(typ):
        return (
            "{"
            + ", ".join(
                f"{athena_text(k, typ.key_type, True)}={athena_text(v, typ.item_type, True)}"
                for k, v in value
            )
            + "}"
        )
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        return "[" + ", ".join(athena_text(v, typ.value_type, True) for v in value) + "]"
    if pa.types.is_struct(typ):
        fields = [(f.name, athena_text(value.get(f.name), f.type, True)) for f in typ]
        if [name for name, _ in fields] == [f"_{i}" for i in range(len(fields))]:
            return "{" + ", ".join(text for _, text in fields) + "}"  # ROW(1, 'x'): unnamed
        return "{" + ", ".join(f"{name}={text}" for name, text in fields) + "}"
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


#: The results grid sorts and searches in the browser, so it gets at most this many rows:
#: enough for any result an analyst reads, never millions shipped to the browser.
GRID_ROWS = 5000


def grid_frame(frame: pd.DataFrame, limit: int = GRID_ROWS) -> pd.DataFrame:
    """The first `limit` rows as the grid shows them: times as text with their zone, arrays
    and maps as text; numbers stay numbers, so the grid right-aligns and sorts them."""
    import pandas as pd

    head = frame.iloc[:limit]
    out = {}
    for column in head.columns:
        values = head[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            out[column] = values.map(time_text)
        elif values.dtype == "float32":  # a real: its own shortest digits, 0.1 as on Trino
            out[column] = values.map(lambda v: float(double_text(float(v), 32)))
        elif pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            out[column] = values.map(
                lambda v: time_text(v) if isinstance(v, dt.datetime) else cell_text(v)
            )
        else:
            out[column] = values
    return pd.DataFrame(out, index=range(len(head)), columns=list(head.columns))


def time_text(moment: Any) -> str:
    """`2024-03-20 12:12:03.374 UTC`: a time with its zone; naive times are UTC in the store."""
    if moment is None or type(moment).__name__ == "NaTType":
        return ""
    zone = zone_text(moment.tzinfo) if moment.tzinfo is not None else "UTC"
    return f"{millis_text(moment)} {zone}"


def row_json(frame: pd.DataFrame, position: int) -> str:
    """One whole row as JSON, for the analyst who opens it: every column, nothing cut, and
    `event_data` (or any JSON text) expanded, so the raw event reads as a document."""
    row = frame.iloc[position]
    doc = {str(name): _json_value(value) for name, value in row.items()}
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str)


def _json_value(value: Any) -> Any:
    if value is None or type(value).__name__ == "NaTType":
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dt.datetime):
        return time_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if is_listlike(value):
        return [_json_value(v) for v in value]
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


# -- sizes and statistics ----------------------------------------------------------------------


def stats_text(result: QueryResult) -> str:
    """`12 rows in 35 ms`, plus the bytes scanned on Athena (where they cost money), or on
    Trino the bytes read and the query id, as Trino's own UI words them."""
    rows = len(result)
    stats = result.stats
    text = f"{rows} row{'s' if rows != 1 else ''} in {stats.elapsed_ms} ms"
    if stats.engine == "trino":
        text += f", {human_bytes(stats.data_scanned_bytes)} read, query {stats.query_execution_id}"
    elif stats.engine != "duckdb":
        text += f", {human_bytes(stats.data_scanned_bytes)} scanned"
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
