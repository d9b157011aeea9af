"""at_timezone and AT TIME ZONE on DuckDB, shown as Trino shows them.

On Trino, `at_timezone(event_time, 'Europe/Berlin')` is a timestamp(3) with time zone that
carries the zone's *name*: it prints `2024-03-20 13:12:03.374 Europe/Berlin`, compares and
sorts as its instant, and hour(), format_datetime() ... read its wall time in that zone.
DuckDB's TIMESTAMPTZ carries no zone, so each use is rewritten for what it reads:

- shown, as a column of the outermost SELECT (alone, or under max/min/arbitrary): the instant;
  the engine then gives that result column the zone's name (`with_zones`), so every front end
  prints it as Trino does;
- compared, subtracted, sorted, grouped, to_unixtime: the instant;
- read by hour(), format_datetime(), CAST(... AS date) ...: the wall time in the zone;
- CAST(... AS varchar): the wall time's text and the zone's name.

Anything else (a zone that is not a constant, date_trunc or interval arithmetic on the value
where the zone would show or be compared, the value in a subquery's or CTE's columns) is
refused before the query runs, never shown without its zone.
"""

from __future__ import annotations

import functools
import zoneinfo

import pyarrow as pa
import sqlglot
from sqlglot import exp

from accessmon.errors import QueryError
from accessmon.text import UTC_ALIASES

_ALTERNATIVE = (
    "select at_timezone(ts, 'Europe/Berlin') as a column of the outer SELECT, or read it "
    "with format_datetime(at_timezone(ts, 'Europe/Berlin'), 'yyyy-MM-dd HH:mm:ss')"
)


def _refuse(what: str, alternative: str = _ALTERNATIVE) -> QueryError:
    return QueryError(
        f"{what} is not available on the local engine; {alternative} or --engine athena"
    )


@functools.cache
def _regions() -> frozenset[str]:
    """IANA region names (`Europe/Berlin`, `US/Pacific`), as Trino shows them: unchanged."""
    return frozenset(z for z in zoneinfo.available_timezones() if "/" in z and z[:4] != "Etc/")


def _zoned(node: exp.Expression) -> tuple[exp.Expression, exp.Expression] | None:
    """(timestamp, zone) of an at_timezone call or an AT TIME ZONE, else None."""
    if isinstance(node, exp.Anonymous) and node.name.lower() == "at_timezone":
        if len(node.expressions) == 2:
            return node.expressions[0], node.expressions[1]
    elif isinstance(node, exp.AtTimeZone) and node.args.get("zone") is not None:
        return node.this, node.args["zone"]
    return None


def _function(node: exp.Expression) -> str:
    return "AT TIME ZONE" if isinstance(node, exp.AtTimeZone) else "at_timezone"


def zone_name(node: exp.Expression, zone: exp.Expression) -> str:
    """The name Trino shows for a constant zone (`UTC` for its aliases), or a refusal."""
    name = _function(node)
    if not (isinstance(zone, exp.Literal) and zone.is_string):
        raise _refuse(
            f"{name} with a zone that is not a constant",
            "give the zone as a literal such as 'Europe/Berlin'",
        )
    text = zone.this
    if text in UTC_ALIASES:
        return "UTC"
    if text not in _regions():
        raise _refuse(
            f"{name} with zone {text!r}", "use a region name such as 'Europe/Berlin', or 'UTC'"
        )
    return text


