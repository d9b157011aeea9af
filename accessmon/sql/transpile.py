"""Trino SQL made to give Trino's answers on DuckDB, and the views joined to a query as CTEs.

Each rewrite is a sqlglot transform over one node; `TRANSFORMS` lists them per dialect."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp

from accessmon.sql import trino_arrays, trino_json, trino_numbers, trino_time
from accessmon.sql.raw_event import relations
from accessmon.sql.render import INSTANT_PREFIX, duckdb_utc_instant, quote_ident, trino_view
from accessmon.sql.views import all_views
from accessmon.window import Window

if TYPE_CHECKING:
    from accessmon.sql.validate import CheckedQuery


def _trino_date_diff_to_duckdb(node: exp.Expression) -> exp.Expression:
    """Trino's date_diff counts whole units; DuckDB's date_sub does, its date_diff counts borders."""
    if isinstance(node, exp.DateDiff):
        unit = node.args.get("unit")
        unit_sql = exp.Literal.string(unit.name if unit is not None else "day")
        return exp.Anonymous(this="date_sub", expressions=[unit_sql, node.expression, node.this])
    return node


def _trino_unnest_rows_to_duckdb(node: exp.Expression) -> exp.Expression:
    """Trino spreads a row array's fields over `UNNEST(x) AS t(a, b, ...)`; DuckDB needs
    `(SELECT UNNEST(x, max_depth := 2)) AS t(a, b, ...)` for the same columns."""
    if not (isinstance(node, exp.Unnest) and isinstance(node.parent, exp.Join | exp.From)):
        return node
    alias = node.args.get("alias")
    if not alias or len(alias.columns) < 2 or len(node.expressions) != 1 or node.args.get("offset"):
        return node
    array = node.expressions[0].sql(dialect="duckdb")
    select = sqlglot.parse_one(f"SELECT UNNEST({array}, max_depth := 2)", read="duckdb")
    return exp.Subquery(this=select, alias=alias.copy())


def _trino_iso8601_to_duckdb(node: exp.Expression) -> exp.Expression:
    """from_iso8601_timestamp gives timestamp(3) on Trino: nanoseconds beyond the millisecond
    are dropped, so a 24 h certificate with `.374137154Z` expiry is not "longer than a day"."""
    if isinstance(node, exp.FromISO8601Timestamp):
        cast = exp.Cast(this=node.this, to=exp.DataType.build("TIMESTAMPTZ"))
        return exp.Anonymous(
            this="date_trunc", expressions=[exp.Literal.string("millisecond"), cast]
        )
    return node


_BETWEEN_INSTANTS = (exp.Sub, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.DateDiff)


def _utc_instant(text: exp.Expression) -> exp.Expression:
    return sqlglot.parse_one(duckdb_utc_instant(text.sql(dialect="duckdb")), read="duckdb")


def _is_instant_pair(node: exp.Expression) -> bool:
    return isinstance(node, _BETWEEN_INSTANTS) and all(
        isinstance(side, exp.FromISO8601Timestamp) for side in (node.this, node.expression)
    )


def _trino_instant_pairs_to_duckdb(node: exp.Expression) -> exp.Expression:
    """`from_iso8601_timestamp(a) - from_iso8601_timestamp(b)` (or a comparison, or a
    date_diff) does not depend on a time zone, so both sides can be read as UTC instants:
    the report's certificate and token lifetimes, without the slow zone-aware parse."""
    if _is_instant_pair(node):
        node = node.copy()
        node.set("this", _utc_instant(node.this.this))
        node.set("expression", _utc_instant(node.expression.this))
    return node


def _has_star(tree: exp.Query) -> bool:
    """A `*` anywhere but in count(*) could show the cache's extra columns."""
    return any(not isinstance(star.parent, exp.Count) for star in tree.find_all(exp.Star))


