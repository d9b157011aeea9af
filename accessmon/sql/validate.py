"""Analyst SQL is Trino (Athena engine v3); this admits one read-only SELECT over the views.

Everything else is refused here, before any engine sees it. The DuckDB sandbox
(external access off, configuration locked) is the second layer, not the first.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import time
import unicodedata
from dataclasses import dataclass, field
from functools import cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.schema import MappingSchema
from sqlglot.tokens import TokenType

from accessmon.errors import QueryError
from accessmon.names import did_you_mean
from accessmon.sql.raw_event import RAW_COLUMN, expand_view_stars, reads_raw
from accessmon.sql.views import all_views

logging.getLogger("sqlglot").setLevel(logging.ERROR)

DIALECT = "trino"

_WRITES = {
    "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "REPLACE",
    "UPSERT", "GRANT", "REVOKE", "COMMENT", "RENAME", "VACUUM", "CHECKPOINT", "ANALYZE",
    "REFRESH", "BEGIN", "COMMIT", "ROLLBACK", "START", "ABORT", "DEALLOCATE", "PREPARE",
    "EXECUTE",
}  # fmt: skip
_STARTS = {"SELECT", "WITH", "(", "VALUES"}
#: The words a statement starts with (Trino's and DuckDB's): one of them is refused as a
#: matter of policy; an unknown word close to one (`SELEC`) is a typo, a syntax error.
_STATEMENT_KEYWORDS = frozenset({
    "SELECT", "WITH", "VALUES", *_WRITES, "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "SET", "RESET",
    "USE", "ATTACH", "DETACH", "COPY", "PRAGMA", "INSTALL", "LOAD", "FORCE", "CALL", "EXPORT",
    "IMPORT", "SUMMARIZE", "FROM", "TABLE", "DEFAULT",
})  # fmt: skip

#: Every function analyst SQL may not call, in one place (the README's "Limits" lists them).
#: A pattern ending in `*` is a prefix; names are compared in their canonical form.
REFUSED_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "reads files or other databases": (
        "read_*", "parquet_*", "glob*", "sniff_*", "sqlite_*", "postgres_*", "mysql_*",
        "iceberg_*", "delta_*", "http_*", "copy_database*", "import_database*",
        "export_database*", "seq_scan*", "arrow_scan*", "pandas_scan*", "python_*",
    ),
    "runs or shows SQL text or plans": (
        "query*", "json_serialize_*", "json_deserialize_*", "json_execute*", "current_query*",
    ),
    "reads or changes settings, variables or state": (
        "current_setting*", "getvariable*", "setvariable*", "getenv*", "enable_*", "disable_*",
        "pragma_*", "load*", "install*", "checkpoint*", "force_checkpoint*", "verify_*",
        "add_*", "remove_grammar_extension*", "*external_resource*", "setseed*", "nextval*",
        "currval*", "setval*", "write_log*", "truncate_duckdb_logs*", "parse_duckdb_log*",
        "which_secret*", "get_block_size*", "system*",
    ),
    "reads the catalog or the host": (
        "duckdb_*", "pg_*", "has_*", "col_description*", "obj_description*",
        "shobj_description*", "current_*", "session_user*", "user", "txid_*", "version*",
        "platform*", "user_agent*", "extension_versions*", "database_list*", "database_size*",
        "functions*", "table_info*", "storage_info*", "metadata_info*", "in_search_path*",
        "inet_*", "summary*", "show*", "test_*", "__*",
    ),
    "makes rows without bound": ("generate_series*", "repeat_row*"),
    "reaches columns the views do not show": ("columns*",),  # DuckDB's COLUMNS(regex)
}  # fmt: skip
_ALLOWED_FUNCTIONS = {
    "unnest", "current_date", "current_time", "current_timestamp", "current_timezone",
    "localtime", "localtimestamp",
}  # fmt: skip

#: Bounds on the work one query may ask for (the README's "Limits").
MAX_QUERY_CHARS = 100_000
MAX_TOKENS = 20_000
#: Levels of the syntax tree: parentheses, subqueries, calls, and each OR of a chain.
MAX_NESTING = 128
#: Levels of parentheses and brackets, checked before parsing (sqlglot recurses about twenty
#: Python frames per level).
MAX_PARENTHESES = 24
#: Elements or characters one call of range(), repeat(), lpad(), printf()... may make per row.
MAX_GENERATED = 10_000
#: The width a text of unknown length counts for in repeat(text, n).
_UNKNOWN_WIDTH = 100


def canonical(name: str) -> str:
    """A name as it is compared everywhere: Unicode NFKC and case folding, so that a KELVIN
    SIGN is a K. The query's table, CTE and function names are rewritten to this form, so the
    engine resolves exactly the names that were checked."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def refused_reason(name: str) -> str | None:
    """Why a function may not be called, or None if it may."""
    key = canonical(name)
    if key in _ALLOWED_FUNCTIONS:
        return None
    for reason, patterns in REFUSED_FUNCTIONS.items():
        if any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns):
            return reason
    return None


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed validation: its tree and the views it reads."""

    sql: str
    tree: exp.Query
    views: tuple[str, ...]
    #: whether the query names the views' hidden column `event_data` (see sql.raw_event)
    raw: bool = False
    #: time.monotonic() when validation began: the engine's timeout counts from here
    started: float = field(default_factory=time.monotonic, compare=False)


def _statements(sql: str) -> list[list]:
    if len(sql) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is too long: {len(sql)} characters, the limit is {MAX_QUERY_CHARS}"
        )
    try:
        tokens = _tokenize(sql)
    except TokenError as e:
        raise QueryError(f"syntax error: {e}") from None
    if len(tokens) > MAX_TOKENS:
        raise QueryError(
            f"the query is too long: {len(tokens)} tokens, the limit is {MAX_TOKENS} "
            "(a long OR chain is shorter as `x IN (...)`)"
        )
    groups: list[list] = [[]]
    depth = 0
    for tok in tokens:
        if tok.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE):
            depth += 1
            if depth > MAX_PARENTHESES:
                raise _too_deep(f"{MAX_PARENTHESES} levels of parentheses", tok.line, tok.col)
        elif tok.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE):
            depth -= 1
        if tok.token_type == TokenType.SEMICOLON:
            groups.append([])
        else:
            groups[-1].append(tok)
    return [g for g in groups if g]


def _too_deep(
    limit: str = f"{MAX_NESTING} levels of subqueries, calls and chained operators",
    line: int | None = None,
    col: int | None = None,
) -> QueryError:
    return QueryError(
        f"the query nests too deeply: the limit is {limit} "
        "(a long OR chain is shorter as `x IN (...)`)",
        line=line,
        col=col,
    )


def _check_depth(tree: exp.Expression) -> None:
    """Refuse trees deeper than MAX_NESTING before anything recursive walks them: sqlglot's
    optimizer recurses (RecursionError) and is quadratic in the depth (minutes for long ORs)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise _too_deep()
        stack.extend((child, depth + 1) for child in node.iter_expressions())


