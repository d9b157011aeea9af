"""Trino's date/time, string/regex and JSON functions, made to give Trino's answers on DuckDB.

Each function in TRANSFORMS rewrites one sqlglot node (Trino as parsed) into DuckDB's
equivalent where sqlglot's own translation differs from Trino; NOT_LOCAL names the functions
DuckDB has no faithful rewrite for, with what an analyst can write instead (the query is then
refused before it runs, see fidelity.py). A call that cannot be rewritten faithfully (a Joda
pattern letter without a strftime twin, a pattern that is not a constant) is refused too,
never passed on with another meaning.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps

import sqlglot
from sqlglot import exp

from accessmon.errors import QueryError
from accessmon.sql import trino_reals, trino_urls, trino_zones

#: Trino function (lower case) -> what to write instead on the local engine.
NOT_LOCAL: dict[str, str] = {
    "human_readable_seconds": "use date_diff and concat",
    "soundex": "compare with levenshtein_distance(a, b)",
    "json_size": "use json_array_length(json_extract(j, path))",
    "json_array_get": "use json_extract(j, '$[0]')",
    "json_value": "use json_extract_scalar(j, '$.key')",
    "json_query": "use json_extract(j, '$.key')",
    "regexp_position": "use strpos(s, sub) or regexp_like",
    "url_extract_parameter": "use regexp_extract(url, '[?&]name=([^&#]*)', 1)",
    "url_extract_query": "use split_part(url, '?', 2)",
    "url_extract_fragment": "use split_part(url, '#', 2)",
}


def refuse(name: str, alternative: str) -> QueryError:
    """The error for a call the local engine cannot answer as Trino would."""
    return QueryError(
        f"{name} is not available on the local engine; {alternative} or --engine athena"
    )


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _duck(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="duckdb")


def _anon(node: exp.Expression, name: str) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower() == name


# -- Joda patterns (format_datetime, parse_datetime) ------------------------------------------

#: Joda letter runs with an exact strftime twin (English names, as Trino's default locale).
_JODA = {
    "yyyy": "%Y", "YYYY": "%Y", "yy": "%y", "MMMM": "%B", "MMM": "%b", "MM": "%m", "M": "%-m",
    "dd": "%d", "d": "%-d", "HH": "%H", "H": "%-H", "hh": "%I", "h": "%-I", "mm": "%M",
    "m": "%-M", "ss": "%S", "s": "%-S", "SSS": "%g", "SSSSSS": "%f", "EEEE": "%A", "EEE": "%a",
    "E": "%a", "a": "%p", "DDD": "%j",
}  # fmt: skip


def joda_to_strftime(pattern: str, function: str, alternative: str) -> str:
    """A Joda-Time pattern as a DuckDB strftime pattern, or a refusal naming the letter."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'" and pattern[i + 1 : i + 2] == "'":  # '' is a quote
            out.append("'")
            i += 2
            continue
        if ch == "'":  # quoted text, where '' is a quote too
            j, text = i + 1, []
            while j < len(pattern) and not (pattern[j] == "'" and pattern[j + 1 : j + 2] != "'"):
                text.append(pattern[j])
                j += 2 if pattern[j] == "'" else 1
            if j >= len(pattern):
                raise refuse(function, f"the pattern {pattern!r} has an open quote; {alternative}")
            out.append("".join(text).replace("%", "%%"))
            i = j + 1
            continue
        if ch.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == ch:
                j += 1
            run = pattern[i:j]
            if run not in _JODA:
                raise refuse(
                    f"{function} with pattern letter {run!r}",
                    f"{alternative} (letters translated: {' '.join(_JODA)})",
                )
            out.append(_JODA[run])
            i = j
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


def _pattern(node: exp.Expression | None, function: str, alternative: str) -> str:
    if not isinstance(node, exp.Literal) or not node.is_string:
        raise refuse(f"{function} with a pattern that is not a constant", alternative)
    return joda_to_strftime(node.this, function, alternative)


def _format_datetime(node: exp.Expression) -> exp.Expression:
    """format_datetime(ts, 'yyyy-MM-dd') -> strftime(ts, '%Y-%m-%d')."""
    if not _anon(node, "format_datetime") or len(node.expressions) != 2:
        return node
    ts, pattern = node.expressions
    fmt = _pattern(pattern, "format_datetime", "use date_format(ts, '%Y-%m-%d')")
    return _call("strftime", ts.copy(), exp.Literal.string(fmt))


