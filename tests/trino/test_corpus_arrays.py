"""The arrays/maps, aggregates, window, TRY/COALESCE and overflow corpus on accessmon's DuckDB
engine and, as the SQL accessmon renders for Athena, on a real Trino (issue 17).

One test runs every case, so Trino starts once and the report lists every difference."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pyarrow as pa

from accessmon.errors import AccessmonError
from accessmon.window import Window
from tests.trino.compare import normal, same_value
from tests.trino.conftest import END
from tests.trino.corpus_arrays import CASES, REFUSED, Case

WINDOW = Window.between(END - dt.timedelta(days=4), END)


def arrow_py(value: Any, type_: pa.DataType) -> Any:
    """An Arrow value as the Trino client gives it: maps as dicts, structs as dicts."""
    if value is None:
        return None
    if pa.types.is_map(type_):
        return {k: arrow_py(v, type_.item_type) for k, v in value}
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return [arrow_py(v, type_.value_type) for v in value]
    if pa.types.is_struct(type_):
        return {f.name: arrow_py(value[f.name], f.type) for f in type_}
    return value


def local_rows(table: pa.Table) -> list[tuple]:
    types = [f.type for f in table.schema]
    return [
        tuple(arrow_py(v, t) for v, t in zip(row.values(), types, strict=True))
        for row in table.to_pylist()
    ]


def _bagged(value: Any) -> Any:
    if isinstance(value, list):
        return sorted((_bagged(v) for v in value), key=repr)
    return value


def _scaled(value: Any) -> Any:
    """A decimal as its text, so its scale counts (3.5 and 3.50 print differently)."""
    if isinstance(value, decimal.Decimal):
        return ("decimal", format(value, "f"))
    if isinstance(value, list):
        return [_scaled(v) for v in value]
    return value


def _rows(rows: list[tuple], case: Case) -> list[tuple]:
    out = [tuple(_scaled(normal(v)) for v in row) for row in rows]
    if case.check == "bags":
        out = [tuple(_bagged(v) for v in row) for row in out]
    return out if case.check == "ordered" else sorted(out, key=repr)


#: approx_distinct's standard error on Trino (its default), and how many of them we allow.
_STANDARD_ERROR, _ERRORS = 0.023, 3


def _close(mine: Any, theirs: Any, case: Case) -> bool:
    if case.check == "approx" and type(mine) is type(theirs) is int:
        return abs(mine - theirs) <= _ERRORS * _STANDARD_ERROR * theirs
    return same_value(mine, theirs)


def _same_rows(mine: list[tuple], theirs: list[tuple], case: Case) -> bool:
    return len(mine) == len(theirs) and all(
        len(a) == len(b) and all(_close(x, y, case) for x, y in zip(a, b, strict=True))
        for a, b in zip(mine, theirs, strict=True)
    )


def _difference(case: Case, duckdb_session, athena_session, trino_query) -> str | None:
    """None if the local engine gives Trino's answer (or refuses, naming the function, or
    fails where Trino fails too); else what differs."""
    try:
        local = duckdb_session.run(case.sql, WINDOW)
        local_error = None
    except AccessmonError as e:
        local, local_error = None, str(e)
        if REFUSED in local_error:
            named = local_error.split(" ", 1)[0]
            return None if named in case.sql.lower() else f"refused without naming it: {e}"
    _, _, athena_sql = athena_session.prepare(case.sql, WINDOW)
    try:
        _, theirs = trino_query(athena_sql)
        trino_error = None
    except Exception as e:  # the client's error for a failing Trino query
        theirs, trino_error = None, str(e)
    if local_error or trino_error:
        if local_error and trino_error and case.fails:
            return None
        return f"local: {local_error or 'an answer'}; Trino: {trino_error or theirs[:3]}"
    mine = local_rows(local.table)
    if case.check == "member":
        _, candidates = trino_query(athena_session.prepare(case.member_of, WINDOW)[2])
        allowed = {normal(r[0]) for r in candidates}
        if len(mine) == len(theirs) == 1 and normal(mine[0][0]) in allowed:
            return None
        return f"local {mine} not one of Trino's {sorted(allowed, key=repr)[:5]}..."
    if _same_rows(_rows(mine, case), _rows(theirs, case), case):
        return None
    a, b = _rows(mine, case), _rows(theirs, case)
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    at = f"row {first}: {a[first]} vs {b[first]}" if first is not None else ""
    return f"{len(a)} local rows vs {len(b)} on Trino; {at}"


def test_corpus_arrays_gives_trinos_answer_or_is_refused(
    duckdb_session, athena_session, trino_query
):
    differences = {}
    for case in CASES:
        diff = _difference(case, duckdb_session, athena_session, trino_query)
        if diff:
            differences[case.name] = diff
    report = "\n".join(f"{n}: {d}" for n, d in differences.items())
    assert not differences, f"{len(differences)} of {len(CASES)} cases differ:\n{report}"