def _tokenize(sql: str):
    return sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)


def _refuse_statement(first) -> None:
    word = first.text.upper()
    col = first.col - len(first.text) + 1
    if word in _STARTS or first.token_type in (TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN):
        return
    if word in _WRITES:
        raise QueryError(f"{word} is not allowed: queries are read-only", line=first.line, col=col)
    hint = "" if word in _STATEMENT_KEYWORDS else did_you_mean(word, sorted(_STATEMENT_KEYWORDS), 1)
    if hint:  # SELEC is a typo, not a matter of policy
        raise QueryError(
            f"syntax error: unknown statement {first.text}{hint}", line=first.line, col=col
        )
    raise QueryError(
        f"{word} is not allowed: only SELECT queries over the audit views can run",
        line=first.line,
        col=col,
    )


def _function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        # a quoted name ("current_setting"(...)) is an Identifier, not a str
        name = node.this.name if isinstance(node.this, exp.Identifier) else str(node.this)
        return canonical(name)
    return canonical(node.sql_name())


def _check_function(node: exp.Expression) -> None:
    if isinstance(node, exp.GenerateSeries):
        return  # Trino's sequence(): bounded in _generated_size
    name = _function_name(node)
    reason = refused_reason(name) or ("reads files" if isinstance(node, exp.ReadCSV) else None)
    if reason:
        raise QueryError(
            f"function {name}() is not allowed: it reaches outside the audit views ({reason})"
        )


def _cte_references(tree: exp.Query) -> set[int]:
    """The Table nodes that name a CTE visible in their own scope.

    A CTE defined in one subquery does not make the same name safe elsewhere; if sqlglot
    cannot build the scopes, no table counts as a CTE and all must be views (fail closed).
    """
    refs: set[int] = set()
    try:
        for scope in traverse_scope(tree):
            visible = {canonical(name) for name in scope.cte_sources}
            for table in scope.tables:
                if canonical(table.name) in visible and not table.args.get("db"):
                    refs.add(id(table))
    except Exception:
        return set()
    return refs


def check_query(sql: str) -> CheckedQuery:
    """Parse `sql` as Trino and admit it only if it is one SELECT over the audit views."""
    started = time.monotonic()
    try:
        return _check_query(sql, started)
    except RecursionError:  # a nesting the limits above did not foresee: refuse, never crash
        raise _too_deep() from None


