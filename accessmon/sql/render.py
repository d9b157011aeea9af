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


def duckdb_shape(columns: Iterable[Column], checked: bool = True) -> dict:
    """The JSON structure of some view columns, nested as their JSON paths say."""
    shape: dict = {}
    for col in columns:
        if col.path is None:
            continue
        node = shape
        for key in col.path[:-1]:
            node = node.setdefault(key, {})
        # integers, booleans and doubles are read from their JSON text by Trino's rules: _exact
        text = checked and col.type in _CHECKED
        node[col.path[-1]] = "VARCHAR" if text else duckdb_json_type(col.type)
    return shape


def _shape_literal(columns: Iterable[Column], checked: bool = True) -> str:
    return quote_literal(json.dumps(duckdb_shape(columns, checked), separators=(",", ":")))


def duckdb_column(
    col: Column, parsed: str | None = None, guard: bool = True, checked: bool = True
) -> str:
    """One column with Athena's meaning (absent -> NULL, strings unquoted, typed), read from
    the struct `parsed` when the event was parsed once for all columns, else parsed for this
    column alone, so DuckDB skips the work for columns a query does not use. `guard` raises
    on a value the type cannot hold; `checked=False` (benchmarks only) is DuckDB's own typed
    json_transform, without Trino's rules or the guard."""
    if col.name == "event_date":
        return "event_date"
    if col.name == "event_time":
        return "CAST(event_time AS TIMESTAMP) AS event_time"
    access = "".join(f"[{quote_literal(k)}]" for k in col.path or ())
    source = parsed or f"json_transform(event_data, {_shape_literal([col], checked)})"
    if not checked:
        return f"{source}{access} AS {quote_ident(col.name)}"
    text = f"{source}{access}"
    value = _exact(col, text)
    if guard and col.type in _CHECKED:  # NULL from a value: the event is parsed once more
        value = (
            f"CASE WHEN {value} IS NULL AND {text} IS NOT NULL "
            f"THEN {_unfit_error(col, _raw(col))} ELSE {value} END"
        )
    return f"{value} AS {quote_ident(col.name)}"


#: Types whose cast on Athena fails the query on a value that does not fit (4294968064 as
#: integer), where DuckDB's json_transform gives NULL: DuckDB raises instead, naming the
#: column, so an out-of-range value never reads as a silent NULL.
_GUARDED = ("integer", "bigint")
#: With the integers, the types DuckDB's json_transform reads by other rules than Trino's
#: cast from JSON (`"yes"` as boolean true, `"inf"` as double infinity, `"1.5d"` as NULL,
#: 12.5 as integer 12 where Trino rounds to 13): all four are read from the JSON value's text
#: by Trino's rules (_exact), NULL where Trino's cast fails, which the guard then raises.
_EXACT = ("boolean", "double")
_CHECKED = _GUARDED + _EXACT
#: A JSON number's text, as DuckDB gives it (a double reformatted, a big one as written):
#: Trino reads a string of this form as it reads the number.
_JSON_NUMBER = r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?"
#: Java's Double.parseDouble, which Trino's cast of a JSON string to double uses, after its
#: trim of the characters up to U+0020. Hexadecimal floats (`0x1p3`) are left out: they read
#: as a failed cast, refused where Trino would give a value, never a different value.
_JAVA_DOUBLE = r"[+-]?(NaN|Infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[fFdD]?)"
_JAVA_TRIM = r"^[\x00-\x20]+|[\x00-\x20]+$"
#: The cache's column holding the JSON text of a guarded column's value that did not fit,
#: NULL where it fits: the cache is built without failing, and a query that reads the
#: column from the cache fails as one reading the JSON does.
UNFIT_PREFIX = "__unfit__"


def unfit_columns(view: View) -> tuple[str, ...]:
    """The columns of `view` that raise on a JSON value their type cannot hold."""
    return tuple(c.name for c in view.columns if c.path is not None and c.type in _CHECKED)


