"""A columnar cache of the views, so queries skip JSON parsing.

The cache is kept in batches: `<store>/_cache/<batch>/<view>.parquet` holds the rows of
each view, exactly as the view SQL computes them, for a set of source files listed with
their size and modification time in the batch's manifest. A batch is fresh while all its
files are unchanged. Source files that are not in a fresh batch (new, or changed by a
re-run `aws s3 sync`) are read from their JSON instead, so answers never depend on the
cache: it is the same SQL, run earlier.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import queue
import shutil
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from accessmon import _io
from accessmon.errors import AccessmonError
from accessmon.sql.render import duckdb_view
from accessmon.sql.views import View, all_views
from accessmon.storage import store as store_mod
from accessmon.storage.locks import exclusive
from accessmon.window import Window

CACHE_DIR = "_cache"
_MANIFEST = "manifest.json"
#: Source events per cache batch: queries open one file per view per batch.
BATCH_EVENTS = 500_000
#: Bytes of source events parsed at once while caching: bounds the builder's memory, whatever
#: the events' size (about 140,000 demo events).
SLICE_BYTES = 96 << 20


@functools.cache
def cache_version() -> str:
    """Changes whenever the SQL that fills the cache does, which makes every batch stale."""
    window = Window(dt.date(1970, 1, 1), dt.date(1970, 1, 1))
    text = "\n".join(duckdb_view(v, "batch", window, parse_once=True) for v in all_views().values())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _key(store: Path, source: Path) -> str:
    return f"{source.parent.name}/{source.name}"


def _signature(source: Path) -> list[int]:
    st = source.stat()
    return [st.st_size, st.st_mtime_ns]


def source_signatures(store: Path) -> dict[str, list[int]]:
    """`<day>/<file>` -> [size, mtime] of every file in the store: one pass over the folders,
    made before every query, so no answer ever depends on a stale batch."""
    out: dict[str, list[int]] = {}
    if not Path(store).is_dir():
        return out
    for day in os.scandir(store):
        if not (day.is_dir() and store_mod.is_partition_name(day.name)):
            continue
        for entry in os.scandir(day.path):
            if entry.name.endswith(".parquet") and not entry.name.startswith("."):
                try:
                    st = entry.stat()
                except OSError:
                    continue
                out[f"{day.name}/{entry.name}"] = [st.st_size, st.st_mtime_ns]
    return out


@functools.lru_cache(maxsize=4096)
def _manifest(folder: str, mtime_ns: int) -> dict | None:
    """A batch's manifest; batches are renamed into place whole and never change."""
    try:
        doc = json.loads(Path(folder, _MANIFEST).read_text())
        return {"version": doc.get("version", ""), "sources": doc["sources"],
                "views": doc["views"], "days": doc["days"]}  # fmt: skip
    except (OSError, ValueError, KeyError):
        return None


@dataclass
class Batch:
    folder: Path
    sources: dict[str, list[int]]
    views: dict[str, int]
    days: list[str]


def batches(
    store: Path, signatures: dict[str, list[int]] | None = None
) -> Iterator[tuple[Batch, set[str]]]:
    """Every batch with the days it still answers for: those whose source files are all there
    with the size and modification time they had when cached (none if the cache's SQL has
    changed since, or a newer batch holds its files). A file replaced by `aws s3 sync`
    invalidates its own day, not its batch."""
    root = Path(store) / CACHE_DIR
    if not root.is_dir():
        return
    if signatures is None:
        signatures = source_signatures(Path(store))
    version = cache_version()
    claimed: set[str] = set()  # sources of newer batches: a merged batch supersedes its parts
    for entry in sorted(os.scandir(root), key=lambda e: e.name, reverse=True):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        try:
            mtime = os.stat(os.path.join(entry.path, _MANIFEST)).st_mtime_ns
        except OSError:
            continue
        doc = _manifest(entry.path, mtime)
        if doc is None:
            continue
        batch = Batch(Path(entry.path), doc["sources"], doc["views"], doc["days"])
        if doc["version"] != version or not claimed.isdisjoint(batch.sources):
            yield batch, set()
            continue
        claimed.update(batch.sources)
        changed = {key[:10] for key, sig in batch.sources.items() if signatures.get(key) != sig}
        yield batch, set(batch.days) - changed