#: Where the zoned value is read as its wall time in the zone.
_WALL_READERS = (
    exp.Hour, exp.Minute, exp.Second, exp.Day, exp.DayOfMonth, exp.Month, exp.Year,
    exp.DayOfWeek, exp.DayOfWeekIso, exp.DayOfYear, exp.WeekOfYear, exp.Quarter,
    exp.YearOfWeek, exp.Extract, exp.TimeToStr, exp.Date, exp.LastDay,
)  # fmt: skip
_WALL_FUNCTIONS = {"format_datetime", "strftime", "millisecond"}
#: Where it counts as its instant, whatever the zone.
_INSTANT_USES = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In, exp.Sub,
    exp.TimeToUnix, exp.Group, exp.Ordered, exp.Distinct,
)  # fmt: skip
#: What keeps the zone of the value it is given.
_KEEPS_ZONE = (exp.TimestampTrunc, exp.DateTrunc, exp.DateAdd, exp.DateSub)
_AGGREGATES = (exp.Max, exp.Min, exp.AnyValue)
#: date_diff units that count by the clock (an instant's difference): the others count days
#: of the zone's calendar on Trino, which a DST change makes 23 or 25 hours long.
_CLOCK_UNITS = {"millisecond", "second", "minute", "hour"}


def _shifted(child: exp.Expression, parent: exp.Expression) -> bool:
    if isinstance(parent, _KEEPS_ZONE):
        return parent.this is child
    return (
        isinstance(parent, exp.Add | exp.Sub)
        and parent.this is child
        and isinstance(parent.expression, exp.Interval)
    )


def _root_projection(child: exp.Expression, parent: exp.Expression) -> bool:
    """`child` is a column of the outermost SELECT (through its alias)."""
    if isinstance(parent, exp.Alias):
        child, parent = parent, parent.parent
    return isinstance(parent, exp.Select) and parent.parent is None and child in parent.expressions


def use(node: exp.Expression) -> str:
    """How the zoned value `node` is used: 'shown', 'instant' or 'wall'; or a refusal."""
    name = _function(node)
    shifted = aggregated = False
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.Paren):
            pass
        elif _shifted(child, parent):
            shifted = True
        elif isinstance(parent, _AGGREGATES) and parent.this is child:
            aggregated = True
        else:
            break
        child, parent = parent, parent.parent
    if parent is not None and _root_projection(child, parent) and not shifted:
        select = parent if isinstance(parent, exp.Select) else parent.parent
        column = child if child.parent is select else child.parent
        place = select.expressions.index(column)
        stars = [i for i, p in enumerate(select.expressions) if p.is_star]
        if any(i < place for i in stars) and any(i > place for i in stars):
            raise _refuse(f"{name} between two `*`", "name the other columns")
        return "shown"
    if isinstance(parent, exp.DateDiff) and not shifted:
        unit = parent.args.get("unit")
        if unit is not None and unit.name.lower() not in _CLOCK_UNITS:
            raise _refuse(
                f"date_diff in {unit.name.lower()}s of {name} values",
                "compare wall times: date_diff(unit, CAST(at_timezone(a, zone) AS timestamp), "
                "CAST(at_timezone(b, zone) AS timestamp))",
            )
        return "instant"
    if isinstance(parent, _INSTANT_USES) and not shifted:
        return "instant"
    if aggregated:
        raise _refuse(f"{name} under max/min here")
    if isinstance(parent, _WALL_READERS) or (
        isinstance(parent, exp.Anonymous) and parent.name.lower() in _WALL_FUNCTIONS
    ):
        return "wall"
    if isinstance(parent, exp.Cast) and parent.to.is_type(
        exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIME
    ):
        return "wall"
    if isinstance(parent, exp.Cast) and parent.to.is_type(*exp.DataType.TEXT_TYPES) and not shifted:
        return "text"
    if shifted:
        raise _refuse(f"{name} under date_trunc, date_add or an interval here")
    raise _refuse(f"{name} here (its value would not show its zone as on Trino)")


def _instant(ts: exp.Expression) -> exp.Expression:
    return exp.Cast(this=ts.copy(), to=exp.DataType.build("TIMESTAMPTZ"))


def _wall(ts: exp.Expression, zone: str) -> exp.Expression:
    """The wall time of instant `ts` (a UTC timestamp or timestamptz) in `zone`."""
    return exp.Anonymous(this="timezone", expressions=[exp.Literal.string(zone), _instant(ts)])


