"""Trino's `real` (a 32-bit float) kept a real on DuckDB, so it prints as Trino prints it.

DuckDB's FLOAT is the same type, and its arithmetic keeps it (`r / 2`, `round(r)`, `-r`), but
avg and sum of a FLOAT give a DOUBLE there and a real on Trino, and sign gives an integer:
those are cast back. The text of `CAST(r AS varchar)` is Java's (`1.0E-1`) on Trino: refused.
Reals come from a CAST (no view column is a real), so they are recognised by their shape.
"""

from __future__ import annotations

from sqlglot import exp

from accessmon.errors import QueryError

_REAL = exp.DataType.Type.FLOAT
#: What gives a real when its arguments are reals (or integers, for arithmetic).
_KEEPS_REAL = (exp.Paren, exp.Neg, exp.Abs, exp.Round, exp.Floor, exp.Ceil, exp.Max, exp.Min,
               exp.AnyValue)  # fmt: skip
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)
_INTEGERS = (exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT,
             exp.DataType.Type.BIGINT)  # fmt: skip


def is_real(node: exp.Expression | None) -> bool:
    """A Trino real, as far as its shape tells: a CAST to real, and what keeps one a real."""
    if isinstance(node, exp.Cast | exp.TryCast):
        return node.to.is_type(_REAL)
    if isinstance(node, _KEEPS_REAL):
        return is_real(node.this)
    if isinstance(node, _ARITHMETIC):
        sides = (node.this, node.expression)
        return any(is_real(s) for s in sides) and all(is_real(s) or _integer(s) for s in sides)
    return False


def _integer(node: exp.Expression) -> bool:
    if isinstance(node, exp.Literal):
        return not node.is_string and node.this.isdigit()
    return isinstance(node, exp.Cast | exp.TryCast) and node.to.is_type(*_INTEGERS)


def reals(node: exp.Expression) -> exp.Expression:
    """avg, sum and sign of a real stay reals, as on Trino; a real's text is refused."""
    parent = node.parent
    if isinstance(parent, exp.Window | exp.Filter) and parent.this is node:
        return node  # the window or FILTER around it is cast
    inner = node
    while isinstance(inner, exp.Window | exp.Filter):
        inner = inner.this
    if isinstance(inner, exp.Avg | exp.Sum | exp.Sign) and is_real(inner.this):
        if isinstance(parent, exp.Cast) and parent.to.is_type(_REAL):
            return node
        return exp.Cast(this=node.copy(), to=exp.DataType.build("REAL"))
    if (
        isinstance(node, exp.Cast | exp.TryCast)
        and node.to.is_type(*exp.DataType.TEXT_TYPES)
        and is_real(node.this)
    ):
        raise QueryError(
            "CAST of a real to varchar is not available on the local engine (Trino writes "
            "1.0E-1); select the real itself, which prints as on Trino, or --engine athena"
        )
    return node
