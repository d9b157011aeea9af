"""The time/text/JSON function corpus on accessmon's DuckDB engine and, as the SQL accessmon
renders for Athena, on a real Trino: the same rows, or a refusal before the query runs that
names the function (issue 17)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from accessmon.errors import QueryError
from accessmon.text import double_text, zone_text
from tests.trino.compare import normal, same_value
from tests.trino.corpus_time_text import CASES, refusal
from tests.trino.test_smoke import WINDOW


def _rows(rows: list[tuple]) -> list[list]:
    return sorted((normal(list(r)) for r in rows), key=repr)


def _local_rows(table: pa.Table) -> list[tuple]:
    """The local rows as Trino's client gives them: a real as the double its shortest text
    reads as (the client parses `0.1`, not the float's 0.10000000149011612)."""
    reals = {f.name for f in table.schema if pa.types.is_float32(f.type)}
    return [
        tuple(float(double_text(v, 32)) if k in reals and v is not None else v
              for k, v in row.items())
        for row in table.to_pylist()
    ]  # fmt: skip


def _zones(rows: list[tuple]) -> list[list[str]]:
    """The zone each time value shows (`Europe/Berlin`), which `normal` leaves out."""
    return sorted(
        [zone_text(v.tzinfo) if isinstance(v, dt.datetime) and v.tzinfo else "" for v in row]
        for row in rows
    )


@pytest.mark.parametrize(("case", "sql"), CASES, ids=[c for c, _ in CASES])
def test_function_gives_trinos_answer_or_is_refused(
    case, sql, duckdb_session, athena_session, trino_query
):
    _, _, athena_sql = athena_session.prepare(sql, WINDOW)
    columns, theirs = trino_query(athena_sql)
    if refusal(sql) is not None:
        with pytest.raises(QueryError, match="is not available on the local engine"):
            duckdb_session.run(sql, WINDOW)
        return
    try:
        local = duckdb_session.run(sql, WINDOW)
    except QueryError as e:  # stopped where a value would differ (json_format of an object)
        assert "is not available on the local engine" in str(e)
        assert str(e).split()[0].lower() in sql.lower()
        return
    assert local.columns == columns
    assert _zones(_local_rows(local.table)) == _zones(theirs), f"{case}: the zones differ"
    mine = _rows(_local_rows(local.table))
    theirs = _rows(theirs)
    assert len(mine) == len(theirs) > 0
    diff = [(a, b) for a, b in zip(mine, theirs, strict=True) if not same_value(a, b)]
    assert not diff, f"{case}: DuckDB vs Trino, first of {len(diff)}: {diff[:3]}"