def _parse_datetime(node: exp.Expression) -> exp.Expression:
    """parse_datetime(s, Joda) -> strptime(s, strftime pattern); Trino gives a UTC instant."""
    if not isinstance(node, exp.ParseDatetime):
        return node
    fmt = _pattern(node.args.get("format"), "parse_datetime", "use date_parse(s, '%Y-%m-%d')")
    parsed = exp.StrToTime(this=node.this.copy(), format=exp.Literal.string(fmt))
    return exp.Cast(this=parsed, to=exp.DataType.build("TIMESTAMPTZ"))  # prints `... UTC`


# -- time zones and ISO 8601 -----------------------------------------------------------------


def is_date(node: exp.Expression | None) -> bool:
    """Expressions Trino types as DATE, recognised without a full type pass: the partition
    column, DATE literals and casts, current_date, and interval arithmetic, date_add or
    date_trunc on those (on Trino they keep a DATE a DATE)."""
    if isinstance(node, exp.Column):
        return node.name.lower() == "event_date"
    if isinstance(node, exp.Cast | exp.TryCast):
        return node.to.is_type(exp.DataType.Type.DATE)
    if isinstance(node, exp.CurrentDate | exp.Date | exp.DateFromParts | exp.TsOrDsToDate):
        return True
    if isinstance(node, exp.Add | exp.Sub):
        return isinstance(node.expression, exp.Interval) and is_date(node.this)
    if isinstance(node, exp.DateAdd | exp.DateSub | exp.DateTrunc | exp.TimestampTrunc):
        return is_date(node.this)
    if isinstance(node, exp.Paren):
        return is_date(node.this)
    return False


_UTC_INSTANTS = (exp.FromISO8601Timestamp, exp.UnixToTime, exp.CurrentTimestamp, exp.ParseDatetime)


def _kind(node: exp.Expression) -> str | None:
    """'date', 'timestamp' (Trino's zone-less timestamp(3)) or 'utc' (with time zone UTC), as
    far as it is known without a type pass."""
    if is_date(node):
        return "date"
    if isinstance(node, exp.Paren):
        return _kind(node.this)
    if isinstance(node, exp.Column) and node.name.lower() == "event_time":
        return "timestamp"
    if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.TIMESTAMP):
        precision = [p.this.this for p in node.to.expressions]  # TIMESTAMP '12:12:03' is (0)
        return "timestamp" if precision in ([], [3], ["3"]) else None
    if isinstance(node, exp.StrToTime | exp.TimestampTrunc | exp.DateTrunc | exp.DateAdd):
        return _kind(node.this) if not isinstance(node, exp.StrToTime) else "timestamp"
    if isinstance(node, exp.Add | exp.Sub) and isinstance(node.expression, exp.Interval):
        return _kind(node.this)
    if isinstance(node, _UTC_INSTANTS):
        return "utc"
    return None


_ISO = {"date": "%Y-%m-%d", "timestamp": "%Y-%m-%dT%H:%M:%S.%g", "utc": "%Y-%m-%dT%H:%M:%S.%gZ"}


def _to_iso8601(node: exp.Expression) -> exp.Expression:
    """to_iso8601: `2024-03-19T19:39:26.676` for a timestamp, with `Z` for a UTC instant."""
    if not _anon(node, "to_iso8601") or len(node.expressions) != 1:
        return node
    (value,) = node.expressions
    if (zoned := trino_zones.iso8601(value)) is not None:
        return zoned
    kind = _kind(value)
    if kind is None:
        raise refuse(
            "to_iso8601 of this expression",
            "use date_format(ts, '%Y-%m-%dT%H:%i:%s.%f') on a timestamp column",
        )
    return _call("strftime", value.copy(), exp.Literal.string(_ISO[kind]))


def _timestamp_text(node: exp.Expression) -> exp.Expression:
    """CAST(ts AS varchar): Trino always shows the milliseconds, DuckDB drops `.000`."""
    if (
        isinstance(node, exp.Cast)
        and node.to.is_type(*exp.DataType.TEXT_TYPES)
        and _kind(node.this) == "timestamp"
    ):
        return _call("strftime", node.this.copy(), exp.Literal.string("%Y-%m-%d %H:%M:%S.%g"))
    return node


def _extract_dow(node: exp.Expression) -> exp.Expression:
    """extract(dow ...) is ISO on Trino (Monday 1 .. Sunday 7); DuckDB's dow starts at Sunday 0."""
    if isinstance(node, exp.Extract) and node.this.name.upper() in ("DOW", "DAY_OF_WEEK"):
        return exp.DayOfWeekIso(this=node.expression.copy())
    return node