def use_parsed_instants(tree: exp.Query, views: Collection[str]) -> dict[str, set[str]]:
    """Point instant pairs over a view's time columns (the report's lifetime checks) at the
    cache's parsed copies; returns, per view, the columns the query now reads that way.

    Only where the pair sits in the WHERE clause of a SELECT that reads one view directly
    (no join, no CTE of that name; in GROUP BY, HAVING or ORDER BY the extra column would
    need grouping too) and no `*` could show the extra columns. A text that is no time has
    no parsed copy, and is parsed in the query, failing it as before.
    """
    if _has_star(tree):
        return {}
    own = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    used: dict[str, set[str]] = {}
    for pair in [n for n in tree.find_all(*_BETWEEN_INSTANTS) if _is_instant_pair(n)]:
        select = pair.find_ancestor(exp.Select)
        if select is None or select.args.get("joins") or not select.args.get("from_"):
            continue
        where = pair.find_ancestor(exp.Where)
        if where is None or where is not select.args.get("where") or pair.find_ancestor(exp.Lambda):
            continue  # a lambda's parameter may shadow the column
        source = select.args["from_"].this
        if not isinstance(source, exp.Table):
            continue
        view = source.name.lower()
        if view not in views or view in own:
            continue
        sides = [pair.this.this, pair.expression.this]
        if not all(
            isinstance(c, exp.Column)
            and c.table in ("", source.alias_or_name)
            and c.name in all_views()[view].instant_columns
            for c in sides
        ):
            continue
        for side, column in zip((pair.this, pair.expression), sides, strict=True):
            parsed = exp.column(INSTANT_PREFIX + column.name, table=column.table or None)
            side.replace(exp.Coalesce(this=parsed, expressions=[_utc_instant(column)]))
            used.setdefault(view, set()).add(column.name)
    return used


def _trino_date_results_to_duckdb(node: exp.Expression) -> exp.Expression:
    """On Trino, date_trunc, date_add and interval arithmetic keep a DATE a DATE; DuckDB turns
    it into a TIMESTAMP, which would print as `2024-03-01 00:00:00.000`."""
    keeps_date = (
        isinstance(node, exp.TimestampTrunc | exp.DateTrunc | exp.DateAdd | exp.DateSub)
        or (isinstance(node, exp.Add | exp.Sub) and isinstance(node.expression, exp.Interval))
    ) and trino_time.is_date(node.this)
    if keeps_date and not isinstance(node.parent, exp.Cast):
        return exp.Cast(this=node.copy(), to=exp.DataType.build("DATE"))
    return node


TRANSFORMS = {
    "duckdb": [
        *trino_json.TRANSFORMS,  # first: trino_time's JSON steps leave its calls alone
        *trino_numbers.TRANSFORMS,  # on Trino's functions, as the type pass knows them
        *trino_time.TRANSFORMS,
        _trino_instant_pairs_to_duckdb,
        _trino_date_diff_to_duckdb,
        _trino_unnest_rows_to_duckdb,
        _trino_iso8601_to_duckdb,
        _trino_date_results_to_duckdb,
        *trino_arrays.TRANSFORMS,  # last: they keep the arguments the others rewrote
    ]
}


def _leftmost_select(tree: exp.Expression) -> exp.Select | None:
    while isinstance(tree, exp.SetOperation | exp.Subquery):
        tree = tree.this
    return tree if isinstance(tree, exp.Select) else None


def _star_width(select: exp.Select) -> int | None:
    """How many columns a bare `*` stands for, when every relation is a view."""
    own = {cte.alias_or_name.lower() for cte in select.root().find_all(exp.CTE)}
    width = 0
    for _, name in relations(select):
        if name is None or name in own:
            return None
        width += len(all_views()[name].columns)
    return width


def _trino_output_names(tree: exp.Query) -> None:
    """Trino names an output column that is no column reference `_col<position>`; DuckDB
    names it after its text (`count_star()`), so headers, CSV and charts would differ."""
    select = _leftmost_select(tree)
    if select is None:
        return
    position = 0
    for item in list(select.expressions):
        if isinstance(item, exp.Star):
            width = _star_width(select)
            if width is None:  # the positions after it are not known without running it
                return
            position += width
            continue
        if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            return
        if not isinstance(item, exp.Alias | exp.Column | exp.Dot):
            item.replace(exp.alias_(item.copy(), f"_col{position}", quoted=True))
        position += 1


def with_views(tree: exp.Query, view_sql: Mapping[str, str], dialect: str) -> str:
    """`WITH <views...>, <the query's own CTEs> <query>` in the target dialect.

    Views come first so the query's CTEs can read them; its own WITH keeps its order.
    """
    tree = tree.copy()
    if dialect == "duckdb":
        _trino_output_names(tree)
    for transform in TRANSFORMS.get(dialect, []):
        tree = tree.transform(transform, copy=False)
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


def trino_sql(query: CheckedQuery, table: str, window: Window) -> str:
    """The SQL a Trino runs, Athena's or one's own: each view the query names, over Teleport's
    `table` (already quoted) and the window's partitions, then the query, in Trino's dialect."""
    defined = all_views()
    view_sql = {name: trino_view(defined[name], table, window, query.raw) for name in query.views}
    return with_views(query.tree, view_sql, "trino")
