"""Analyst SQL is Trino (Athena engine v3); this admits one read-only SELECT over the views.

Everything else is refused here, before any engine sees it. The DuckDB sandbox
(external access off, configuration locked) is the second layer, not the first.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.schema import MappingSchema
from sqlglot.tokens import TokenType

from .errors import QueryError
from .views import all_views, did_you_mean

logging.getLogger("sqlglot").setLevel(logging.ERROR)

DIALECT = "trino"

_WRITES = {
    "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "REPLACE",
    "UPSERT", "GRANT", "REVOKE", "COMMENT", "RENAME", "VACUUM", "CHECKPOINT", "ANALYZE",
    "REFRESH", "BEGIN", "COMMIT", "ROLLBACK", "START", "ABORT", "DEALLOCATE", "PREPARE",
    "EXECUTE",
}  # fmt: skip
_STARTS = {"SELECT", "WITH", "(", "VALUES"}

#: Functions that reach the engine's files, settings, catalogs or extensions.
_FORBIDDEN_FUNCTION_PREFIXES = (
    "read_", "parquet_", "duckdb_", "pragma_", "sqlite_", "postgres_", "mysql_", "iceberg_",
    "delta_", "json_execute", "sniff_", "glob", "current_setting", "getvariable",
    "setvariable", "getenv", "enable_", "disable_", "load", "install", "checkpoint",
    "force_checkpoint", "query", "query_table", "http_", "which_secret", "system",
    "pg_", "has_", "col_description", "obj_description", "shobj_description",
    "current_", "txid_", "version",
    "import_database", "export_database", "summary", "test_", "repeat_row",
    "generate_series",
    "columns",  # DuckDB's COLUMNS(regex) would reach columns the views do not show
)  # fmt: skip
_ALLOWED_FUNCTIONS = {
    "unnest", "current_date", "current_time", "current_timestamp", "current_timezone",
    "localtime", "localtimestamp",
}  # fmt: skip


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed validation: its tree and the views it reads."""

    sql: str
    tree: exp.Query
    views: tuple[str, ...]


def _statements(sql: str) -> list[list]:
    try:
        tokens = _tokenize(sql)
    except TokenError as e:
        raise QueryError(f"syntax error: {e}") from None
    groups: list[list] = [[]]
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            groups.append([])
        else:
            groups[-1].append(tok)
    return [g for g in groups if g]


def _tokenize(sql: str):
    return sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)


def _refuse_statement(first) -> None:
    word = first.text.upper()
    col = first.col - len(first.text) + 1
    if word in _STARTS or first.token_type in (TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN):
        return
    if word in _WRITES:
        raise QueryError(f"{word} is not allowed: queries are read-only", line=first.line, col=col)
    raise QueryError(
        f"{word} is not allowed: only SELECT queries over the audit views can run",
        line=first.line,
        col=col,
    )


def _function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower()


def _check_function(node: exp.Expression) -> None:
    name = _function_name(node)
    if name in _ALLOWED_FUNCTIONS:
        return
    if name.startswith(_FORBIDDEN_FUNCTION_PREFIXES) or isinstance(node, exp.ReadCSV):
        raise QueryError(f"function {name}() is not allowed: it reaches outside the audit views")


def _cte_references(tree: exp.Query) -> set[int]:
    """The Table nodes that name a CTE visible in their own scope.

    A CTE defined in one subquery does not make the same name safe elsewhere; if sqlglot
    cannot build the scopes, no table counts as a CTE and all must be views (fail closed).
    """
    refs: set[int] = set()
    try:
        for scope in traverse_scope(tree):
            visible = {name.lower() for name in scope.cte_sources}
            for table in scope.tables:
                if table.name.lower() in visible and not table.args.get("db"):
                    refs.add(id(table))
    except Exception:
        return set()
    return refs


