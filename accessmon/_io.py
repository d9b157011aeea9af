"""Small I/O helpers that every layer shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


def arrow_table(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    """The result as a pyarrow Table (the method's name changed in DuckDB 2.0)."""
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    return fetch()
