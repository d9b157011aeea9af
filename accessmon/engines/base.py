"""The interface every engine implements, so the session never asks which one it has."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    from accessmon.result import QueryResult, QueryStats
    from accessmon.sql.validate import CheckedQuery
    from accessmon.window import Window


@dataclass
class StoreInventory:
    """What the store holds over some days, whatever the engine: a report's provenance (the
    newest event, the file count) and its data-quality panel (days without events) read it."""

    #: the store folder (DuckDB) or the quoted table (Athena, Trino)
    location: str
    #: events per partition day; a day without events is absent
    days: dict[dt.date, int] = field(default_factory=dict)
    #: the newest event_time in those days (UTC), None when there is none
    newest_event: dt.datetime | None = None
    #: the files holding those days' events; None when the engine cannot tell
    files: int | None = None
    #: the statistics of the queries the engine ran for it (none for DuckDB)
    stats: list[QueryStats] = field(default_factory=list)


class Engine(Protocol):
    name: str

    def render(self, query: CheckedQuery, window: Window) -> str:
        """The SQL that would run: the used views as WITH clauses, then the analyst's query."""

    def execute(self, sql: str, query: CheckedQuery) -> QueryResult:
        """Run SQL produced by `render`."""

    def inventory(self, start: dt.date, end: dt.date) -> StoreInventory:
        """Events per day, the newest event and the file count of the days [start, end]."""

    def publish_results(self, path: Path, name: str) -> str | None:
        """Copy a report's results JSON to where the engine keeps them; its address, if any."""

    def diagnose(self) -> list[tuple[str, bool, str]]:
        """(check, ok, detail) rows for `accessmon doctor`."""

    def close(self) -> None: ...


# -- the inventory over Teleport's table, for the engines that speak Trino -------------------


def inventory_sql(table: str, start: dt.date, end: dt.date, *, files: bool = True) -> str:
    """accessmon's own SQL over Teleport's raw table (not over a view: every event type
    counts), grouped by day; `"$path"`, the hidden column Athena and Trino's Hive connector
    give each row, counts the files. The event_date bounds keep it to the days' partitions."""
    from accessmon.sql.render import quote_literal

    counted = ', count(DISTINCT "$path") AS files' if files else ""
    return (
        f"SELECT event_date, count(*) AS events, max(event_time) AS newest{counted} "
        f"FROM {table} WHERE event_date BETWEEN DATE {quote_literal(start.isoformat())} "
        f"AND DATE {quote_literal(end.isoformat())} GROUP BY event_date"
    )


def internal_query(sql: str) -> CheckedQuery:
    """accessmon's own SQL, fixed text with no analyst input, in the shape `execute` takes
    (its timeout counts from here); it bypasses the view check, which it would fail: it reads
    the raw table."""
    import sqlglot

    from accessmon.sql.validate import DIALECT, CheckedQuery

    return CheckedQuery(sql=sql, tree=sqlglot.parse_one(sql, read=DIALECT), views=())


def sql_inventory(engine: Any, table: str, start: dt.date, end: dt.date) -> StoreInventory:
    """The inventory through `engine.execute`, its normal read-only path (timeout, cancel,
    statistics and query ids); without `"$path"` (a table that lacks it) the file count is
    None."""
    from accessmon.errors import AccessmonError

    sql = inventory_sql(table, start, end)
    try:
        result = engine.execute(sql, internal_query(sql))
    except AccessmonError:
        sql = inventory_sql(table, start, end, files=False)
        result = engine.execute(sql, internal_query(sql))
    out = StoreInventory(table, stats=[result.stats])
    has_files = "files" in result.table.column_names
    out.files = 0 if has_files else None
    for row in result.table.to_pylist():
        day = as_date(row["event_date"])
        out.days[day] = out.days.get(day, 0) + int(row["events"] or 0)
        newest = as_utc(row["newest"])
        if newest is not None and (out.newest_event is None or newest > out.newest_event):
            out.newest_event = newest
        if has_files and out.files is not None:
            out.files += int(row["files"] or 0)
    return out


def as_date(value: Any) -> dt.date:
    """A day as the drivers give it: a date, a datetime, or its ISO text (pyathena)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def as_utc(value: Any) -> dt.datetime | None:
    """An instant as the drivers give it (naive is UTC, as Teleport's table stores it)."""
    if value is None or value != value:  # None, or pandas' NaT
        return None
    if hasattr(value, "to_pydatetime"):  # pandas' Timestamp (pyathena)
        value = value.to_pydatetime()
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