@dataclass
class Plan:
    """Where each view's rows for a window come from."""

    cached: dict[str, list[Path]] = field(default_factory=dict)  # view -> cache files
    # view -> cache files of batches that answer for some of their days only
    partial: dict[str, list[tuple[Path, list[str]]]] = field(default_factory=dict)
    stale: list[Path] = field(default_factory=list)  # source files to parse from JSON


def plan(store: Path, start: dt.date, end: dt.date, views: Iterable[str]) -> Plan:
    out = Plan({name: [] for name in views}, {name: [] for name in views})
    covered: set[str] = set()
    lo, hi = start.isoformat(), end.isoformat()
    signatures = source_signatures(store)
    for batch, valid in batches(store, signatures):
        days = sorted(d for d in valid if lo <= d <= hi)
        if not days:
            continue
        covered.update(key for key in batch.sources if key[:10] in valid)
        whole = len(days) == sum(1 for d in batch.days if lo <= d <= hi)
        for name in out.cached:
            if batch.views.get(name):
                path = batch.folder / f"{name}.parquet"
                if whole:
                    out.cached[name].append(path)
                else:
                    out.partial[name].append((path, days))
    out.stale = [
        store / key for key in sorted(signatures) if lo <= key[:10] <= hi and key not in covered
    ]
    return out


def _as_text(data: pa.ChunkedArray) -> pa.ChunkedArray:
    """Files written by other tools may hold `event_data` as bytes; JSON is read as text."""
    if pa.types.is_binary(data.type) or pa.types.is_large_binary(data.type):
        try:
            return pc.cast(data, pa.string())
        except pa.ArrowInvalid:  # not UTF-8: the view SQL reads no fields from it
            return data
    return data


class _ViewWorkers:
    """Runs the views over a slice on private DuckDB connections, one view per connection at
    a time: a slice is too small for DuckDB to spread one query over the cores."""

    def __init__(self, count: int = 2) -> None:
        self.pool = ThreadPoolExecutor(max_workers=count)
        self.idle: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
        self.cons = [duckdb.connect(":memory:") for _ in range(count)]
        for con in self.cons:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET threads = 1")
            self.idle.put(con)

    def map(
        self, slice_: pa.Table, window: Window, views: list[View]
    ) -> Iterator[tuple[str, pa.Table]]:
        def one(view: View) -> tuple[str, pa.Table]:
            con = self.idle.get()
            try:
                sql = duckdb_view(view, "batch", window, parse_once=True)
                return view.name, con.sql(sql).to_arrow_table()
            finally:
                self.idle.put(con)

        for con in self.cons:
            con.register("batch", slice_)
        futures = [self.pool.submit(one, view) for view in views]
        try:
            for future in futures:
                yield future.result()
        finally:  # no query may still read the slice when it is unregistered
            for future in futures:
                future.cancel()
            wait(futures)
            for con in self.cons:
                con.unregister("batch")

    def close(self) -> None:
        self.pool.shutdown()
        for con in self.cons:
            con.close()


