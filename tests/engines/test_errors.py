"""Driver errors reach the analyst as one line, and stay chained for whoever debugs."""

from __future__ import annotations

import duckdb
import pytest

from accessmon.errors import QueryError
from accessmon.window import Window

from ..conftest import EVENT


def test_a_duckdb_failure_keeps_the_driver_error_as_its_cause(make_store):
    session = make_store([EVENT])
    with pytest.raises(QueryError) as caught:
        session.run(
            "SELECT CAST(login AS INTEGER) AS n FROM session_start", Window.last_days(36500)
        )
    assert isinstance(caught.value.__cause__, duckdb.Error)
    assert "Traceback" not in str(caught.value)
