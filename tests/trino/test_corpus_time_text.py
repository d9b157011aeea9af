"""The time/text/JSON function corpus on accessmon's DuckDB engine and, as the SQL accessmon
renders for Athena, on a real Trino: the same rows, or a refusal before the query runs that
names the function (issue 17)."""

from __future__ import annotations

import pytest

from accessmon.errors import QueryError
from tests.trino.compare import normal, same_value
from tests.trino.corpus_time_text import CASES, refusal
from tests.trino.test_smoke import WINDOW


def _rows(rows: list[tuple]) -> list[list]:
    return sorted((normal(list(r)) for r in rows), key=repr)


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
    mine = _rows([tuple(r.values()) for r in local.table.to_pylist()])
    theirs = _rows(theirs)
    assert len(mine) == len(theirs) > 0
    diff = [(a, b) for a, b in zip(mine, theirs, strict=True) if not same_value(a, b)]
    assert not diff, f"{case}: DuckDB vs Trino, first of {len(diff)}: {diff[:3]}"