def _millisecond(node: exp.Expression) -> exp.Expression:
    """millisecond(ts) is the second's milliseconds on Trino, DuckDB's counts the seconds too."""
    if not _anon(node, "millisecond") or len(node.expressions) != 1:
        return node
    if (fresh := _fresh(node, exp.Anonymous)) is None:
        return node
    return exp.Paren(this=exp.Mod(this=fresh, expression=exp.Literal.number(1000)))


# -- strings and regular expressions ---------------------------------------------------------


def _fresh(node: exp.Expression, kind: type[exp.Expression]) -> exp.Expression | None:
    """A copy of `node`, marked so it is not rewritten again, if it is a `kind` no rewrite
    here made; else None."""
    if not isinstance(node, kind) or node.meta.get("trino_time"):
        return None
    node = node.copy()
    node.meta["trino_time"] = True
    return node


def _when(condition: exp.Expression, value: exp.Expression) -> exp.Expression:
    """CASE WHEN condition THEN value END: NULL where Trino gives NULL."""
    return exp.Case(ifs=[exp.If(this=condition, true=value)])


def _regexp_extract(node: exp.Expression) -> exp.Expression:
    """No match is NULL on Trino and '' on DuckDB."""
    if (fresh := _fresh(node, exp.RegexpExtract)) is None:
        return node
    return _when(exp.RegexpLike(this=node.this.copy(), expression=node.expression.copy()), fresh)


def _java_replacement(text: str) -> str:
    """Java's `$1` and `\\$` in a replacement, as RE2's `\\1` and `$`."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append("\\\\" if nxt == "\\" else nxt)
            i += 2
        elif ch == "$" and i + 1 < len(text) and text[i + 1].isdigit():
            out.append("\\" + text[i + 1])
            i += 2
        elif ch == "$":
            raise refuse("regexp_replace with a named group", "use $1, $2 ...")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _regexp_replace(node: exp.Expression) -> exp.Expression:
    if not isinstance(node, exp.RegexpReplace) or node.meta.get("trino_time"):
        return node
    replacement = node.args.get("replacement")
    if replacement is None:
        return node
    if not (isinstance(replacement, exp.Literal) and replacement.is_string):
        raise refuse(
            "regexp_replace with a replacement that is not a constant", "use a literal text"
        )
    node = node.copy()
    node.meta["trino_time"] = True
    node.set("replacement", exp.Literal.string(_java_replacement(replacement.this)))
    return node


def _split_part(node: exp.Expression) -> exp.Expression:
    """A field past the last is NULL on Trino and '' on DuckDB."""
    if not isinstance(node, exp.SplitPart):
        return node
    index = node.args.get("part_index")
    if not (isinstance(index, exp.Literal) and not index.is_string and int(index.this) > 0):
        raise refuse("split_part with an index that is not a positive constant", "use split(s, d)")
    parts = _call("string_split", node.this.copy(), node.args["delimiter"].copy())
    return _call("list_extract", parts, index.copy())


def _strpos(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.StrPosition) and node.args.get("occurrence") is not None:
        raise refuse("strpos with an instance", "use strpos(s, sub) or split(s, sub)")
    return node


_PRINTF = re.compile(r"%(?:%|s|d)")


def _format(node: exp.Expression) -> exp.Expression:
    """Trino's format is Java's; DuckDB's is fmt's ({}); printf agrees on %s, %d and %%."""
    if not isinstance(node, exp.Format):
        return node
    pattern = node.this
    plain = isinstance(pattern, exp.Literal) and pattern.is_string
    if not plain or "%" in _PRINTF.sub("", pattern.this):
        raise refuse("format with this pattern", "use only %s, %d and %% in a constant pattern")
    text = [  # Java's %s of NULL is 'null'
        exp.Coalesce(
            this=exp.Cast(this=e.copy(), to=exp.DataType.build("VARCHAR")),
            expressions=[exp.Literal.string("null")],
        )
        for e in node.expressions
    ]
    return _call("printf", exp.Literal.string(pattern.this.replace("%d", "%s")), *text)


def _renamed(node: exp.Expression) -> exp.Expression:
    """Same meaning, another name on DuckDB."""
    if _anon(node, "hamming_distance"):
        return _call("hamming", *(e.copy() for e in node.expressions))
    if _anon(node, "codepoint") and len(node.expressions) == 1:
        return _call("unicode", node.expressions[0].copy())
    if isinstance(node, exp.Normalize) and not node.args.get("form"):
        return _call("nfc_normalize", node.this.copy())
    return node


# -- JSON --------------------------------------------------------------------------------------


def _json_extract_scalar(node: exp.Expression) -> exp.Expression:
    """json_extract_scalar of an object or array is NULL on Trino; DuckDB's ->> gives its text."""
    if (fresh := _fresh(node, exp.JSONExtractScalar)) is None:
        return node
    kind = _call("json_type", node.this.copy(), node.expression.copy())
    scalar = exp.Not(this=exp.In(this=kind, expressions=[
        exp.Literal.string("OBJECT"), exp.Literal.string("ARRAY")]))  # fmt: skip
    return _when(scalar, fresh)


