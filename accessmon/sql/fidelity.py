"""Where the local engine cannot give Trino's answer: functions refused before a query runs.

Athena is Trino; DuckDB is not. A function DuckDB has no faithful rewrite for must never run
with a different meaning (a silent difference is the worst failure of a security tool), so
it is refused with the alternative an analyst can use. Each module that rewrites Trino
functions for DuckDB adds the ones it cannot rewrite to NOT_LOCAL.
"""

from __future__ import annotations

from sqlglot import exp

from accessmon.errors import QueryError
from accessmon.sql import trino_arrays, trino_time

#: Trino function name (lower case) -> what to use instead on the local engine.
NOT_LOCAL: dict[str, str] = {}
# One entry per module of rewrites.
for _module in (trino_time, trino_arrays):
    NOT_LOCAL.update(_module.NOT_LOCAL)


def _name(node: exp.Expression) -> str:
    """The Trino function a node was parsed from (sqlglot gives some their own classes)."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    if isinstance(node, exp.JSONValue):
        return "json_value"
    if isinstance(node, exp.JSONExtract) and node.args.get("json_query"):
        return "json_query"
    return node.sql_name().lower()


def _position(node: exp.Expression, sql: str | None) -> str:
    start = node.meta.get("start")
    if sql is None or start is None:
        return ""
    line = sql.count("\n", 0, start) + 1
    column = start - (sql.rfind("\n", 0, start) + 1) + 1
    return f" (line {line}, column {column})"


def refuse_unfaithful(
    tree: exp.Expression, engine: str = "local engine", sql: str | None = None
) -> None:
    """Raise a QueryError naming the first function in NOT_LOCAL the query calls, with its
    place in `sql` when given."""
    for node in tree.find_all(exp.Func, exp.JSONValue):
        name = _name(node)
        if name in NOT_LOCAL:
            raise QueryError(
                f"{name} is not available on the {engine}{_position(node, sql)}; "
                f"{NOT_LOCAL[name]} or --engine athena"
            )
