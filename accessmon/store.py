"""The local audit store, laid out exactly like Teleport's Athena table.

`<store>/<YYYY-MM-DD>/<uuid>.parquet`, one folder per UTC day, so that an
`aws s3 sync` of Teleport's bucket is a store as it is.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .errors import StoreError

#: The columns of Teleport's Athena audit table, in its order (event_date is the folder).
SCHEMA = pa.schema(
    [
        ("uid", pa.string()),
        ("session_id", pa.string()),
        ("event_type", pa.string()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("event_data", pa.string()),
        ("user", pa.string()),
    ]
)

_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REJECTED_DIR = "_rejected"


def is_partition_name(name: str) -> bool:
    """`YYYY-MM-DD`, a real date: the folder of one day's files."""
    if not _DATE_DIR.match(name):
        return False
    try:
        dt.date.fromisoformat(name)
    except ValueError:
        return False
    return True


def partitions(store: Path) -> list[dt.date]:
    """Dates that have a folder in the store, oldest first."""
    if not store.is_dir():
        return []
    return sorted(
        dt.date.fromisoformat(e.name)
        for e in os.scandir(store)
        if e.is_dir() and is_partition_name(e.name)
    )


def partition_files(store: Path, day: dt.date) -> list[Path]:
    """Whole Parquet files of one day; temporary files of an interrupted write are not listed."""
    folder = store / day.isoformat()
    if not folder.is_dir():
        return []
    return sorted(
        Path(e.path)
        for e in os.scandir(folder)
        if e.is_file() and e.name.endswith(".parquet") and not e.name.startswith(".")
    )


def files_between(store: Path, start: dt.date | None, end: dt.date | None) -> list[Path]:
    """All Parquet files whose partition date lies in [start, end] (open ends allowed)."""
    files: list[Path] = []
    for day in partitions(store):
        if (start is None or day >= start) and (end is None or day <= end):
            files.extend(partition_files(store, day))
    return files


def existing_uids(store: Path, day: dt.date) -> pa.Array:
    """The uids already stored for one day, for de-duplication."""
    chunks = []
    for path in partition_files(store, day):
        try:
            chunks.append(pq.read_table(path, columns=["uid"]).column("uid").combine_chunks())
        except Exception as e:  # a foreign or corrupt file must not stop an ingest silently
            raise StoreError(f"cannot read {path}: {e}") from e
    return pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())


def atomic_write_parquet(table: pa.Table, path: Path) -> None:
    """Write to a hidden temporary name in the same folder, then rename: readers see whole files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp, compression="snappy", row_group_size=128 * 1024)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(text: str, path: Path) -> None:
    """Same promise as atomic_write_parquet, for text files (rejects, results, state)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _by_day(table: pa.Table) -> Iterator[tuple[dt.date, pa.Table]]:
    """One table per UTC day; each is copied out only when its turn comes, so memory holds
    the batch and one day, not two copies of the batch."""
    days = pc.cast(table.column("event_time"), pa.date32())
    for day in sorted(pc.unique(days).to_pylist()):
        yield day, table.filter(pc.equal(days, pa.scalar(day, pa.date32())))


def _first_of_each_uid(part: pa.Table) -> pa.Table:
    """Keep one event per uid within a batch (the first)."""
    uids = part.column("uid")
    if len(pc.unique(uids)) == part.num_rows:
        return part
    indexed = part.append_column("__i", pa.array(range(part.num_rows), pa.int64()))
    firsts = indexed.group_by("uid").aggregate([("__i", "min")]).column("__i_min")
    return part.take(firsts.take(pc.sort_indices(firsts)))


def write_events(
    store: Path, table: pa.Table, on_file: Callable[[Path, pa.Table], None] | None = None
) -> tuple[int, int]:
    """Add events to the store, skipping uids it already holds.

    Returns (added, duplicates). Each day gets one new file, written atomically,
    so an interrupted run leaves whole files and a re-run completes it. `on_file` sees
    each new file with its rows (the view cache is built from them).
    """
    table = table.select(SCHEMA.names).cast(SCHEMA)
    added = dups = 0
    for day, part in _by_day(table):
        rows = part.num_rows
        seen = existing_uids(store, day)
        if len(seen):
            part = part.filter(pc.invert(pc.is_in(part.column("uid"), value_set=seen)))
        part = _first_of_each_uid(part)
        dups += rows - part.num_rows
        if not part.num_rows:
            continue
        part = part.sort_by([("event_type", "ascending"), ("event_time", "ascending")])
        path = store / day.isoformat() / f"{uuid.uuid4()}.parquet"
        atomic_write_parquet(part, path)
        if on_file:
            on_file(path, part)
        added += part.num_rows
    return added, dups


def count_by_day(store: Path) -> Iterable[tuple[dt.date, int, int]]:
    """(day, files, events) per partition, from Parquet footers only."""
    for day in partitions(store):
        files = partition_files(store, day)
        yield day, len(files), sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def summarize(store: Path) -> dict[str, object]:
    """Days, files, events and events per type: what `accessmon summary` prints."""
    days = list(count_by_day(store))
    files = [f for day, _, _ in days for f in partition_files(store, day)]
    by_type: dict[str, int] = {}
    if files:
        counts = pq.read_table(files, columns=["event_type"]).column("event_type").value_counts()
        by_type = {c["values"].as_py(): c["counts"].as_py() for c in counts}
    return {
        "store": str(store),
        "first_day": days[0][0].isoformat() if days else None,
        "last_day": days[-1][0].isoformat() if days else None,
        "days": len(days),
        "files": sum(n for _, n, _ in days),
        "events": sum(n for _, _, n in days),
        "event_types": dict(sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
