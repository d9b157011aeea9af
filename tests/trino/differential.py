"""One differential case: a query through accessmon's DuckDB engine, and the exact SQL that
accessmon renders for Athena on Trino over the same files; the answers must be the same
(`compare.same_value` per cell), in any order unless the query orders its rows, and then
in the order of its sort keys (rows that tie may come in either order)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlglot
from sqlglot import exp

from accessmon.session import Session
from accessmon.window import Window
from tests.trino.compare import normal, same_value


def local_rows(result: Any) -> list[tuple]:
    """The rows of a QueryResult as tuples, column by column (`SELECT *` over a join repeats
    names, which `to_pylist`'s dicts would merge)."""
    return list(zip(*[c.to_pylist() for c in result.table.columns], strict=True))


def _sort_key(row: tuple) -> str:
    def text(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.9g}"
        if isinstance(v, list | tuple):
            return "[" + ",".join(text(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ",".join(f"{k}:{text(x)}" for k, x in sorted(v.items())) + "}"
        return repr(v)

    return text(normal(row))


def order_keys(sql: str, columns: list[str]) -> list[int] | None:
    """The output positions the query's outermost ORDER BY sorts by; [] if it does not
    order; None if it orders by something that is not an output column."""
    tree = sqlglot.parse_one(sql, read="trino")
    order = tree.args.get("order")
    if order is None:
        return []
    keys = []
    for item in order.expressions:
        e = item.this
        if isinstance(e, exp.Literal) and e.is_int:
            keys.append(int(e.this) - 1)
        elif isinstance(e, exp.Column) and e.name in columns:
            keys.append(columns.index(e.name))
        else:
            return None
    return keys


def differences(
    columns: list[str], mine: list[tuple], theirs: list[tuple], keys: list[int] | None
) -> list[str]:
    """What differs, as lines a failure can print; empty when the answers are the same."""
    out = []
    if len(mine) != len(theirs):
        out.append(f"{len(mine)} rows on DuckDB, {len(theirs)} on Trino")
    for a, b in zip(sorted(mine, key=_sort_key), sorted(theirs, key=_sort_key), strict=False):
        diff = {c: (x, y) for c, x, y in zip(columns, a, b, strict=True) if not same_value(x, y)}
        if diff:
            out.append(f"row differs: {diff}")
            break
    if keys:
        seq = lambda rows: [tuple(r[k] for k in keys) for r in rows]  # noqa: E731
        if not same_value(seq(mine), seq(theirs)):
            out.append(f"order differs by {[columns[k] for k in keys]}")
    return out


def run_both(
    sql: str,
    window: Window,
    duckdb_session: Session,
    athena_session: Session,
    trino_query: Callable[[str], tuple[list[str], list[tuple]]],
) -> tuple[list[str], list[tuple], list[tuple]]:
    """(columns, DuckDB's rows, Trino's rows); the column names must agree."""
    local = duckdb_session.run(sql, window)
    _, _, athena_sql = athena_session.prepare(sql, window)
    columns, rows = trino_query(athena_sql)
    assert columns == local.columns, f"columns differ: {local.columns} vs {columns}"
    return columns, local_rows(local), rows


def assert_same_answer(sql: str, window: Window, *sessions_and_query: Any) -> int:
    """Run `sql` on both and fail with what differs; returns the number of rows."""
    columns, mine, theirs = run_both(sql, window, *sessions_and_query)
    problems = differences(columns, mine, theirs, order_keys(sql, columns))
    assert not problems, f"{sql}\n" + "\n".join(problems)
    return len(mine)
