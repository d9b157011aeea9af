"""Pieces both engines need: joining view CTEs to the analyst's query, per dialect."""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from ..viewsql import quote_ident


def _trino_date_diff_to_duckdb(node: exp.Expression) -> exp.Expression:
    """Trino's date_diff counts whole units; DuckDB's date_sub does, its date_diff counts borders."""
    if isinstance(node, exp.DateDiff):
        unit = node.args.get("unit")
        unit_sql = exp.Literal.string(unit.name if unit is not None else "day")
        return exp.Anonymous(this="date_sub", expressions=[unit_sql, node.expression, node.this])
    return node


_TRANSFORMS = {"duckdb": [_trino_date_diff_to_duckdb]}


def with_views(tree: exp.Query, view_sql: Mapping[str, str], dialect: str) -> str:
    """`WITH <views...>, <the query's own CTEs> <query>` in the target dialect.

    Views come first so the query's CTEs can read them; its own WITH keeps its order.
    """
    tree = tree.copy()
    for transform in _TRANSFORMS.get(dialect, []):
        tree = tree.transform(transform)
    own = tree.args.get("with_") or tree.args.get("with")
    recursive = bool(own and own.args.get("recursive"))
    own_ctes = [cte.sql(dialect=dialect) for cte in own.expressions] if own else []
    if own:
        own.pop()
    body = tree.sql(dialect=dialect)
    ctes = [f"{quote_ident(name)} AS ({sql})" for name, sql in view_sql.items()] + own_ctes
    if not ctes:
        return body
    return "WITH " + ("RECURSIVE " if recursive else "") + ",\n".join(ctes) + "\n" + body
