"""A report's data-quality panel: is the data fresh, are days missing, are the fields filled?

A report over stale or partial data looks like a quiet week. This says so: the newest event
against the time of the run, the days of the window without any event, and the null rate of
every field the report's queries depend on, so that a field Teleport renamed in an upgrade
(null everywhere from then on) shows up instead of silently emptying a query.

Every check is the product's own SQL through the engine (the store's inventory, one query per
view for the null rates), so it works on Athena and Trino as on DuckDB. A check that fails
becomes a warning: the quality panel never fails the report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from accessmon._io import utc_timestamp
from accessmon.errors import AccessmonError
from accessmon.sql.render import quote_ident
from accessmon.window import Window

if TYPE_CHECKING:
    from accessmon.engines.base import StoreInventory
    from accessmon.reports.definitions import ReportDefinition
    from accessmon.result import QueryStats
    from accessmon.session import Session


@dataclass(frozen=True)
class FieldUse:
    """One view column a query reads, and whether the query needs it filled.

    `needed` is False when every mention of the column tests `IS NULL` (the Privileged Access
    Report's `with_mfa IS NULL`: null everywhere is then the finding, not a broken field).
    Selected, grouped, compared (`=`, `>`, `CONTAINS`, `IS NOT NULL`...) or computed on: needed.
    """

    view: str
    field: str
    needed: bool


def field_uses(sql: str) -> list[FieldUse]:
    """The view columns `sql` reads, resolved to the view each comes from (through aliases
    and joins; a CTE's or subquery's own columns are traced in their own scope); not
    `event_date`, the window's partition, nor the columns a `*` stands for."""
    from sqlglot import exp
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import traverse_scope

    from accessmon.sql.validate import DIALECT, _schema, check_query

    checked = check_query(sql)
    tree = qualify(checked.tree.copy(), schema=_schema(), dialect=DIALECT, expand_stars=False,
                   quote_identifiers=False, identify=False)  # fmt: skip
    needed: dict[tuple[str, str], bool] = {}
    for scope in traverse_scope(tree):
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if not isinstance(source, exp.Table) or source.name not in checked.views:
                continue
            if column.name == "event_date":
                continue
            key = (source.name, column.name)
            needed[key] = needed.get(key, False) or not _tests_is_null(column, scope.expression)
    return [FieldUse(view, name, need) for (view, name), need in needed.items()]


def _tests_is_null(column: Any, top: Any) -> bool:
    """Whether `column` sits in the operand of `... IS NULL` (not `IS NOT NULL`)."""
    from sqlglot import exp

    node = column
    while node is not None and node is not top:
        parent = node.parent
        if (
            isinstance(parent, exp.Is)
            and isinstance(parent.expression, exp.Null)
            and node is parent.this
            and not isinstance(parent.parent, exp.Not)
        ):
            return True
        node = parent
    return False


def collect(
    session: Session, definition: ReportDefinition, window: Window, now: dt.datetime
) -> dict[str, Any]:
    """The quality panel of a run of `definition` over `window`, at `now` (run.quality).

    Never raises: a check that fails is a warning. What its queries scanned and the ids the
    engine gave them are kept under `checks`; the run's audit line adds them to its own, so
    Athena's daily budget counts them.
    """
    max_lag = float(session.config.report.max_lag_hours)
    out: dict[str, Any] = {
        "now": utc_timestamp(now),
        "newest_event": None,
        "lag_hours": None,
        "max_lag_hours": max_lag,
        "stale": False,
        "empty_days": [],
        "fields": [],
        "warnings": [],
    }
    stats: list[QueryStats] = []
    try:
        inventory = store_inventory(session, window)
        stats += inventory.stats
        out["store"] = store_facts(inventory)
        _freshness(out, inventory, window, now, max_lag)
        out["empty_days"] = [d.isoformat() for d in _days(window, now) if not inventory.days.get(d)]
    except Exception as e:  # a check never fails the report
        out["warnings"].append(f"Freshness and empty days could not be checked: {_why(e)}.")
    if out["empty_days"]:
        out["warnings"].append(_empty_days_sentence(out["empty_days"], window))
    out["fields"] = _fields(session, definition, window, out["warnings"], stats)
    for f in out["fields"]:
        if f["always_null"] and f["needed"]:
            out["warnings"].append(
                f"{f['view']}.{f['field']} is null in all {f['rows']} rows of the window, "
                f"yet {', '.join(f['queries'])} need{'s' * (len(f['queries']) == 1)} it filled: "
                "was the field renamed upstream (a Teleport upgrade)?"
            )
    out["checks"] = {
        "query_ids": [s.query_execution_id for s in stats if s.query_execution_id],
        "data_scanned_in_bytes": sum(s.data_scanned_bytes for s in stats),
        "total_execution_time_in_millis": sum(s.elapsed_ms for s in stats),
    }
    return out


def scanned_bytes(checked: dict[str, Any]) -> int:
    """What the quality checks of a run scanned (0 before they ran): for the run's audit line."""
    return int(((checked or {}).get("checks") or {}).get("data_scanned_in_bytes") or 0)


def store_inventory(session: Session, window: Window) -> StoreInventory:
    """The store over the days the run read (the previous window's start to the window's end),
    through the engine; Athena's daily budget is checked first, as for every query."""
    session.check_budget()
    return session.engine.inventory(window.previous().start, window.end)


def store_facts(inventory: StoreInventory) -> dict[str, Any]:
    """The provenance's `store`: location, newest event (ISO), file count."""
    newest = inventory.newest_event
    return {
        "location": inventory.location,
        "newest_event": utc_timestamp(newest) if newest else None,
        "files": inventory.files,
    }


def _days(window: Window, now: dt.datetime) -> list[dt.date]:
    """The window's days that are over at `now`: the day in progress may rightly have no
    events yet (freshness judges it)."""
    days = [window.start + dt.timedelta(days=n) for n in range(_length(window))]
    return [d for d in days if d < now.astimezone(dt.UTC).date()]


def _freshness(
    out: dict[str, Any], inventory: StoreInventory, window: Window, now: dt.datetime,
    max_lag: float,
) -> None:  # fmt: skip
    """The lag of the newest event behind the run, or behind the window's end when the window
    ended before the run (an old window is judged by whether its own days were complete)."""
    newest = inventory.newest_event
    end_of_window = dt.datetime.combine(window.end + dt.timedelta(days=1), dt.time(), dt.UTC)
    reference = min(now.astimezone(dt.UTC), end_of_window)
    if newest is None:
        out["stale"] = True
        out["warnings"].append(
            f"The store holds no event from {window.previous().start} to {window.end}: "
            "the report has no data to judge."
        )
        return
    lag = max(0.0, (reference - newest).total_seconds() / 3600)
    out["newest_event"] = utc_timestamp(newest)
    out["lag_hours"] = round(lag, 2)
    out["stale"] = lag > max_lag
    if out["stale"]:
        behind = "the run" if reference == now.astimezone(dt.UTC) else f"the end of {window.end}"
        out["warnings"].append(
            f"Stale data: the newest event ({utc_timestamp(newest)}) is {_hours(lag)} older "
            f"than {behind}, more than report.max_lag_hours ({max_lag:g} h); is ingestion "
            "running?"
        )


def _length(window: Window) -> int:
    """Days in the window (`window.days` is None for --from/--to)."""
    return (window.end - window.start).days + 1


def _hours(hours: float) -> str:
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


def _empty_days_sentence(days: list[str], window: Window) -> str:
    shown = ", ".join(days[:10]) + (f" and {len(days) - 10} more" if len(days) > 10 else "")
    return (
        f"{len(days)} of the window's {_length(window)} days have no events at all ({shown}): "
        "a gap in collection or ingestion makes those days look quiet."
    )


def _fields(
    session: Session,
    definition: ReportDefinition,
    window: Window,
    warnings: list[str],
    stats: list[QueryStats],
) -> list[dict[str, Any]]:
    """Each field the queries read, with its null rate over its view in the window: one
    query per view."""
    uses: dict[tuple[str, str], dict[str, Any]] = {}
    for q in definition.queries:
        try:
            found = field_uses(q.query)
        except Exception as e:
            warnings.append(f"The fields of {q.name} could not be read from its SQL: {_why(e)}.")
            continue
        for use in found:
            entry = uses.setdefault((use.view, use.field), {"queries": [], "needed": False})
            if q.name not in entry["queries"]:
                entry["queries"].append(q.name)
            entry["needed"] = entry["needed"] or use.needed
    out = []
    for view in dict.fromkeys(view for view, _ in uses):
        names = [name for v, name in uses if v == view]
        try:
            rows, nulls = _null_counts(session, view, names, window, stats)
        except Exception as e:
            warnings.append(f"The null rates of {view} could not be measured: {_why(e)}.")
            continue
        for name in names:
            entry = uses[(view, name)]
            out.append({
                "view": view,
                "field": name,
                "queries": entry["queries"],
                "rows": rows,
                "nulls": nulls[name],
                "null_rate": round(nulls[name] / rows, 4) if rows else 0.0,
                "always_null": rows > 0 and nulls[name] == rows,
                "needed": entry["needed"],
            })  # fmt: skip
    return out


def null_rate_sql(view: str, names: list[str]) -> str:
    """`count(*)` and `count(col)` of each column over one view: Trino SQL over the views,
    validated and rendered like an analyst's query."""
    counts = ", ".join(f"count({quote_ident(n)}) AS {quote_ident(f'n{i}')}"
                       for i, n in enumerate(names))  # fmt: skip
    return f"SELECT count(*) AS total, {counts} FROM {quote_ident(view)}"


def _null_counts(
    session: Session, view: str, names: list[str], window: Window, stats: list[QueryStats]
) -> tuple[int, dict[str, int]]:
    result = session._execute(null_rate_sql(view, names), window)
    stats.append(result.stats)
    row = result.table.to_pylist()[0]
    total = int(row["total"] or 0)
    return total, {n: total - int(row[f"n{i}"] or 0) for i, n in enumerate(names)}


def _why(e: BaseException) -> str:
    text = str(e).strip().rstrip(".")
    return text if isinstance(e, AccessmonError) and text else f"{type(e).__name__}: {text}"
