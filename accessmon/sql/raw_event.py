"""`event_data`, every view's hidden column: the whole event as Teleport stored it.

Teleport's views turn an event's JSON into columns, but objects with free-form keys
(`identity.traits`, `attributes`, `annotations`) have none: an analyst reads them from the
JSON. Like Trino's hidden `$path` column, `event_data` is there when a query names it and
is never part of `*`, so `SELECT *` keeps exactly Teleport's columns.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

RAW_COLUMN = "event_data"
#: What `accessmon schema` and the editor say of it.
RAW_NOTE = "the whole event as JSON, read when a query names it; SELECT * leaves it out"


def reads_raw(tree: exp.Expression) -> bool:
    """Whether the query names `event_data` (a lambda's own parameter of that name aside)."""
    for column in tree.find_all(exp.Column):
        if column.name.lower() != RAW_COLUMN:
            continue
        lam = column.find_ancestor(exp.Lambda)
        shadowed = lam is not None and any(p.name.lower() == RAW_COLUMN for p in lam.expressions)
        if not (shadowed and not column.table):
            return True
    return False


def expand_view_stars(tree: exp.Query, columns: Mapping[str, tuple[str, ...]]) -> None:
    """Spell out each `*` and `v.*` over a view as the view's own columns, in place, so the
    hidden column a query named stays out of them. A view here is a table `columns` names
    that no CTE of the query shadows; a `*` over a subquery or CTE lists what that relation
    selects, whose own stars are spelled out the same way."""
    own = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for select in list(tree.find_all(exp.Select)):
        sources = relations(select)
        views = {alias: name for alias, name in sources if name is not None and name not in own}
        if not views:
            continue
        expanded: list[exp.Expression] = []
        for item in select.expressions:
            if isinstance(item, exp.Star):
                expanded += _allrelations(sources, views, columns, qualify=len(sources) > 1)
            elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                alias = item.table.lower()
                if alias in views:
                    expanded += _view_columns(alias, columns[views[alias]], qualify=True)
                else:
                    expanded.append(item)
            else:
                expanded.append(item)
        select.set("expressions", expanded)


def relations(select: exp.Select) -> list[tuple[str, str | None]]:
    """The relations of a SELECT's FROM and JOINs, in order: (alias, table name or None)."""
    found: list[tuple[str, str | None]] = []
    from_ = select.args.get("from_") or select.args.get("from")
    for node in [from_, *(select.args.get("joins") or [])]:
        if node is None:
            continue
        source = node.this
        alias = source.alias_or_name.lower()
        name = source.name.lower() if isinstance(source, exp.Table) else None
        found.append((alias, name))
    return found


def _view_columns(alias: str, names: tuple[str, ...], qualify: bool) -> list[exp.Expression]:
    return [exp.column(n, table=alias if qualify else None, quoted=True) for n in names]


def _allrelations(
    sources: list[tuple[str, str | None]],
    views: Mapping[str, str],
    columns: Mapping[str, tuple[str, ...]],
    qualify: bool,
) -> list[exp.Expression]:
    """A bare `*`: each view's columns, and `alias.*` for any other relation."""
    out: list[exp.Expression] = []
    for alias, _ in sources:
        if alias in views:
            out += _view_columns(alias, columns[views[alias]], qualify)
        elif alias:
            out.append(exp.Column(this=exp.Star(), table=exp.to_identifier(alias)))
        else:  # an unnamed relation cannot be spelled out: the `*` stays as written
            return [exp.Star()]
    return out
