"""The local audit store, laid out exactly like Teleport's Athena table.

`<store>/<YYYY-MM-DD>/<uuid>.parquet`, one folder per UTC day, so that an
`aws s3 sync` of Teleport's bucket is a store as it is.

An event's identity is its `uid`, `event_type` and `event_time` together, across the whole
store: Teleport reuses a uid across event types, and a synced bucket may file an event under
another day than its time's. Writers take the store's lock, so two ingests never both add
an event that neither saw stored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import math
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from accessmon._io import atomic_write, remove_dead_temporaries_in
from accessmon.errors import StoreError
from accessmon.storage.locks import exclusive

log = logging.getLogger("accessmon")

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
#: What makes two events one: the same uid, type and instant (to the millisecond).
KEY = ("uid", "event_type", "event_time")
_KEY_SCHEMA = pa.schema([SCHEMA.field(name) for name in KEY])

_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REJECTED_DIR = "_rejected"
#: Held by whoever adds files to the store (ingest); readers never wait for it.
WRITE_LOCK = ".write.lock"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: A temporary file of an older version, which did not name its writer, is removed this old.


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


# -- writing --------------------------------------------------------------------------------


def atomic_write_parquet(table: pa.Table, path: Path) -> None:
    """Readers of the store see whole files: written under a temporary name, then renamed."""
    atomic_write(
        path,
        lambda tmp: pq.write_table(table, tmp, compression="snappy", row_group_size=128 * 1024),
        fsync=True,
    )


def remove_dead_temporaries(store: Path) -> int:
    """Remove what writers killed with -9 left in the store, its rejects and its cache (they
    cannot clean up after themselves); returns how many were removed."""
    store = Path(store)
    if not store.is_dir():
        return 0
    return sum(
        remove_dead_temporaries_in(Path(e.path))
        for e in os.scandir(store)
        if e.is_dir(follow_symlinks=False)
        and (is_partition_name(e.name) or e.name in (REJECTED_DIR, "_cache"))
    )


@contextlib.contextmanager
def write_lock(store: Path, wait_seconds: float = math.inf) -> Iterator[None]:
    """Hold the store's write lock: two ingests into one store run one after the other, so
    each sees what the other stored. Says on stderr (the `accessmon` log) whom it waits for."""
    path = Path(store) / WRITE_LOCK

    def waiting(pid: str) -> None:
        log.warning(f"waiting for the store lock held by pid {pid} ({path})")

    busy = lambda: StoreError(f"another process holds the store lock {path}")  # noqa: E731
    with exclusive(path, wait_seconds, busy, on_wait=waiting):
        yield


# -- de-duplication ---------------------------------------------------------------------------

_warned: set[str] = set()


def warn_unreadable(path: Path, e: Exception) -> None:
    """Name a file that cannot be read, once per process, and go on without it."""
    if str(path) not in _warned:
        _warned.add(str(path))
        log.warning(f"warning: skipped {path}: not a readable Parquet file ({e})")


def _ms(value: object) -> int | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return (value - _EPOCH) // dt.timedelta(milliseconds=1)
    return None


@functools.lru_cache(maxsize=16384)
def _time_ranges(path: str, size: int, mtime_ns: int) -> tuple[tuple[int, int] | None, ...]:
    """Each row group's [min, max] event_time in ms, from the footer (None where unknown);
    keyed by size and mtime, so a replaced file is read again."""
    meta = pq.read_metadata(path)
    if not set(KEY) <= set(meta.schema.names):
        raise StoreError(f"it lacks some of the columns {', '.join(KEY)}")
    column = meta.schema.names.index("event_time")
    out: list[tuple[int, int] | None] = []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(column).statistics
        lo = hi = None
        if stats is not None and stats.has_min_max:
            with contextlib.suppress(Exception):  # foreign types: read the whole group
                lo, hi = _ms(stats.min), _ms(stats.max)
        out.append((lo, hi) if lo is not None and hi is not None else None)
    return tuple(out)


def _indexed_files(store: Path) -> list[tuple[Path, tuple[tuple[int, int] | None, ...]]]:
    """Every readable file of the store with its row groups' time ranges."""
    out = []
    for path in files_between(store, None, None):
        try:
            st = path.stat()
            out.append((path, _time_ranges(str(path), st.st_size, st.st_mtime_ns)))
        except FileNotFoundError:
            continue
        except (pa.ArrowException, OSError, StoreError) as e:
            warn_unreadable(path, e)
    return out