def _check_query(sql: str, started: float) -> CheckedQuery:
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
    _check_depth(tree)
    _canonical_names(tree)
    for node in tree.walk():
        if isinstance(node, exp.Command | exp.DDL | exp.DML | exp.Set | exp.Pragma):
            raise QueryError(f"{node.key.upper()} is not allowed: queries are read-only")
        if isinstance(node, exp.Func):
            _check_function(node)
    check_generated_sizes(tree)
    views = _check_tables(tree)
    _check_columns(tree, views)
    raw = reads_raw(tree)
    if raw:
        expand_view_stars(tree, {v.name: v.column_names for v in all_views().values()})
    return CheckedQuery(sql=sql, tree=tree, views=views, raw=raw, started=started)


def _canonical_names(tree: exp.Query) -> None:
    """Rewrite table, CTE and function names to their canonical form, in place.

    The checks below compare canonical names; DuckDB compares names its own way (a KELVIN
    SIGN is no K to it). Sending it the canonical names makes both sides agree, so a CTE
    named with a look-alike letter shadows exactly what the checks think it shadows."""
    for node in tree.walk():
        if isinstance(node, exp.Table | exp.TableAlias) and isinstance(node.this, exp.Identifier):
            _canonical_identifier(node.this)  # tables, CTE names, table aliases
        elif isinstance(node, exp.Column) and isinstance(node.args.get("table"), exp.Identifier):
            _canonical_identifier(node.args["table"])  # the alias or table a column names
        elif isinstance(node, exp.Anonymous) and isinstance(node.this, exp.Identifier):
            _canonical_identifier(node.this)
        elif (
            isinstance(node, exp.Anonymous)
            and isinstance(node.this, str)
            and canonical(node.this) != node.this.lower()
        ):
            node.set("this", canonical(node.this))


def _canonical_identifier(ident: exp.Identifier) -> None:
    name = canonical(ident.name)
    if name != ident.name:
        ident.set("this", name)
        ident.set("quoted", True)


# -- bounded generators -----------------------------------------------------------------------


def _constant(node: exp.Expression | None) -> int | float | None:
    """The value of a constant number (literals, signs, + - * / and casts), else None."""
    if isinstance(node, exp.Paren | exp.Cast | exp.TryCast):
        return _constant(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(node.this)
        except ValueError:
            try:
                return float(node.this)
            except ValueError:
                return None
    if isinstance(node, exp.Neg):
        value = _constant(node.this)
        return None if value is None else -value
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div):
        a, b = _constant(node.this), _constant(node.expression)
        if a is None or b is None:
            return None
        if isinstance(node, exp.Div):
            return None if b == 0 else a / b
        value = (
            a + b if isinstance(node, exp.Add) else a - b if isinstance(node, exp.Sub) else a * b
        )
        return value if abs(value) < 2**63 else float("inf")
    return None


def _count(call: str, what: str, node: exp.Expression | None) -> int:
    """A count argument: a constant whole number no larger than MAX_GENERATED."""
    value = _constant(node)
    if value is None:
        raise QueryError(
            f"{call}(): the {what} must be a constant number, at most {MAX_GENERATED}: "
            "a value from the data could ask for any amount of memory"
        )
    if value > MAX_GENERATED:
        shown = int(value) if value != float("inf") else value
        raise QueryError(f"{call}(): the {what} {shown} is over the limit of {MAX_GENERATED}")
    return max(int(value), 0) if value == value else 0


def _width(node: exp.Expression) -> int:
    if isinstance(node, exp.Literal) and node.is_string:
        return len(node.this)
    if isinstance(node, exp.Array):
        return len(node.expressions)
    return _UNKNOWN_WIDTH


_FORMAT_NUMBER = re.compile(r"\d+")


def _format_size(call: str, node: exp.Expression | None) -> int:
    """printf and format pad to any width their format string names (`%0900000000d`)."""
    if not (isinstance(node, exp.Literal) and node.is_string):
        raise QueryError(f"{call}(): the format must be a constant text")
    text = node.this
    if "*" in text or re.search(r"\{[^{}]*\{", text):
        raise QueryError(f"{call}(): a width taken from the arguments is not allowed")
    widths = [int(n) for n in _FORMAT_NUMBER.findall(text)]
    if widths and max(widths) > MAX_GENERATED:
        raise QueryError(f"{call}(): the width {max(widths)} is over the limit of {MAX_GENERATED}")
    return max(widths, default=0) + len(text)


