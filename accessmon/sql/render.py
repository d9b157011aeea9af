"""Render the view table as SQL, once, for each dialect.

DuckDB reads the store's Parquet files directly; Athena reads Teleport's table
the way Teleport does (`CAST(json_extract(event_data, '$["x"]') AS type)`), but
only for the views a query uses and only over the window's partitions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from accessmon.sql.views import Column, View
from accessmon.window import Window

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


def duckdb_json_type(typ: str) -> object:
    """A Trino type as DuckDB json_transform's structure: `array(varchar)` -> ["VARCHAR"]."""
    if typ in _DUCK_SCALARS:
        return _DUCK_SCALARS[typ]
    if typ == "array(varchar)":
        return ["VARCHAR"]
    if fields := _row_fields(typ):
        return [{name: _DUCK_SCALARS[t] for name, t in fields}]
    raise ValueError(f"no DuckDB rendering for type {typ}")  # the view table uses only these


def duckdb_shape(columns: Iterable[Column]) -> dict:
    """The JSON structure of some view columns, nested as their JSON paths say."""
    shape: dict = {}
    for col in columns:
        if col.path is None:
            continue
        node = shape
        for key in col.path[:-1]:
            node = node.setdefault(key, {})
        node[col.path[-1]] = duckdb_json_type(col.type)
    return shape


def _shape_literal(columns: Iterable[Column]) -> str:
    return quote_literal(json.dumps(duckdb_shape(columns), separators=(",", ":")))


def duckdb_column(col: Column, parsed: str | None = None) -> str:
    """One column with Athena's meaning (absent -> NULL, strings unquoted, typed), read from
    the struct `parsed` when the event was parsed once for all columns, else parsed for this
    column alone, so DuckDB skips the work for columns a query does not use."""
    if col.name == "event_date":
        return "event_date"
    if col.name == "event_time":
        return "CAST(event_time AS TIMESTAMP) AS event_time"
    access = "".join(f"[{quote_literal(k)}]" for k in col.path or ())
    source = parsed or f"json_transform(event_data, {_shape_literal([col])})"
    return f"{source}{access} AS {quote_ident(col.name)}"


#: The cache's column holding a view column's time, parsed (never a view column itself).
INSTANT_PREFIX = "__instant__"


def duckdb_utc_instant(text: str, cast: str = "CAST") -> str:
    """The instant an RFC 3339 string names, as a UTC TIMESTAMP cut to the millisecond (Trino's
    timestamp(3)). Strings ending in `Z` take DuckDB's plain timestamp parser, several times
    faster than the zone-aware one, which still reads strings with an offset."""
    return (
        f"CASE WHEN ends_with({text}, 'Z') "
        f"THEN date_trunc('millisecond', {cast}({text} AS TIMESTAMP)) "
        f"ELSE date_trunc('millisecond', CAST({cast}({text} AS TIMESTAMPTZ) AS TIMESTAMP)) END"
    )


def duckdb_empty_events() -> str:
    """A window without files: the right columns and no rows."""
    return (
        "(SELECT CAST(NULL AS DATE) AS event_date, CAST(NULL AS TIMESTAMPTZ) AS event_time, "
        "CAST(NULL AS VARCHAR) AS event_type, CAST(NULL AS VARCHAR) AS event_data WHERE false)"
    )


def duckdb_view(view: View, source: str, window: Window, parse_once: bool = False) -> str:
    """The view over `source`. Queries parse per column, like Teleport, so unused columns
    cost nothing; the cache, which needs every column, parses each event once."""
    where = (
        f" FROM {source} AS events WHERE event_type = {quote_literal(view.event_type)}"
        f" AND event_date BETWEEN DATE {quote_literal(window.start.isoformat())}"
        f" AND DATE {quote_literal(window.end.isoformat())}"
    )
    if not parse_once:  # parsed copies of times come from the cache only
        cols = [duckdb_column(c) for c in view.columns]
        cols += [f"CAST(NULL AS TIMESTAMP) AS {quote_ident(INSTANT_PREFIX + name)}"
                 for name in view.instant_columns]  # fmt: skip
        return f"SELECT {', '.join(cols)}{where}"
    cols = ", ".join(duckdb_column(c, "j") for c in view.columns)
    for name in view.instant_columns:  # NULL where the text is no time: see engines.duckdb
        instant = duckdb_utc_instant(quote_ident(name), cast="TRY_CAST")
        cols += f", {instant} AS {quote_ident(INSTANT_PREFIX + name)}"
    parsed = f"json_transform(event_data, {_shape_literal(view.columns)}) AS j"
    return f"SELECT {cols} FROM (SELECT event_date, event_time, {parsed}{where})"


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