def _stored_keys(indexed: list, lo: int, hi: int) -> pa.Table:
    """The keys stored with an event_time in [lo, hi] ms, in any day's folder: only the row
    groups whose statistics overlap are read."""
    tables = [_KEY_SCHEMA.empty_table()]
    for path, ranges in indexed:
        groups = [i for i, r in enumerate(ranges) if r is None or (r[0] <= hi and r[1] >= lo)]
        if not groups:
            continue
        try:
            table = pq.ParquetFile(path).read_row_groups(groups, columns=list(KEY))
            tables.append(table.select(list(KEY)).cast(_KEY_SCHEMA, safe=False))
        except (pa.ArrowException, OSError) as e:
            warn_unreadable(path, e)
    keys = pa.concat_tables(tables)
    times = pc.cast(keys.column("event_time"), pa.int64())
    return keys.filter(pc.and_(pc.greater_equal(times, lo), pc.less_equal(times, hi)))


def _by_day(table: pa.Table) -> Iterator[tuple[dt.date, pa.Table]]:
    """One table per UTC day; each is copied out only when its turn comes, so memory holds
    the batch and one day, not two copies of the batch."""
    days = pc.cast(table.column("event_time"), pa.date32())
    for day in sorted(pc.unique(days).to_pylist()):
        yield day, table.filter(pc.equal(days, pa.scalar(day, pa.date32())))


def _first_of_each_key(part: pa.Table) -> pa.Table:
    """Keep one event per key within a batch (the first)."""
    if len(pc.unique(part.column("uid"))) == part.num_rows:
        return part
    indexed = part.append_column("__i", pa.array(range(part.num_rows), pa.int64()))
    firsts = indexed.group_by(list(KEY)).aggregate([("__i", "min")]).column("__i_min")
    return part.take(firsts.take(pc.sort_indices(firsts)))


def _not_stored(part: pa.Table, indexed: list) -> pa.Table:
    """The events of one day's part whose key the store does not hold yet."""
    lo, hi = (
        v.as_py() for v in pc.min_max(pc.cast(part.column("event_time"), pa.int64())).values()
    )
    stored = _stored_keys(indexed, lo, hi)
    if not stored.num_rows:
        return part
    if not pc.any(pc.is_in(part.column("uid"), value_set=stored.column("uid"))).as_py():
        return part
    return part.join(stored, keys=list(KEY), join_type="left anti").select(SCHEMA.names)


def write_events(
    store: Path, table: pa.Table, on_file: Callable[[Path, pa.Table], None] | None = None
) -> tuple[int, int]:
    """Add events to the store, skipping those whose key (uid, type, time) it already holds,
    in any day's folder. Callers that may run beside another writer hold `write_lock`.

    Returns (added, duplicates). Each day gets one new file, written atomically,
    so an interrupted run leaves whole files and a re-run completes it. `on_file` sees
    each new file with its rows (the view cache is built from them).
    """
    table = table.select(SCHEMA.names).cast(SCHEMA)
    added = dups = 0
    indexed = _indexed_files(store)
    for day, part in _by_day(table):
        rows = part.num_rows
        part = _first_of_each_key(part)
        if indexed:
            part = _not_stored(part, indexed)
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


# -- reading ----------------------------------------------------------------------------------


def count_by_day(
    store: Path, problems: list[str] | None = None
) -> Iterable[tuple[dt.date, int, int]]:
    """(day, files, events) per partition, from Parquet footers only. A file that cannot be
    read is left out, and named in `problems` (or else in the log)."""
    for day in partitions(store):
        files = events = 0
        for path in partition_files(store, day):
            try:
                events += pq.ParquetFile(path).metadata.num_rows
                files += 1
            except (pa.ArrowException, OSError) as e:
                _unreadable(path, e, problems)
        yield day, files, events


def _unreadable(path: Path, e: Exception, problems: list[str] | None) -> None:
    """Into the caller's list if it has one (it reports them), else into the log."""
    if problems is None:
        warn_unreadable(path, e)
    else:
        problems.append(f"{path}: not a readable Parquet file ({e})")


def summarize(store: Path) -> dict[str, object]:
    """Days, files, events and events per type: what `accessmon summary` prints. Unreadable
    files are named under `unreadable` (and warned about) and not counted."""
    problems: list[str] = []
    days = list(count_by_day(store, problems))
    by_type: dict[str, int] = {}
    for path in files_between(store, None, None):
        try:
            column = pq.read_table(path, columns=["event_type"]).column("event_type")
        except (pa.ArrowException, OSError) as e:
            if not any(p.startswith(f"{path}:") for p in problems):
                _unreadable(path, e, problems)
            continue
        for c in column.value_counts():
            by_type[c["values"].as_py()] = by_type.get(c["values"].as_py(), 0) + c["counts"].as_py()
    for problem in problems:
        log.warning(f"warning: skipped {problem}")
    return {
        "store": str(store),
        "first_day": days[0][0].isoformat() if days else None,
        "last_day": days[-1][0].isoformat() if days else None,
        "days": len(days),
        "files": sum(n for _, n, _ in days),
        "events": sum(n for _, _, n in days),
        "event_types": dict(sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
        "unreadable": problems,
    }
