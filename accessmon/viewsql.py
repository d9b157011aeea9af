"""Render the view table as SQL, once, for each dialect.

DuckDB reads the store's Parquet files directly; Athena reads Teleport's table
the way Teleport does (`CAST(json_extract(event_data, '$["x"]') AS type)`), but
only for the views a query uses and only over the window's partitions.
"""

from __future__ import annotations

import re

from .views import Column, View
from .window import Window

_ROW = re.compile(r"^array\(row\((.*)\)\)$")


def quote_literal(value: str) -> str:
    """The one place a value becomes a SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _row_fields(typ: str) -> list[tuple[str, str]]:
    m = _ROW.match(typ)
    if not m:
        return []
    return [tuple(f.strip().split(" ", 1)) for f in m.group(1).split(",")]  # type: ignore[misc]


# -- DuckDB -------------------------------------------------------------------------------

_DUCK_SCALARS = {
    "varchar": "VARCHAR",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
}


def _duck_path(col: Column) -> str:
    return quote_literal("$" + "".join(f'."{k}"' for k in col.path or ()))


def duckdb_column(col: Column) -> str:
    """DuckDB expression with Athena's meaning: absent -> NULL, strings unquoted, typed."""
    if col.name == "event_date":
        return "event_date"
    if col.name == "event_time":
        return "CAST(event_time AS TIMESTAMP) AS event_time"
    path = _duck_path(col)
    if col.type == "varchar":
        expr = f"event_data ->> {path}"
    elif col.type in _DUCK_SCALARS:
        expr = f"TRY_CAST(event_data ->> {path} AS {_DUCK_SCALARS[col.type]})"
    elif col.type == "array(varchar)":
        expr = f"json_transform(event_data -> {path}, '[\"VARCHAR\"]')"
    elif fields := _row_fields(col.type):
        shape = ",".join(f'"{n}":"{_DUCK_SCALARS[t]}"' for n, t in fields)
        expr = f"json_transform(event_data -> {path}, '[{{{shape}}}]')"
    else:  # pragma: no cover - the view table only uses the types above
        raise ValueError(f"no DuckDB rendering for type {col.type}")
    return f"{expr} AS {quote_ident(col.name)}"


def duckdb_empty_events() -> str:
    """A window without files: the right columns and no rows."""
    return (
        "(SELECT CAST(NULL AS DATE) AS event_date, CAST(NULL AS TIMESTAMPTZ) AS event_time, "
        "CAST(NULL AS VARCHAR) AS event_type, CAST(NULL AS VARCHAR) AS event_data WHERE false)"
    )


def duckdb_view(view: View, source: str, window: Window) -> str:
    cols = ", ".join(duckdb_column(c) for c in view.columns)
    return (
        f"SELECT {cols} FROM {source} AS events"
        f" WHERE event_type = {quote_literal(view.event_type)}"
        f" AND event_date BETWEEN DATE {quote_literal(window.start.isoformat())}"
        f" AND DATE {quote_literal(window.end.isoformat())}"
    )


# -- Athena / Trino -------------------------------------------------------------------------


def trino_column(col: Column) -> str:
    if col.path is None:
        return col.name
    path = quote_literal(col.json_path or "")
    return f"CAST(json_extract(event_data, {path}) AS {col.type}) AS {quote_ident(col.name)}"


def trino_view(view: View, table: str, window: Window) -> str:
    """Teleport's view body, with explicit dates so Athena prunes partitions."""
    cols = ", ".join(trino_column(c) for c in view.columns)
    return (
        f"SELECT {cols} FROM {table}"
        f" WHERE event_type = {quote_literal(view.event_type)}"
        f" AND event_date BETWEEN DATE {quote_literal(window.start.isoformat())}"
        f" AND DATE {quote_literal(window.end.isoformat())}"
    )
