"""Numbers as Trino types them, made to give Trino's answers on DuckDB: integer division and
overflow, and decimals (`7.0 / 2` is decimal(2,1) 3.5 on Trino, a double on DuckDB).

Trino's decimal rules (Trino's documentation, "Decimal functions", checked against a real
Trino by tests/trino/test_corpus_arrays.py): a literal `1.10` is decimal(3,2), an integer
is decimal(10,0) and a bigint decimal(19,0) beside a decimal; `a / b` has the larger scale of
the two, its last digit rounded half away from zero; round(x, n) and truncate(x, n) keep x's
scale; avg of a decimal is a decimal of its type. DuckDB agrees on literals, `+ - * %`,
ceil, floor, abs and sum; the rest is rewritten here.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from accessmon.errors import QueryError
from accessmon.sql.validate import DIALECT, _schema

#: (precision, scale) of a decimal, as Trino types it.
Decimal = tuple[int, int]
_MAX = 38
#: Integer types beside a decimal: the decimal they widen to (Trino: integer is decimal(10,0)).
_INTEGER_DIGITS = {
    exp.DataType.Type.TINYINT: 3,
    exp.DataType.Type.SMALLINT: 5,
    exp.DataType.Type.INT: 10,
    exp.DataType.Type.BIGINT: 19,
}


def typed_twins(
    node: exp.Expression, kinds: tuple[type, ...]
) -> list[tuple[exp.Expression, exp.Expression]] | None:
    """Each node of `kinds` in the query with its twin in a typed copy (sqlglot's type pass
    over the views' columns), innermost first, so a rewrite sees its operands rewritten
    already; None when the query cannot be typed."""
    originals = list(node.find_all(*kinds))
    if not originals:
        return []
    try:
        typed = qualify(node.copy(), schema=_schema(), dialect=DIALECT, quote_identifiers=False,
                        identify=False, validate_qualify_columns=False)  # fmt: skip
        annotate_types(typed, schema=_schema(), dialect=DIALECT)
        _link_sources(typed)
    except (SqlglotError, KeyError, ValueError):
        return None
    twins = list(typed.find_all(*kinds))
    if [type(n) for n in twins] != [type(n) for n in originals]:
        return None
    return list(reversed(list(zip(originals, twins, strict=True))))


_SOURCE = "trino_source"


def _link_sources(typed: exp.Expression) -> None:
    """Mark each column read from a CTE or subquery with the expressions it selects there
    (each branch of a UNION): sqlglot types `1.5` as a double, so a CTE's `ei * 1.5 AS x`
    would make `avg(x)` a double's; decimal_type follows the mark instead."""
    for scope in traverse_scope(typed):
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if not isinstance(source, Scope):
                continue
            query = source.expression
            branches = [query]
            while branches and isinstance(branches[0], exp.SetOperation):
                top = branches.pop(0)
                branches[:0] = [top.left, top.right]
            if not all(isinstance(b, exp.Select) for b in branches):
                continue
            names = [p.alias_or_name for p in branches[0].selects]  # the first names them
            if names.count(column.name) != 1:
                continue
            at = names.index(column.name)
            if all(len(b.selects) == len(names) for b in branches):
                column.meta[_SOURCE] = [b.selects[at].unalias() for b in branches]


def _literal_decimal(text: str) -> Decimal | None:
    """`1.10` is decimal(3,2), `007.50` decimal(3,2), `.5` decimal(1,1); `1e3` is a double."""
    if "e" in text.lower() or "." not in text:
        return None
    whole, _, frac = text.lstrip("+-").partition(".")
    return max(len(whole.lstrip("0")) + len(frac), 1), len(frac)


def _integer_digits(node: exp.Expression) -> int | None:
    if node.is_int:
        return 10 if -(2**31) <= int(node.this) < 2**31 else 19
    if node.type is not None:
        return _INTEGER_DIGITS.get(node.type.this)
    return None


def decimal_type(node: exp.Expression) -> Decimal | None:
    """Trino's decimal type of an expression, or None if it is no decimal (or unknown).
    Works on a typed twin (columns typed) and, less completely, on an untyped tree."""
    if isinstance(node, exp.Paren | exp.Neg | exp.Abs):
        return decimal_type(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        return _literal_decimal(str(node.this))
    if isinstance(node, exp.Cast | exp.TryCast):
        if not node.to.is_type(exp.DataType.Type.DECIMAL):
            return None
        params = [int(p.this.this) for p in node.to.expressions]
        return (params[0], params[1] if len(params) > 1 else 0) if params else (_MAX, 0)
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Mod):
        return _arithmetic(node)
    if isinstance(node, exp.Round | exp.Trunc):
        x = decimal_type(node.this)
        if x is None:
            return None
        if node.args.get("decimals") is None:  # round(x): no fraction left
            return min(_MAX, x[0] - x[1] + min(x[1], 1)), 0
        return (min(_MAX, x[0] + 1), x[1]) if isinstance(node, exp.Round) else x
    if isinstance(node, exp.Avg | exp.Min | exp.Max):
        return decimal_type(node.this)
    if isinstance(node, exp.Sum):
        x = decimal_type(node.this)
        return (_MAX, x[1]) if x else None
    if isinstance(node, exp.Column) and _SOURCE in node.meta:
        return _common(node.meta[_SOURCE])
    if node.type is not None and node.type.is_type(exp.DataType.Type.DECIMAL):
        params = [int(p.this.this) for p in node.type.expressions if p.this.is_int]
        return (params[0], params[1]) if len(params) == 2 else None
    return None


def _common(sources: list[exp.Expression]) -> Decimal | None:
    """The decimal a column read from a CTE, subquery or UNION has: Trino's common super type
    of its branches, if one is a decimal and the others decimals or integers."""
    decimals = [decimal_type(p) for p in sources]
    if all(d is None for d in decimals):
        return None
    types = [d or _operand(p) for d, p in zip(decimals, sources, strict=True)]
    if any(t is None for t in types):
        return None
    scale = max(t[1] for t in types if t)
    return min(_MAX, max(t[0] - t[1] for t in types if t) + scale), scale


def _operand(node: exp.Expression) -> Decimal | None:
    """A decimal, or an integer as the decimal Trino widens it to."""
    found = decimal_type(node)
    if found is not None:
        return found
    digits = _integer_digits(node)
    return (digits, 0) if digits else None


def _arithmetic(node: exp.Expression) -> Decimal | None:
    a, b = decimal_type(node.this), decimal_type(node.expression)
    if a is None and b is None:
        return None
    a, b = a or _operand(node.this), b or _operand(node.expression)
    if a is None or b is None:  # a double (or unknown) beside a decimal: a double
        return None
    (p1, s1), (p2, s2) = a, b
    s = max(s1, s2)
    if isinstance(node, exp.Add | exp.Sub):
        p = 1 + s + max(p1 - s1, p2 - s2)
    elif isinstance(node, exp.Mul):
        p, s = p1 + p2, s1 + s2
    elif isinstance(node, exp.Div):
        p = p1 + s2 + max(0, s2 - s1)
    else:
        p = min(p1 - s1, p2 - s2) + s
    return min(_MAX, p), s


def _fill(template: str, **parts: exp.Expression) -> exp.Expression:
    tree = sqlglot.parse_one(template, read="duckdb")
    for column in list(tree.find_all(exp.Column)):
        if column.name.startswith("__") and not column.table:
            column.replace(parts[column.name[2:]].copy())
    return tree


def _unscaled(name: str, scale: int) -> str:
    """The integer a decimal of `scale` stands for (3.50 -> 350), as a HUGEINT."""
    return f"CAST((__{name}) * {10**scale} AS HUGEINT)" if scale else f"CAST(__{name} AS HUGEINT)"


def _scaled(integer: str, result: Decimal) -> str:
    """The decimal of type `result` an integer stands for (350 -> 3.50)."""
    p, s = result
    value = f"CAST({integer} AS DECIMAL(38, 0))"
    if s:
        value += f" * {'0.' + '0' * (s - 1) + '1'}"
    return f"CAST({value} AS DECIMAL({p}, {s}))"


def decimal_division(
    a: exp.Expression, b: exp.Expression, ta: Decimal, tb: Decimal, result: Decimal
) -> exp.Expression:
    """a / b as Trino divides decimals: exact, at the result's scale, the last digit rounded
    half away from zero; by zero, an error (DuckDB's `/` on decimals gives a double)."""
    shift = result[1] - ta[1] + tb[1]
    n = f"({_unscaled('a', ta[1])} * CAST('{10**shift}' AS HUGEINT))"
    d = _unscaled("b", tb[1])
    q = (
        f"(CASE WHEN ({n} < 0) <> ({d} < 0) THEN -1 ELSE 1 END "
        f"* ((2 * abs({n}) + abs({d})) // (2 * abs({d}))))"
    )
    return _fill(_scaled(q, result), a=a, b=b)


def _is_double(node: exp.Expression) -> bool:
    if isinstance(node, exp.Literal) and not node.is_string:
        return "e" in str(node.this).lower()
    return node.type is not None and node.type.is_type(
        exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT
    )


def _decimal_to_duckdb(original: exp.Expression, twin: exp.Expression) -> None:
    """One node of the decimal rewrites, in place."""
    if isinstance(original, exp.Div):
        result = decimal_type(twin)
        a, b = _operand(twin.this), _operand(twin.expression)
        if result and a and b:
            original.replace(decimal_division(original.this, original.expression, a, b, result))
    elif isinstance(original, exp.Round | exp.Trunc) and original.args.get("decimals"):
        result = decimal_type(twin)
        if result:
            original.replace(exp.Cast(this=original.copy(), to=_decimal_sql(result)))
    elif isinstance(original, exp.Avg) and not isinstance(original.parent, exp.Window):
        x = decimal_type(twin.this)
        if x:  # the exact mean, at x's scale; NULL over no rows
            total, count = exp.Sum(this=original.this.copy()), exp.Count(this=original.this.copy())
            mean = decimal_division(total, count, (_MAX, x[1]), (19, 0), x)
            original.replace(_fill("CASE WHEN __n = 0 THEN NULL ELSE __m END", n=count, m=mean))
    elif isinstance(original, exp.Cast | exp.TryCast) and original.to.is_type(
        exp.DataType.Type.DECIMAL
    ):
        if not original.to.expressions:  # Trino's `decimal` is decimal(38,0), DuckDB's (18,3)
            original.set("to", _decimal_sql((_MAX, 0)))
        if _is_double(twin.this):  # Trino rounds the double's shortest text, as DuckDB's text
            text = exp.Cast(this=original.this.copy(), to=exp.DataType.build("VARCHAR"))
            original.set("this", text)


def _decimal_sql(result: Decimal) -> exp.DataType:
    return exp.DataType.build(f"DECIMAL({result[0]}, {result[1]})")


def has_decimal(node: exp.Expression) -> bool:
    """Whether a decimal literal or a cast to decimal is part of the expression."""
    return any(
        decimal_type(n) is not None
        for n in node.find_all(exp.Literal, exp.Cast)
        if not (isinstance(n, exp.Literal) and n.is_string)
    )


#: Uses refused by fidelity.refuse_unfaithful.
NOT_LOCAL_USES = [
    (
        "avg of a decimal in a window",
        lambda node: (
            isinstance(node, exp.Avg)
            and isinstance(node.parent, exp.Window)
            and has_decimal(node.this)
        ),
        "use avg(CAST(x AS double)) OVER (...),",
    ),
    (
        "round of a decimal to digits that are not a constant",
        lambda node: (
            isinstance(node, exp.Round)
            and node.args.get("decimals") is not None
            and not _constant(node.args["decimals"])
            and has_decimal(node.this)
        ),
        "use round(CAST(x AS double), n),",
    ),
]


def _constant(node: exp.Expression) -> bool:
    return node.is_int or (isinstance(node, exp.Neg) and node.this.is_int)


def _is_integer(node: exp.Expression) -> bool:
    return node.type is not None and node.type.is_type(*exp.DataType.INTEGER_TYPES)


def _as_bigint(node: exp.Expression) -> None:
    """Cast an aggregate (or its window) to BIGINT in place: DuckDB sums integers into a
    HUGEINT, Trino into a bigint (and fails past it, as the cast does)."""
    target = node.parent if isinstance(node.parent, exp.Window) else node
    target.replace(exp.Cast(this=target.copy(), to=exp.DataType.build("BIGINT")))


_KINDS = (exp.Div, exp.Sum, exp.Neg)
_DECIMAL_KINDS = (exp.Round, exp.Trunc, exp.Avg, exp.Cast, exp.TryCast)


def _integer_to_duckdb(original: exp.Expression, twin: exp.Expression) -> bool:
    """One node of the integer rewrites, in place; False if it is none of theirs."""
    if isinstance(twin, exp.Div) and _is_integer(twin.this) and _is_integer(twin.expression):
        original.replace(exp.IntDiv(this=original.this, expression=original.expression))
    elif isinstance(twin, exp.Sum) and _is_integer(twin.this):
        _as_bigint(original)
    elif isinstance(twin, exp.Neg) and _is_integer(twin.this) and not twin.this.is_number:
        original.replace(exp.Sub(this=exp.Literal.number(0), expression=original.this))
    else:
        return False
    return True


def trino_numbers_to_duckdb(node: exp.Expression) -> exp.Expression:
    """Integer and decimal arithmetic as Trino types it. An integer divided by an integer is
    an integer (truncated; by zero, an error), where DuckDB's `/` gives a double; sum() of
    integers is a bigint, where DuckDB's is a HUGEINT; negating a constant integer overflows,
    where DuckDB folds it into a wider type; decimals as the module says. Runs on the whole
    query once (at its root): the operand types come from sqlglot's type pass."""
    if node.parent is not None or not isinstance(node, exp.Query):
        return node
    present = {type(n) for n in node.walk()}  # one walk: a long IN list is thousands of nodes
    decimals = present & {exp.Literal, exp.Cast, exp.TryCast} and has_decimal(node)
    kinds = _KINDS + _DECIMAL_KINDS if decimals else _KINDS
    if present & {exp.Cast, exp.TryCast} and _text_casts(node):
        kinds += (exp.Cast, exp.TryCast)
    if not present.intersection(kinds):
        return node
    twins = typed_twins(node, kinds) or []
    for original, twin in twins:
        _refuse_double_text(original, twin)
    for original, twin in twins:
        if not _integer_to_duckdb(original, twin):
            _decimal_to_duckdb(original, twin)
    return node


def _text_casts(node: exp.Expression) -> bool:
    return any(c.to.is_type(*exp.DataType.TEXT_TYPES) for c in node.find_all(exp.Cast, exp.TryCast))


def _refuse_double_text(original: exp.Expression, twin: exp.Expression) -> None:
    """Trino writes a double cast to varchar in Java's scientific form (`2.5E0`, `1.0E7`),
    DuckDB as `2.5`: refused, where the double printed itself matches (accessmon.text)."""
    if (
        isinstance(original, exp.Cast | exp.TryCast)
        and original.to.is_type(*exp.DataType.TEXT_TYPES)
        and _is_double(twin.this)
        and not twin.this.type.is_type(exp.DataType.Type.FLOAT)  # reals: trino_reals says so
        and decimal_type(twin.this) is None
    ):
        raise QueryError(
            "cast of a double to varchar is not available on the local engine (Trino writes "
            "2.5E0); select the double itself, which prints as on Trino, or --engine athena"
        )


#: Applied before trino_time's rewrites, so the type pass sees Trino's own functions
#: (date_diff is a bigint; its DuckDB rewrite has no type sqlglot knows).
TRANSFORMS = [trino_numbers_to_duckdb]
