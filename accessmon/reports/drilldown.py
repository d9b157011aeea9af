"""The events behind each finding: one extra query per report query, capped per finding.

The report query is rewritten with sqlglot: its view and WHERE stay, its grouping and
aggregates go, and it selects the event columns an analyst needs (time, user, login, node or
database, client IP, session id) plus the finding key's expressions. A window function numbers
each finding's events newest first and counts them, so only the capped rows travel while
`events_total` stays true. The rewritten query runs through the session's own validated,
read-only engine path, over the report's window, on DuckDB, Athena or Trino alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp

from accessmon.errors import AccessmonError
from accessmon.reports.findings import json_value, key_id
from accessmon.sql.validate import DIALECT, check_query
from accessmon.sql.views import all_views

if TYPE_CHECKING:
    from accessmon.reports.results import QueryOutcome
    from accessmon.session import Session
    from accessmon.window import Window

#: The event columns shown under a finding, in this order, where the view has them.
EVENT_COLUMNS = (
    "event_time",
    # who
    "user", "identity_user", "login", "db_user",
    # where: node, database, cluster
    "server_hostname", "node_name", "host_id", "db_service", "db_name", "kubernetes_cluster",
    "identity_kubernetes_cluster",
    # from where
    "addr_remote", "identity_client_ip", "client_ip",
    # which session
    "sid", "session_id",
    # what makes a certificate or a join token long-lived
    "identity_expires", "token_name", "token_expires",
)  # fmt: skip
_KEY = "accessmon_key_"
_ROW = "accessmon_row"
_TOTAL = "accessmon_total"


class NoDrilldown(AccessmonError):
    """The report query's shape has no single view and key to drill into."""


def _select(sql: str) -> exp.Select:
    tree = check_query(sql).tree
    nested = tree.args.get("with_") or tree.args.get("with") or tree.args.get("joins")
    if not isinstance(tree, exp.Select) or nested:
        raise NoDrilldown("only a SELECT from one view, without WITH or JOIN, can be drilled into")
    source = tree.args.get("from_") or tree.args.get("from")
    if source is None or not isinstance(source.this, exp.Table):
        raise NoDrilldown("the query reads no view directly")
    if source.this.name.lower() not in all_views():
        raise NoDrilldown(f"{source.this.name} is not an audit view")
    return tree


def _key_expression(tree: exp.Select, column: str) -> exp.Expression:
    """What the query selects as `column`: `identity_user AS user` gives identity_user."""
    for selected in tree.expressions:
        if selected.alias_or_name == column:
            inner = selected.this if isinstance(selected, exp.Alias) else selected
            if inner.find(exp.AggFunc, exp.Window) is not None:
                raise NoDrilldown(f"the key column {column} is an aggregate")
            return inner
    raise NoDrilldown(f"the key column {column} is not selected by name")


def drilldown_sql(sql: str, key_columns: list[str], cap: int) -> tuple[str, list[str]]:
    """The events query of a report query: (SQL, its event columns). Rows come back as the
    event columns, then the key values, then each event's rank and its finding's total."""
    tree = _select(sql)
    source = tree.args.get("from_") or tree.args.get("from")
    view = all_views()[source.this.name.lower()]
    columns = [c for c in EVENT_COLUMNS if c in view.column_names]
    keys = [_key_expression(tree, k).sql(DIALECT) for k in key_columns]
    partition = f"PARTITION BY {', '.join(keys)} " if keys else ""
    order = "event_time DESC" + (", uid" if "uid" in view.column_names else "")
    where = tree.args.get("where")
    selected = [
        *columns,
        *(f"{k} AS {_KEY}{i}" for i, k in enumerate(keys)),
        f"row_number() OVER ({partition}ORDER BY {order}) AS {_ROW}",
        f"count(*) OVER ({partition.strip()}) AS {_TOTAL}",
    ]
    inner = f"SELECT {', '.join(selected)} FROM {source.this.sql(DIALECT)}" + (
        f" {where.sql(DIALECT)}" if where is not None else ""
    )
    ranked = ", ".join([*(f"{_KEY}{i}" for i in range(len(keys))), _ROW])
    outer = (
        f"SELECT * FROM ({inner}) AS accessmon_events WHERE {_ROW} <= {int(cap)} ORDER BY {ranked}"
    )
    return outer, columns


def attach_events(
    session: Session, outcome: QueryOutcome, window: Window, cap: int
) -> dict[str, Any] | None:
    """Each finding's newest events (at most `cap`) and their true count; the drill-down's
    stats, or None when it could not run (a note on the outcome says why)."""
    if not outcome.items or cap <= 0:
        return None
    try:
        sql, columns = drilldown_sql(outcome.sql, outcome.key_columns, cap)
        result = session._execute(sql, window)
    except AccessmonError as e:
        outcome.notes.append(f"no drill-down events: {e}")
        return None
    outcome.event_columns = columns
    by_key = {key_id(f.key): f for f in outcome.items}
    for f in outcome.items:
        f.events, f.events_total = [], 0
    width = len(columns)
    for row in result.table.to_pylist():
        values = list(row.values())
        key = {c: json_value(values[width + i]) for i, c in enumerate(outcome.key_columns)}
        finding = by_key.get(key_id(key))
        if finding is None:  # a group the query's HAVING left out: not a finding
            continue
        finding.events.append([json_value(v) for v in values[:width]])
        finding.events_total = int(row[_TOTAL])
    return result.stats.as_dict()
