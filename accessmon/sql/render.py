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


def duckdb_column(col: Column, parsed: str | None = None, guard: bool = True) -> str:
    """One column with Athena's meaning (absent -> NULL, strings unquoted, typed), read from
    the struct `parsed` when the event was parsed once for all columns, else parsed for this
    column alone, so DuckDB skips the work for columns a query does not use."""
    if col.name == "event_date":
        return "event_date"
    if col.name == "event_time":
        return "CAST(event_time AS TIMESTAMP) AS event_time"
    access = "".join(f"[{quote_literal(k)}]" for k in col.path or ())
    source = parsed or f"json_transform(event_data, {_shape_literal([col])})"
    value = f"{source}{access}"
    if guard and col.type in _GUARDED:
        raw = _raw(col)
        value = (
            f"CASE WHEN {value} IS NULL AND {raw} IS NOT NULL "
            f"THEN {_unfit_error(col, raw)} ELSE {value} END"
        )
    return f"{value} AS {quote_ident(col.name)}"


#: Types whose cast on Athena fails the query on a value that does not fit (4294968064 as
#: integer), where DuckDB's json_transform gives NULL: DuckDB raises instead, naming the
#: column, so an out-of-range value never reads as a silent NULL.
_GUARDED = ("integer", "bigint")
#: The cache's column holding the JSON text of a guarded column's value that did not fit,
#: NULL where it fits: the cache is built without failing, and a query that reads the
#: column from the cache fails as one reading the JSON does.
UNFIT_PREFIX = "__unfit__"


def unfit_columns(view: View) -> tuple[str, ...]:
    """The columns of `view` that raise on a JSON value their type cannot hold."""
    return tuple(c.name for c in view.columns if c.path is not None and c.type in _GUARDED)


def _json_pointer(path: tuple[str, ...]) -> str:
    return "".join("/" + k.replace("~", "~0").replace("/", "~1") for k in path)


def _raw(col: Column) -> str:
    """The column's JSON value as text (NULL where absent or JSON null)."""
    return f"json_extract_string(event_data, {quote_literal(_json_pointer(col.path or ()))})"


def _unfit(col: Column, value: str) -> str:
    """The JSON text of the column's value where `value` reads it as NULL, else NULL."""
    return f"CASE WHEN {value} IS NULL THEN {_raw(col)} END"


def _unfit_error(col: Column, text: str) -> str:
    """Trino's message (`Cannot cast '4294968064' to integer`), naming the column too."""
    after = quote_literal(f"' to {col.type} in view column {col.name}")
    before = quote_literal("Cannot cast '")
    return f"error({before} || {text} || {after})"


def duckdb_unfit_guard(view: View) -> str:
    """`REPLACE (...)` for rows read from the cache: each guarded column raises where the
    cache kept the text of a value that did not fit."""
    items = []
    for name in unfit_columns(view):
        col, hidden = view.column(name), quote_ident(UNFIT_PREFIX + name)
        items.append(
            f"CASE WHEN {hidden} IS NOT NULL THEN {_unfit_error(col, hidden)} "
            f"ELSE {quote_ident(name)} END AS {quote_ident(name)}"
        )
    return f"REPLACE ({', '.join(items)})" if items else ""


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


def duckdb_view(
    view: View, source: str, window: Window, parse_once: bool = False, raw: bool = False
) -> str:
    """The view over `source`. Queries parse per column, like Teleport, so unused columns
    cost nothing; the cache, which needs every column, parses each event once. With `raw`,
    the hidden `event_data` column comes last (see sql.raw_event)."""
    where = (
        f" FROM {source} AS events WHERE event_type = {quote_literal(view.event_type)}"
        f" AND event_date BETWEEN DATE {quote_literal(window.start.isoformat())}"
        f" AND DATE {quote_literal(window.end.isoformat())}"
    )
    if not parse_once:  # parsed copies of times come from the cache only
        cols = [duckdb_column(c) for c in view.columns]
        cols += [f"CAST(NULL AS TIMESTAMP) AS {quote_ident(INSTANT_PREFIX + name)}"
                 for name in view.instant_columns]  # fmt: skip
        cols += ["event_data"] if raw else []
        return f"SELECT {', '.join(cols)}{where}"
    cols = ", ".join(duckdb_column(c, "j", guard=False) for c in view.columns)
    for name in unfit_columns(view):  # raised when a query reads the column: see above
        col = view.column(name)
        value = "j" + "".join(f"[{quote_literal(k)}]" for k in col.path or ())
        cols += f", {_unfit(col, value)} AS {quote_ident(UNFIT_PREFIX + name)}"
    for name in view.instant_columns:  # NULL where the text is no time: see engines.duckdb
        instant = duckdb_utc_instant(quote_ident(name), cast="TRY_CAST")
        cols += f", {instant} AS {quote_ident(INSTANT_PREFIX + name)}"
    parsed = f"json_transform(event_data, {_shape_literal(view.columns)}) AS j"
    return f"SELECT {cols} FROM (SELECT event_date, event_time, event_data, {parsed}{where})"


# -- Athena / Trino -------------------------------------------------------------------------


def trino_column(col: Column) -> str:
    if col.path is None:
        return col.name
    path = quote_literal(col.json_path or "")
    return f"CAST(json_extract(event_data, {path}) AS {col.type}) AS {quote_ident(col.name)}"


def trino_view(view: View, table: str, window: Window, raw: bool = False) -> str:
    """Teleport's view body, with explicit dates so Athena prunes partitions; with `raw`,
    the hidden `event_data` column comes last (see sql.raw_event)."""
    cols = ", ".join([*(trino_column(c) for c in view.columns), *(["event_data"] if raw else [])])
    return (
        f"SELECT {cols} FROM {table}"
        f" WHERE event_type = {quote_literal(view.event_type)}"
        f" AND event_date BETWEEN DATE {quote_literal(window.start.isoformat())}"
        f" AND DATE {quote_literal(window.end.isoformat())}"
    )