class _OpenBatch:
    """A batch being written: each view's rows are appended to its Parquet file slice by
    slice, in a hidden folder that is renamed into place when the batch is complete."""

    def __init__(self, store: Path, workers: _ViewWorkers) -> None:
        self.root = store / CACHE_DIR
        self.store, self.workers = store, workers
        self.tmp = _io.temp_path(self.root / "batch")
        self.tmp.mkdir(parents=True)
        self.sources: dict[str, list[int]] = {}
        self.days: set[str] = set()
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}
        self.events = 0

    def write(self, parts: list[tuple[Path, pa.Table]]) -> None:
        """Each source file holds one day, so ordering the files orders the slice's rows by
        `event_date` (row groups a window can skip) without a sort: DuckDB keeps scan order."""
        parts = sorted(parts, key=lambda part: part[0].parent.name)
        for path, _ in parts:
            self.sources[_key(self.store, path)] = _signature(path)
        days = sorted({path.parent.name for path, _ in parts})
        self.days.update(days)
        slice_ = pa.concat_tables([
            pa.table({
                "event_date": pa.array([dt.date.fromisoformat(path.parent.name)] * t.num_rows, pa.date32()),
                "event_time": t.column("event_time"),
                "event_type": t.column("event_type"),
                "event_data": _as_text(t.column("event_data")),
            })
            for path, t in parts
        ])  # fmt: skip
        self.events += slice_.num_rows
        types, counts = pc.value_counts(slice_.column("event_type")).flatten()
        present = dict(zip(types.to_pylist(), counts.to_pylist(), strict=True))
        window = Window(dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1]))
        views = [v for v in all_views().values() if v.event_type in present]
        views.sort(key=lambda v: present[v.event_type], reverse=True)  # longest first
        for name, rows in self.workers.map(slice_, window, views):
            self._append(name, rows)

    def _append(self, name: str, rows: pa.Table) -> None:
        writer = self.writers.get(name)
        if writer is None:
            writer = pq.ParquetWriter(
                self.tmp / f"{name}.parquet", rows.schema, compression="snappy"
            )
            self.writers[name] = writer
        writer.write_table(rows.cast(writer.schema), row_group_size=256_000)
        self.rows[name] = self.rows.get(name, 0) + rows.num_rows

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        doc = {"version": cache_version(), "sources": self.sources, "views": self.rows,
               "days": sorted(self.days)}  # fmt: skip
        (self.tmp / _MANIFEST).write_text(json.dumps(doc))
        os.replace(self.tmp, self.root / _batch_name())

    def abort(self) -> None:
        for writer in self.writers.values():
            with contextlib.suppress(Exception):
                writer.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Builder:
    """Caches source files on a thread beside the code that writes or reads them: parsing
    the next block and caching the last one share the two cores.

    Files are cached a slice (SLICE_BYTES) at a time, and at most one slice waits, so memory
    does not grow with the batch or the events' size; a batch is closed at BATCH_EVENTS, or
    by `flush`."""

    def __init__(self, store: Path) -> None:
        self.store = Path(store)
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.workers = _ViewWorkers()
        self.parts: list[tuple[Path, pa.Table]] = []
        self.size = 0
        self.batch: _OpenBatch | None = None  # touched on the pool's thread only
        self.pending: Future | None = None
        self.files = 0

    def add(self, source: Path, table: pa.Table) -> None:
        self.parts.append((source, table.select(["event_type", "event_time", "event_data"])))
        self.size += self.parts[-1][1].nbytes
        if self.size >= SLICE_BYTES:
            self._submit(close=False)

    def flush(self) -> None:
        """End the batch after what was added so far (it is closed on the builder's thread)."""
        self._submit(close=True)

    def _submit(self, close: bool) -> None:
        if self.pending is not None:
            self.pending.result()
        parts, self.parts, self.size = self.parts, [], 0
        self.files += len(parts)
        self.pending = self.pool.submit(self._write, parts, close)

    def _write(self, parts: list[tuple[Path, pa.Table]], close: bool) -> None:
        try:
            if parts:
                if self.batch is None:
                    self.batch = _OpenBatch(self.store, self.workers)
                self.batch.write(parts)
            if self.batch is not None and (close or self.batch.events >= BATCH_EVENTS):
                self.batch.close()
                self.batch = None
        except BaseException:
            if self.batch is not None:
                self.batch.abort()
                self.batch = None
            raise

    def finish(self) -> int:
        """Close the last batch; returns the number of files cached."""
        try:
            self.flush()
            self.pending.result()
        finally:
            self.pool.shutdown()
            if self.batch is not None:  # an earlier slice failed
                self.batch.abort()
            self.workers.close()
        return self.files


