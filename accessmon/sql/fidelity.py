"""Where the local engine cannot give Trino's answer: functions refused before a query runs.

Athena is Trino; DuckDB is not. A function DuckDB has no faithful rewrite for must never run
with a different meaning (a silent difference is the worst failure of a security tool), so
it is refused with the alternative an analyst can use. Each module that rewrites Trino
functions for DuckDB adds the ones it cannot rewrite to NOT_LOCAL, and the uses of a function
it cannot rewrite (array_sort with a comparator) to NOT_LOCAL_USES: both are refused here,
before the query is rewritten, with their place in the query.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from accessmon.errors import QueryError
from accessmon.sql import trino_arrays, trino_json, trino_numbers, trino_time

#: Trino function name (lower case) -> what to use instead on the local engine.
NOT_LOCAL: dict[str, str] = {}
#: (the use refused, when a call is that use, the alternative): a function the local engine
#: has, used in a way it cannot rewrite.
NOT_LOCAL_USES: list[tuple[str, Callable[[exp.Expression], bool], str]] = []
# One entry per module of rewrites.
for _module in (trino_time, trino_arrays, trino_json, trino_numbers):
    NOT_LOCAL.update(getattr(_module, "NOT_LOCAL", {}))
    NOT_LOCAL_USES.extend(getattr(_module, "NOT_LOCAL_USES", []))


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
    """Raise a QueryError naming the first function in NOT_LOCAL the query calls (or the
    first use in NOT_LOCAL_USES), with its place in `sql` when given."""
    for node in tree.find_all(exp.Func, exp.JSONValue):
        name = _name(node)
        refused = (name, NOT_LOCAL[name]) if name in NOT_LOCAL else None
        for use, applies, alternative in NOT_LOCAL_USES:
            if refused is None and applies(node):
                refused = (use, alternative)
        if refused:
            raise QueryError(
                f"{refused[0]} is not available on the {engine}{_position(node, sql)}; "
                f"{refused[1]} or --engine athena"
            )
