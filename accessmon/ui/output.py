"""Print results the way analysts' tools expect: tctl's JSON, CSV, or a table."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa


def athena_text(value: Any, typ: pa.DataType) -> str:
    """One value as Athena prints it; NULL is the empty string, as in tctl's output."""
    if value is None:
        return ""
    if pa.types.is_timestamp(typ):
        text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
        return text + " UTC" if typ.tz else text
    if pa.types.is_date(typ):
        return value.isoformat()
    if pa.types.is_boolean(typ):
        return "true" if value else "false"
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        return "[" + ", ".join(athena_text(v, typ.value_type) for v in value) + "]"
    if pa.types.is_struct(typ):
        return (
            "{" + ", ".join(f"{f.name}={athena_text(value.get(f.name), f.type)}" for f in typ) + "}"
        )
    if isinstance(value, dt.timedelta):
        days, rest = value.days, value - dt.timedelta(days=value.days)
        h, rem = divmod(int(rest.total_seconds()), 3600)
        m, s = divmod(rem, 60)
        return f"{days} {h:02d}:{m:02d}:{s:02d}.{rest.microseconds // 1000:03d}"
    return str(value)


def text_rows(table: pa.Table) -> Iterable[list[str]]:
    """Rows of strings, column types honoured, without going through pandas."""
    types = [f.type for f in table.schema]
    for batch in table.to_batches():
        columns = [col.to_pylist() for col in batch.columns]
        for row in zip(*columns, strict=True):
            yield [athena_text(v, t) for v, t in zip(row, types, strict=True)]


def to_tctl_json(table: pa.Table) -> str:
    """`tctl audit query exec`'s output: [{"data": [names]}, {"data": [values]}, ...]."""
    objs = [{"data": list(table.column_names)}]
    objs.extend({"data": row} for row in text_rows(table))
    return json.dumps(objs, ensure_ascii=False)


#: What a spreadsheet reads as the start of a formula (OWASP, CSV injection): `=cmd|' /C calc'!A0`.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, with a single quote in front (OWASP);
    anything else as it is. Audit data is written by whoever logs in: never trust a cell."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _numeric(typ: pa.DataType) -> bool:
    return pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ)


def to_csv(table: pa.Table, guard: bool = True) -> str:
    """CSV with a header; with `guard`, text cells (and names) that would start a formula in a
    spreadsheet are prefixed with `'`. Numbers are left alone: `-5` is not a formula."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if not guard:
        writer.writerow(table.column_names)
        writer.writerows(text_rows(table))
        return buf.getvalue()
    text = [not _numeric(f.type) for f in table.schema]
    writer.writerow([guard_cell(name) for name in table.column_names])
    for row in text_rows(table):
        writer.writerow([guard_cell(v) if t else v for v, t in zip(row, text, strict=True)])
    return buf.getvalue()


def to_table(table: pa.Table, title: str | None = None):
    """A rich Table for terminals."""
    from rich.table import Table

    out = Table(title=title, show_lines=False)
    for name in table.column_names:
        out.add_column(name, overflow="fold")
    for row in text_rows(table):
        out.add_row(*row)
    return out
