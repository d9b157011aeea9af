"""Helpers for tests and benchmarks, never for analysts: Teleport's own way of querying the
store (its Athena SQL on Teleport's table), as the baseline our views are held to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp

from accessmon.sql import trino_json
from accessmon.sql.render import duckdb_json_type, quote_literal
from accessmon.sql.transpile import TRANSFORMS

if TYPE_CHECKING:
    import duckdb


def _athena_json_cast_to_duckdb(node: exp.Expression) -> exp.Expression:
    """CAST(json_extract(x, p) AS t) means the JSON value as t on Athena; DuckDB's plain CAST
    of JSON keeps string quotes, so rewrite it to ->> or json_transform."""
    if not (isinstance(node, exp.Cast) and isinstance(node.this, exp.JSONExtract)):
        return node
    extract, to = node.this, node.to
    if to.is_type(*exp.DataType.TEXT_TYPES):
        return exp.JSONExtractScalar(this=extract.this, expression=extract.expression)
    if to.is_type(exp.DataType.Type.ARRAY, exp.DataType.Type.STRUCT):
        shape = json.dumps(duckdb_json_type(to.sql("trino").lower()), separators=(",", ":"))
        return exp.Anonymous(
            this="json_transform", expressions=[extract, exp.Literal.string(shape)]
        )
    scalar = exp.JSONExtractScalar(this=extract.this, expression=extract.expression)
    return exp.TryCast(this=scalar, to=to)


def athena_sql_for_duckdb(sql: str) -> str:
    """Athena SQL as Teleport writes it (json_extract views), runnable on DuckDB with the same
    answers: how the two engines are held to one source of truth."""
    tree = sqlglot.parse_one(sql, read="trino")
    for transform in (_athena_json_cast_to_duckdb, *TRANSFORMS["duckdb"]):
        tree = tree.transform(transform, copy=False)
    return tree.sql(dialect="duckdb")


def teleport_table(store: Path, name: str = "audit_db.audit_table") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection holding the store as Teleport's Athena table (event_date from the
    folder), for running `athena_sql_for_duckdb` output: tests and benchmarks, never analysts."""
    import duckdb

    from accessmon.storage import store as store_mod

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    trino_json.register(con)
    schema = name.rpartition(".")[0]
    if schema:
        con.execute(f"CREATE SCHEMA {schema}")
    files = ", ".join(
        quote_literal(str(f)) for f in store_mod.files_between(Path(store), None, None)
    )
    con.execute(
        f"CREATE VIEW {name} AS SELECT CAST(regexp_extract(filename, "
        "'(\\d{4}-\\d{2}-\\d{2})/[^/]*$', 1) AS DATE) AS event_date, * EXCLUDE (filename) "
        "REPLACE (CAST(event_time AS TIMESTAMP) AS event_time) "
        f"FROM read_parquet([{files}], filename = true)"
    )
    return con