_JSON_OBJECT_GUARD = (
    "json_format of a JSON object is not available on the local engine (Trino sorts its "
    "keys); use json_extract_scalar for each key or --engine athena"
)


def _json_format(node: exp.Expression) -> exp.Expression:
    """Trino's JSON keeps object keys sorted, DuckDB's keeps them as written: the text of an
    array or scalar is the same, an object's stops the query with an error, never differs."""
    if not isinstance(node, exp.JSONFormat) or node.meta.get("trino_time"):
        return node
    node = node.copy()
    node.meta["trino_time"] = True
    j = node.this.sql("duckdb")
    guard = _duck(
        f"json_type(json({j})) = 'OBJECT' OR (json_type(json({j})) = 'ARRAY' "
        f"AND contains(CAST(json({j}) AS VARCHAR), '{{'))"
    )
    error = _call("error", exp.Literal.string(_JSON_OBJECT_GUARD))
    return exp.Case(ifs=[exp.If(this=guard, true=error)], default=node)


def _json_cast_text(node: exp.Expression) -> exp.Expression:
    """CAST(json_extract(x, p) AS varchar) is the JSON value's text on Trino, not its JSON."""
    if (
        isinstance(node, exp.Cast)
        and node.to.is_type(*exp.DataType.TEXT_TYPES)
        and isinstance(node.this, exp.JSONExtract)
        and not node.this.args.get("json_query")
    ):
        extract = node.this
        return exp.JSONExtractScalar(this=extract.this.copy(), expression=extract.expression.copy())
    return node


def _json_functions(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.JSONArrayContains):
        j, value = node.this.sql("duckdb"), node.expression.sql("duckdb")
        return _duck(
            f"CASE WHEN json_type(json({j})) = 'ARRAY' THEN list_contains("
            f"CAST(json({j}) -> '$[*]' AS VARCHAR[]), CAST(to_json({value}) AS VARCHAR)) END"
        )
    if _anon(node, "is_json_scalar") and len(node.expressions) == 1:
        (j,) = (e.sql("duckdb") for e in node.expressions)
        return _duck(f"json_type(json({j})) NOT IN ('OBJECT', 'ARRAY')")
    if (
        isinstance(node, exp.Cast)
        and node.to.is_type(exp.DataType.Type.JSON)
        and not node.meta.get("trino_time")
    ):
        return _call("to_json", node.this.copy())  # Trino's CAST of text to JSON is a JSON string
    return node


Transform = Callable[[exp.Expression], exp.Expression]


def _deep(fn: Transform) -> Transform:
    """sqlglot's transform does not visit the children of a node it replaced: visit them here,
    so a call nested in the same kind of call is rewritten too."""

    @wraps(fn)
    def run(node: exp.Expression) -> exp.Expression:
        new = fn(node)
        if new is node:
            return node
        for child in list(new.iter_expressions()):
            done = child.transform(run, copy=False)
            if done is not child:
                child.replace(done)
        return new

    return run


#: The rewrites, tried in this order on each node.
_STEPS: list[Transform] = [
    _format_datetime,
    _parse_datetime,
    _to_iso8601,
    _timestamp_text,
    trino_zones.at_timezone,
    _extract_dow,
    _millisecond,
    trino_reals.reals,
    _regexp_extract,
    _regexp_replace,
    _split_part,
    _strpos,
    _format,
    _renamed,
    trino_urls.url,
    _json_cast_text,
    _json_extract_scalar,
    _json_format,
    _json_functions,
]


def _rewrite(node: exp.Expression) -> exp.Expression:
    """All rewrites in one pass over the tree (a long IN list is thousands of nodes); a node
    a step rewrote is offered to the steps again (CAST(json_extract ...) becomes a
    json_extract_scalar, which has its own rewrite)."""
    if isinstance(node, exp.Literal | exp.Identifier | exp.Column):
        return node
    for _ in range(len(_STEPS)):
        new = next((n for step in _STEPS if (n := step(node)) is not node), node)
        if new is node:
            break
        node = new
    return node


#: Applied before transpile.py's own rewrites (to_iso8601 needs to see from_iso8601_timestamp
#: as sqlglot parsed it).
TRANSFORMS: list[Transform] = [_deep(_rewrite)]