def _generated_size(node: exp.Expression) -> int | None:
    """Elements or characters one call makes per row, for the calls that make any amount
    of them from small arguments; None for every other node."""
    name = _function_name(node) if isinstance(node, exp.Func) else ""
    args = node.expressions if isinstance(node, exp.Anonymous) else []
    if name == "range":
        bounds = [_constant(a) for a in args]
        if not args or any(v is None or v != v or isinstance(v, float) for v in bounds):
            raise QueryError(
                f"range(): the bounds must be constant whole numbers, for at most "
                f"{MAX_GENERATED} elements"
            )
        size = len(range(*bounds)) if bounds[-1] != 0 or len(bounds) < 3 else 0
        if size > MAX_GENERATED:
            raise QueryError(f"range(): {size} elements is over the limit of {MAX_GENERATED}")
        return size
    if isinstance(node, exp.GenerateSeries):
        return _sequence_size(node)
    if isinstance(node, exp.Repeat):
        size = _count("repeat", "count", node.args.get("times")) * _width(node.this)
        if size > MAX_GENERATED:
            raise QueryError(f"repeat(): {size} characters is over the limit of {MAX_GENERATED}")
        return size
    if isinstance(node, exp.Space):
        return _count("space", "count", node.this)
    if isinstance(node, exp.Pad):
        return _count("lpad" if node.args.get("is_left") else "rpad", "length", node.expression)
    if name in ("list_resize", "array_resize"):
        return _count(name, "size", args[1] if len(args) > 1 else None)
    if name == "printf":
        return _format_size(name, args[0] if args else None)
    if isinstance(node, exp.Format):
        return _format_size("format", node.this)
    return None


def _sequence_size(node: exp.GenerateSeries) -> int:
    """Trino's sequence(start, stop[, step]), as sqlglot reads it: at most MAX_GENERATED
    elements (Trino's own limit is 10,000), from constant whole numbers only."""
    parts = [node.args.get(k) for k in ("start", "end", "step") if node.args.get(k) is not None]
    bounds = [_constant(a) for a in parts]
    if any(not isinstance(v, int) for v in bounds):
        raise QueryError(
            "sequence is not available on the local engine with bounds that are not constant "
            "whole numbers (such a call is not allowed: it could make rows without bound); use "
            f"constant bounds, at most {MAX_GENERATED} elements, or --engine athena"
        )
    start, stop, step = [*bounds, 1][:3]
    if step == 0:
        raise QueryError("sequence(): the step must not be zero")
    size = len(range(start, stop + (1 if step > 0 else -1), step))
    if size > MAX_GENERATED:
        raise QueryError(f"sequence(): {size} elements is over the limit of {MAX_GENERATED}")
    return size


def check_generated_sizes(tree: exp.Expression) -> None:
    """range(), repeat(), lpad(), printf()... allocate their whole result at once, outside
    DuckDB's memory_limit: bound each call, and the product of calls nested in each other
    or in a lambda over the result of one (which runs once per element)."""
    sizes = {id(n): size for n in tree.walk() if (size := _generated_size(n)) is not None}
    if not sizes:
        return
    for node in tree.walk():
        if id(node) not in sizes:
            continue
        total, child, parent = sizes[id(node)], node, node.parent
        while parent is not None:
            if id(parent) in sizes:
                total *= max(sizes[id(parent)], 1)
            if isinstance(child, exp.Lambda):  # the lambda runs once per element of the list
                for arg in parent.iter_expressions():
                    if arg is not child:
                        for inner in arg.walk():
                            total *= max(sizes.get(id(inner), 1), 1)
            if total > MAX_GENERATED:
                raise QueryError(
                    f"{_function_name(node)}() inside another call would make {total} elements "
                    f"or characters per row, over the limit of {MAX_GENERATED}"
                )
            child, parent = parent, parent.parent


_UNRESOLVED = re.compile(r"Column '([^']+)' could not be resolved(?:\. Line: (\d+), Col: (\d+))?")


@cache
def _schema() -> MappingSchema:
    """The views as sqlglot's schema, built once: normalising it costs more than a query."""
    views = {
        v.name: {c.name: c.type for c in v.columns} | {RAW_COLUMN: "varchar"}
        for v in all_views().values()
    }
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
        names = [c for v in views for c in (*all_views()[v].column_names, RAW_COLUMN)]
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
        key = canonical(name)
        if id(table) in cte_refs:
            continue
        if key in {"information_schema", "pg_catalog", "sqlite_master", "duckdb_tables"}:
            raise QueryError(f"{name} is not allowed: system catalogs cannot be queried")
        if key not in known:
            raise QueryError(f"unknown view {name}{did_you_mean(key, known, n=1)}")
        if key not in used:
            used.append(key)
    return tuple(used)
