"""Results out of accessmon, the way analysts' tools expect them: tctl's JSON, CSV, a terminal
table, and the Query Editor's CSV and Parquet exports. Every CSV goes through `guard_cell`."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from accessmon import _io
from accessmon._io import file_stamp
from accessmon.errors import AccessmonError
from accessmon.text import is_listlike
from accessmon.ui.frames import text_rows, unique_names

if TYPE_CHECKING:
    import pandas as pd


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


# -- the Query Editor's exports ----------------------------------------------------------------


def default_export_path(name: str, fmt: str, folder: Path | None = None) -> Path:
    """`<folder>/<query>_<UTC time>.<fmt>`, never overwriting; `folder` is the configured
    exports_dir (the project's `exports/`), else `exports/` under the working directory."""
    folder = Path(folder or "exports").absolute()
    stamp = file_stamp()
    path = folder / f"{name}_{stamp}.{fmt}"
    if path.exists():
        path = folder / f"{name}_{stamp}-{uuid.uuid4().hex[:6]}.{fmt}"
    return path


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """An export written whole or not at all, its failure one line for the analyst."""
    try:
        return _io.atomic_write(path, write)
    except OSError as e:
        raise AccessmonError(f"cannot write {path}: {e.strerror or e}") from e


def write_frame_csv(frame: pd.DataFrame, path: Path, guard: bool = True) -> None:
    """CSV via pandas; lists and structs as JSON text rather than numpy's repr; with `guard`,
    text that a spreadsheet would run as a formula starts with `'` (numbers are left alone)."""
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(_csv_value)
        if guard and pd.api.types.is_string_dtype(out[column].dtype):  # object or string
            out[column] = out[column].map(guard_cell)
    if guard:
        out.columns = [guard_cell(str(c)) for c in out.columns]
    out.to_csv(path, index=False)


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict) or is_listlike(value):
        return json.dumps(_plain(value), default=str)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if is_listlike(value):
        return [_plain(v) for v in value]
    return value


def write_parquet(table: Any, frame: pd.DataFrame, order: list[int], path: Path) -> None:
    """Parquet via pyarrow from the Arrow result, so column types survive; rows as sorted."""
    import pyarrow.parquet as pq

    if table is None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        order = list(range(table.num_rows))
    table = table.rename_columns(unique_names(table.column_names))
    if order != list(range(table.num_rows)):
        table = table.take(pa.array(order, type=pa.int64()))
    pq.write_table(table, path)