def at_timezone(node: exp.Expression) -> exp.Expression:
    """The rewrite of one at_timezone call or AT TIME ZONE, for the use its value has; DuckDB's
    own AT TIME ZONE on a plain TIMESTAMP would read it as local time there instead."""
    if isinstance(node, exp.Cast) and node.to.is_type(*exp.DataType.TEXT_TYPES):
        inner = node.this.unnest()
        if _zoned(inner) is not None and use(inner) == "text":
            ts, zone = _zoned(inner)
            name = zone_name(inner, zone)
            text = exp.Anonymous(this="strftime", expressions=[
                _wall(ts, name), exp.Literal.string(f"%Y-%m-%d %H:%M:%S.%g {name}")])  # fmt: skip
            return text
        return node
    parts = _zoned(node)
    if parts is None:
        return node
    ts, zone = parts
    name = zone_name(node, zone)
    kind = use(node)
    if kind in ("shown", "instant"):
        return _instant(ts)
    return _wall(ts, name)


#: Timestamps of millisecond precision, whose ISO 8601 text always shows `.SSS`.
_MILLIS = (exp.FromISO8601Timestamp, exp.StrToTime, exp.ParseDatetime)


def iso8601(value: exp.Expression) -> exp.Expression | None:
    """to_iso8601 of a zoned value: the wall time and its offset in the zone,
    `2024-03-20T13:12:03.374+01:00` (`Z` where the offset is 0), as Trino writes it; None
    for a value without a zone."""
    parts = _zoned(value.unnest())
    if parts is None:
        return None
    ts, zone = parts
    name = zone_name(value.unnest(), zone)
    millis = isinstance(ts, _MILLIS) or (
        isinstance(ts, exp.Column) and ts.name.lower() == "event_time"
    )
    if not millis:
        raise _refuse(
            "to_iso8601 of at_timezone of this expression",
            "use it on event_time or from_iso8601_timestamp(...)",
        )
    wall = _wall(ts, name).sql("duckdb")
    utc = f"CAST({_instant(ts).sql('duckdb')} AS TIMESTAMP)"
    m = f"date_diff('minute', {utc}, {wall})"
    sql = (
        f"strftime({wall}, '%Y-%m-%dT%H:%M:%S.%g') || CASE WHEN {m} = 0 THEN 'Z' ELSE "
        f"(CASE WHEN {m} < 0 THEN '-' ELSE '+' END) || lpad(CAST(abs({m}) // 60 AS VARCHAR), 2, "
        f"'0') || ':' || lpad(CAST(abs({m}) % 60 AS VARCHAR), 2, '0') END"
    )
    return sqlglot.parse_one(sql, read="duckdb")


def shown_zones(tree: exp.Expression) -> dict[int, str]:
    """Result column -> the zone name its values show (negative: counted from the last column,
    when a `*` comes before): the at_timezone values the outermost SELECT shows."""
    if not isinstance(tree, exp.Select):
        return {}
    projections = tree.expressions
    stars = [i for i, p in enumerate(projections) if p.is_star]
    zones: dict[int, str] = {}
    for i, projection in enumerate(projections):
        core = projection.unalias().unnest()
        while isinstance(core, _AGGREGATES):
            core = core.this.unnest()
        parts = _zoned(core)
        if parts is None or use(core) != "shown":
            continue
        position = i - len(projections) if any(s < i for s in stars) else i
        zones[position] = zone_name(core, parts[1])
    return zones


def with_zones(table: pa.Table, tree: exp.Expression) -> pa.Table:
    """The result with each shown at_timezone column in its zone: the same instants, which
    every front end then prints with the zone's name, as Trino does."""
    for position, zone in shown_zones(tree).items():
        i = position % table.num_columns if table.num_columns else 0
        field = table.schema.field(i)
        if not pa.types.is_timestamp(field.type):
            continue
        typ = pa.timestamp(field.type.unit, tz=zone)
        table = table.set_column(i, field.with_type(typ), table.column(i).cast(typ))
    return table