def _exact(col: Column, text: str) -> str:
    """An integer, bigint, boolean or double column's value as Trino's
    `CAST(json_extract(...) AS type)` gives it (checked on Trino 476), from `text`, the JSON
    value's text (a string unquoted); NULL where Trino's cast fails (or the value is absent
    or JSON null). Other types: `text` is their value already. Whether the value was a JSON
    string or number is asked (json_type) only where the answer depends on it: never for an
    integer, true, false or a JSON number of a double column."""
    kind = f"json_type(event_data, {quote_literal(_json_pointer(col.path or ()))})"
    java = f"regexp_replace({text}, {quote_literal(_JAVA_TRIM)}, '', 'g')"
    if col.type in _GUARDED:
        # an integer's own text reads as itself; a float rounds half away from zero; a string
        # is Java's parseInt/parseLong after the trim (ASCII digits: others are refused)
        typ = col.type.upper()
        return (
            f"CASE WHEN CAST(TRY_CAST({text} AS {typ}) AS VARCHAR) = {text} "
            f"THEN TRY_CAST({text} AS {typ}) "
            f"WHEN {text} IS NULL THEN NULL "
            f"WHEN regexp_full_match({text}, '-?[0-9]+') THEN TRY_CAST({text} AS {typ}) "
            f"WHEN {kind} = 'DOUBLE' THEN TRY_CAST(round(CAST({text} AS DOUBLE)) AS {typ}) "
            f"WHEN {kind} = 'BOOLEAN' THEN CAST({text} = 'true' AS {typ}) "
            f"WHEN {kind} = 'VARCHAR' AND regexp_full_match({java}, '[+-]?[0-9]+') "
            f"THEN TRY_CAST({java} AS {typ}) END"
        )
    if col.type == "boolean":
        # a number is true when not zero; an integer beyond bigint or an infinite float fails
        number = (
            f"CASE WHEN regexp_full_match({text}, '-?[0-9]+') THEN TRY_CAST({text} AS BIGINT) <> 0"
            f" WHEN NOT isinf(CAST({text} AS DOUBLE)) THEN CAST({text} AS DOUBLE) <> 0 END"
        )
        return (
            f"CASE WHEN {text} = 'true' THEN true WHEN {text} = 'false' THEN false "
            f"WHEN {text} IS NULL THEN NULL WHEN lower({text}) IN ('true', 't', '1') THEN true "
            f"WHEN lower({text}) IN ('false', 'f', '0') THEN false "
            f"WHEN {kind} IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN {number} END"
        )
    if col.type == "double":
        string = (
            f"CASE WHEN NOT regexp_full_match({java}, {quote_literal(_JAVA_DOUBLE)}) THEN NULL "
            f"WHEN ends_with({java}, 'NaN') THEN CAST('NaN' AS DOUBLE) "
            f"WHEN ends_with({java}, 'Infinity') THEN CASE WHEN starts_with({java}, '-') "
            "THEN CAST('-Infinity' AS DOUBLE) ELSE CAST('Infinity' AS DOUBLE) END "
            f"ELSE TRY_CAST(regexp_replace({java}, '[fFdD]$', '') AS DOUBLE) END"
        )
        return (
            f"CASE WHEN regexp_full_match({text}, {quote_literal(_JSON_NUMBER)}) "
            f"THEN CAST({text} AS DOUBLE) WHEN {text} IS NULL THEN NULL WHEN {kind} = 'BOOLEAN' "
            f"THEN CAST({text} = 'true' AS DOUBLE) "
            f"WHEN {kind} = 'VARCHAR' THEN {string} END"
        )
    return text


def _json_pointer(path: tuple[str, ...]) -> str:
    return "".join("/" + k.replace("~", "~0").replace("/", "~1") for k in path)


def _raw(col: Column) -> str:
    """The column's JSON value as text (NULL where absent or JSON null)."""
    return f"json_extract_string(event_data, {quote_literal(_json_pointer(col.path or ()))})"


def _unfit(col: Column, text: str) -> str:
    """The JSON text of the column's value where Trino's rules read `text` as NULL, else
    NULL (absent or JSON null: `text` is NULL, and the event is not parsed once more)."""
    return f"CASE WHEN {_exact(col, text)} IS NULL AND {text} IS NOT NULL THEN {_raw(col)} END"


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
    view: View,
    source: str,
    window: Window,
    parse_once: bool = False,
    raw: bool = False,
    checked: bool = True,
) -> str:
    """The view over `source`. Queries parse per column, like Teleport, so unused columns
    cost nothing; the cache, which needs every column, parses each event once. With `raw`,
    the hidden `event_data` column comes last (see sql.raw_event). `checked=False`: see
    duckdb_column (benchmarks only)."""
    where = (
        f" FROM {source} AS events WHERE event_type = {quote_literal(view.event_type)}"
        f" AND event_date BETWEEN DATE {quote_literal(window.start.isoformat())}"
        f" AND DATE {quote_literal(window.end.isoformat())}"
    )
    if not parse_once:  # parsed copies of times come from the cache only
        cols = [duckdb_column(c, guard=checked, checked=checked) for c in view.columns]
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