def check_query(sql: str) -> CheckedQuery:
    """Parse `sql` as Trino and admit it only if it is one SELECT over the audit views."""
    if not sql or not sql.strip():
        raise QueryError("the query is empty")
    statements = _statements(sql)
    if not statements:
        raise QueryError("the query is empty")
    for group in statements:
        _refuse_statement(group[0])
    if len(statements) > 1:
        raise QueryError(f"exactly one statement is allowed, got {len(statements)}")
    try:
        trees = [t for t in sqlglot.parse(sql, read=DIALECT, error_level=ErrorLevel.RAISE) if t]
    except ParseError as e:
        err = e.errors[0] if e.errors else {}
        desc = re.sub(
            r"Required keyword: '\w+' missing for <class '[\w.]+\.(\w+)'>",
            lambda m: f"incomplete {m.group(1).upper()} clause",
            err.get("description") or str(e),
        )
        near = err.get("highlight")
        msg = f"syntax error: {desc}" + (f" near '{near}'" if near else "")
        raise QueryError(msg, line=err.get("line"), col=err.get("col")) from None
    tree = trees[0]
    if not isinstance(tree, exp.Query):
        raise QueryError(
            f"{tree.key.upper()} is not allowed: only SELECT queries over the audit views can run"
        )
    for node in tree.walk():
        if isinstance(node, exp.Command | exp.DDL | exp.DML | exp.Set | exp.Pragma):
            raise QueryError(f"{node.key.upper()} is not allowed: queries are read-only")
        if isinstance(node, exp.Func):
            _check_function(node)
    views = _check_tables(tree)
    _check_columns(tree, views)
    return CheckedQuery(sql=sql, tree=tree, views=views)


_UNRESOLVED = re.compile(r"Column '([^']+)' could not be resolved(?:\. Line: (\d+), Col: (\d+))?")


@cache
def _schema() -> MappingSchema:
    """The views as sqlglot's schema, built once: normalising it costs more than a query."""
    views = {v.name: {c.name: c.type for c in v.columns} for v in all_views().values()}
    return MappingSchema(views, dialect=DIALECT)


def _check_columns(tree: exp.Query, views: tuple[str, ...]) -> None:
    """Resolve every column against the views, as Athena does; DuckDB would otherwise read a
    missing `user` column as its current_user function and answer 'duckdb'."""
    try:
        qualify(tree.copy(), schema=_schema(), dialect=DIALECT, validate_qualify_columns=True,
                quote_identifiers=False, identify=False)  # fmt: skip
    except OptimizeError as e:
        m = _UNRESOLVED.search(str(e))
        if not m:
            raise QueryError(str(e).split(". Line:")[0]) from None
        column = m.group(1)
        names = [c for v in views for c in all_views()[v].column_names]
        where = ", ".join(views) or "the query"
        suffixed = [n for n in names if n.endswith("_" + column.lower())]
        hint = (
            f" (did you mean {' or '.join(suffixed)}?)" if suffixed else did_you_mean(column, names)
        )
        raise QueryError(
            f"unknown column {column} in {where}{hint}",
            line=int(m.group(2)) if m.group(2) else None,
            col=int(m.group(3)) - len(column) + 1 if m.group(3) else None,
        ) from None
    except Exception:  # an optimizer gap must not refuse a valid query
        return


def _check_tables(tree: exp.Query) -> tuple[str, ...]:
    known = all_views()
    cte_refs = _cte_references(tree)
    used: list[str] = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            func = table.this
            name = _function_name(func) if isinstance(func, exp.Func) else func.sql(DIALECT)
            raise QueryError(
                f"table function {name}() is not allowed: only the audit views can be queried"
            )
        name = table.name
        qualified = ".".join(p.name for p in table.parts)
        if table.args.get("db") or table.args.get("catalog"):
            raise QueryError(
                f"{qualified} is not allowed: system catalogs and schemas cannot be queried, "
                "only the audit views"
            )
        if "/" in name or "\\" in name or "." in name or name.startswith("~"):
            raise QueryError(f"file paths are not allowed: {name!r} is not an audit view")
        key = name.lower()
        if id(table) in cte_refs:
            continue
        if key in {"information_schema", "pg_catalog", "sqlite_master", "duckdb_tables"}:
            raise QueryError(f"{name} is not allowed: system catalogs cannot be queried")
        if key not in known:
            raise QueryError(f"unknown view {name}{did_you_mean(key, known, n=1)}")
        if key not in used:
            used.append(key)
    return tuple(used)
