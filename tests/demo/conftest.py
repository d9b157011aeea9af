"""The default-size demo table, built once for every demo test module."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from accessmon.demo import generate

#: A fixed last day, so the tests do not depend on today's date.
END = dt.date(2024, 3, 20)


@pytest.fixture(scope="session")
def default_table() -> pa.Table:
    """`accessmon demo`'s default size and seed, ending on END."""
    return generate(end_date=END)