def build(store: Path) -> tuple[int, int]:
    """Cache every source file not in a fresh batch; returns (files, events) cached. A lock
    keeps two builders apart; readers never wait.

    A stale batch is removed only once the batches that replace it are in place (until then
    the days it still answers for are used, and the newer batch supersedes it), so a build
    that fails leaves the cache as it was. A source file that cannot be read is named and
    left to be read from JSON (where the query names it too)."""
    store = Path(store)
    root = store / CACHE_DIR
    root.mkdir(parents=True, exist_ok=True)
    busy = lambda: AccessmonError(f"another cache build holds {root / '.lock'}")  # noqa: E731
    with exclusive(root / ".lock", 3600, busy):
        store_mod.remove_dead_temporaries(store)
        covered: set[str] = set()
        stale: list[Path] = []
        for batch, valid in list(batches(store)):
            if valid == set(batch.days):
                covered.update(batch.sources)
            else:  # its files are cached again, with the changed ones
                stale.append(batch.folder)
        builder = Builder(store)
        files = events = 0
        try:
            for day in store_mod.partitions(store):
                for source in store_mod.partition_files(store, day):
                    if _key(store, source) in covered:
                        continue
                    try:
                        table = pq.read_table(
                            source, columns=["event_type", "event_time", "event_data"]
                        )
                    except (pa.ArrowException, OSError) as e:
                        store_mod.warn_unreadable(source, e)
                        continue
                    builder.add(source, table)
                    files += 1
                    events += table.num_rows
        finally:
            builder.finish()
        for folder in stale:
            shutil.rmtree(folder, ignore_errors=True)
        _compact(store)
    return files, events


def compact(store: Path, wait_seconds: float = 3600) -> int:
    """Merge small batches (an hourly ingest makes one each run) into batches of up to
    BATCH_EVENTS, so queries open a few files per view rather than thousands; returns the
    number of batches merged. The merged batch is renamed in before its parts go, and
    supersedes them (see `batches`), so readers never see a row twice or miss one."""
    store = Path(store)
    root = store / CACHE_DIR
    if not root.is_dir():
        return 0
    busy = lambda: AccessmonError(f"another cache build holds {root / '.lock'}")  # noqa: E731
    with exclusive(root / ".lock", wait_seconds, busy):
        return _compact(store)


def _compact(store: Path) -> int:
    small = sorted(
        (b for b, valid in batches(store) if valid == set(b.days) and _size(b) < SMALL_BATCH),
        key=lambda b: b.folder.name,
    )
    groups: list[list[Batch]] = [[]]
    for batch in small:
        if groups[-1] and sum(map(_size, groups[-1])) + _size(batch) > BATCH_EVENTS:
            groups.append([])
        groups[-1].append(batch)
    merged = 0
    for group in (g for g in groups if len(g) > 1):
        _merge(store / CACHE_DIR, group)
        merged += len(group)
    return merged


#: Batches holding fewer view rows than this are merged by `compact`.
SMALL_BATCH = BATCH_EVENTS // 4


def _size(batch: Batch) -> int:
    return sum(batch.views.values())


def _merge(root: Path, group: list[Batch]) -> None:
    tmp = _io.temp_path(root / "batch")
    tmp.mkdir()
    views: dict[str, int] = {}
    for name in sorted({v for b in group for v, n in b.views.items() if n}):
        parts = [pq.read_table(b.folder / f"{name}.parquet") for b in group if b.views.get(name)]
        table = pa.concat_tables(parts).sort_by("event_date")
        pq.write_table(table, tmp / f"{name}.parquet", compression="snappy", row_group_size=256_000)
        views[name] = table.num_rows
    doc = {"version": cache_version(), "sources": {k: v for b in group for k, v in b.sources.items()},
           "views": views, "days": sorted({d for b in group for d in b.days})}  # fmt: skip
    (tmp / _MANIFEST).write_text(json.dumps(doc))
    os.replace(tmp, root / _batch_name())
    for batch in group:
        shutil.rmtree(batch.folder, ignore_errors=True)


def _batch_name() -> str:
    """Batch folders sort by creation: the newest of two batches holding a file wins."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"


def status(store: Path) -> dict[str, int]:
    """Source files in fresh batches, and those read from JSON: `accessmon cache status`."""
    covered: set[str] = set()
    stale_batches = 0
    for batch, valid in batches(store):
        covered.update(key for key in batch.sources if key[:10] in valid)
        stale_batches += valid != set(batch.days)
    files = [
        _key(store, s)
        for d in store_mod.partitions(store)
        for s in store_mod.partition_files(store, d)
    ]
    cached = sum(1 for f in files if f in covered)
    return {"files": len(files), "cached": cached, "not_cached": len(files) - cached,
            "stale_batches": stale_batches}  # fmt: skip


def clear(store: Path) -> None:
    shutil.rmtree(Path(store) / CACHE_DIR, ignore_errors=True)
