"""Read Teleport audit logs (JSON lines, gzip, JSON arrays) into the store.

Bad lines are set aside in `<store>/_rejected/` (private to the owner) with their file, line
and reason; they never stop the rest of a file, nor the other files. An event's identity is
its uid, type and time, across the whole store (see store.py); two ingests into one store take
turns on the store's lock.

Lines travel as Arrow columns: pyarrow reads them in large blocks and DuckDB parses the
JSON, so no Python object is made per event. A file the fast reader cannot finish (a
truncated .gz, say) is read on, from where it stopped, line by line in Python.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from accessmon.errors import AccessmonError, IngestError
from accessmon.sql.render import duckdb_utc_instant
from accessmon.storage import cache
from accessmon.storage import store as store_mod
from accessmon.storage.rejects import (
    MAX_DEPTH,
    Rejected,
    utf8_error,
    why_rejected,
    write_rejects,
)
from accessmon.storage.sources import (
    BLOCK_BYTES,
    array_chunks,
    discover,
    file_size,
    line_chunks,
    looks_like_array,
)

#: Bytes of parsed events held before they are written to the store (one file per day each
#: time): bounds memory whatever the events' size (about 90,000 demo events).
FLUSH_BYTES = 64 << 20


@dataclass
class IngestSummary:
    files: int = 0
    read: int = 0
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    elapsed: float = 0.0
    rejected_file: Path | None = None
    cached_files: int = 0
    unreadable: list[str] = field(default_factory=list)

    def as_text(self) -> str:
        text = (
            f"files: {self.files}  events read: {self.read}  added: {self.added}  "
            f"duplicates: {self.duplicates}  rejected: {self.rejected}  "
            f"cached files: {self.cached_files}  elapsed: {self.elapsed:.1f}s"
        )
        if self.rejected_file:
            text += f"\nrejected lines: {self.rejected_file}"
        elif self.rejected:
            text += "\nrejected lines: all recorded by an earlier run"
        for problem in self.unreadable:
            text += f"\nskipped: {problem}"
        return text


def content_uid(event: dict) -> str:
    """A stable key for an event without `uid`: the same content always gets the same one."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(uuid.UUID(bytes=hashlib.sha256(canonical.encode()).digest()[:16], version=5))


_EXTRACT = f"""
SELECT f, n, txt,
       CASE WHEN starts_with(s.event, '"') THEN s.event ->> '$' END AS event_type,
       CASE WHEN starts_with(s.uid, '"') THEN s.uid ->> '$' END AS uid,
       coalesce(NOT starts_with(s.uid, '"'), false) AS bad_uid,
       coalesce(s.sid, '') AS session_id,
       coalesce(s."user", '') AS "user",
       t AS event_time,
       coalesce(t NOT BETWEEN TIMESTAMP '0001-01-01' AND TIMESTAMP '9999-12-31 23:59:59.999',
                false) AS time_out_of_range,
       s IS NULL AS unparsed
FROM (
  SELECT f, n, txt, s, {duckdb_utc_instant("s.time", "TRY_CAST")} AS t
  FROM (
    SELECT f, n, txt,
           TRY(json_transform(txt, '{{"event":"JSON","time":"VARCHAR","uid":"JSON",
                                     "sid":"VARCHAR","user":"VARCHAR"}}')) AS s
    FROM (SELECT f, n, TRY(decode(line)) AS txt FROM chunk)
  )
)
"""
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def json_depth(text: str) -> int:
    """How deeply a JSON text nests its arrays and objects, without parsing it."""
    depth = deepest = 0
    for ch in re.sub(r"[^\[\]{}]", "", _JSON_STRING.sub("", text)):
        depth += 1 if ch in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _too_deep(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """Lines nested deeper than MAX_DEPTH. Only lines long enough to nest so deeply, and with
    enough brackets, are looked at in Python: a cheap pass over the batch finds them."""
    import pyarrow.compute as pc

    deep = pa.chunked_array([pa.array([False] * len(text), pa.bool_())])
    long = pc.fill_null(pc.greater(pc.binary_length(text), 2 * MAX_DEPTH), False)
    if not pc.any(long).as_py():
        return deep
    where = pc.indices_nonzero(long)
    candidates = text.take(where)
    brackets = pc.add(pc.count_substring(candidates, "["), pc.count_substring(candidates, "{"))
    suspects = pc.indices_nonzero(pc.greater(brackets, MAX_DEPTH)).to_pylist()
    if not suspects:
        return deep
    flags = [False] * len(text)
    for i in suspects:
        row = where[i].as_py()
        flags[row] = json_depth(text[row].as_py()) > MAX_DEPTH
    return pa.chunked_array([pa.array(flags, pa.bool_())])


class _Extractor:
    """Parses a chunk of lines with DuckDB: Teleport's columns out, bad lines set aside.

    The connection is private to ingest and never sees analyst SQL.
    """

    def __init__(self) -> None:
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")

    def extract(self, chunk: pa.Table, sources: list[str], rejects: list[Rejected]) -> pa.Table:
        """Lines of one file or several (small files are parsed together: one query each
        would cost more than the parsing); column `f` numbers the file in `sources`."""
        import pyarrow.compute as pc

        self.con.register("chunk", chunk)
        try:
            from accessmon._io import arrow_table

            out = arrow_table(self.con.sql(_EXTRACT))
        finally:
            self.con.unregister("chunk")
        text = pc.utf8_trim_whitespace(out.column("txt"))
        out = out.set_column(out.schema.get_field_index("txt"), "txt", text)
        out = out.filter(pc.fill_null(pc.not_equal(text, ""), True))  # blank lines are no events
        ok = pc.and_(
            pc.and_(pc.invert(out.column("unparsed")), pc.is_valid(out.column("event_time"))),
            pc.and_(
                pc.is_valid(out.column("event_type")), pc.not_equal(out.column("event_type"), "")
            ),
        )
        ok = pc.and_(ok, pc.invert(pc.or_(out.column("bad_uid"), out.column("time_out_of_range"))))
        ok = pc.fill_null(ok, False)
        deep = _too_deep(pc.if_else(ok, out.column("txt"), pa.scalar(None, pa.string())))
        out = out.append_column("too_deep", deep)
        ok = pc.and_(ok, pc.invert(deep))
        bad = out.filter(pc.invert(ok))
        if bad.num_rows:
            self._reject(bad, sources, chunk, rejects)
        good = out.filter(ok)
        return self._with_uids(good)

    @staticmethod
    def _reject(bad: pa.Table, sources: list[str], raw: pa.Table, rejects: list[Rejected]) -> None:
        # the times stay in Arrow: those out of range have no Python datetime
        columns = ["f", "n", "txt", "too_deep", "time_out_of_range"]
        rows = bad.select(columns).to_pylist()
        lines = {}
        if any(row["txt"] is None for row in rows):
            keys = zip(raw.column("f").to_pylist(), raw.column("n").to_pylist(), strict=True)
            lines = dict(zip(keys, raw.column("line").to_pylist(), strict=True))
        for row in rows:
            source, n, text = sources[row["f"]], row["n"], row["txt"]
            if text is None:
                line = lines[row["f"], n]
                rejects.append(Rejected(source, n, f"invalid UTF-8 at byte {utf8_error(line)}",
                                        line.decode("utf-8", "replace").strip()))  # fmt: skip
                continue
            rejects.append(Rejected(source, n, why_rejected(text, row), text))

    @staticmethod
    def _with_uids(good: pa.Table) -> pa.Table:
        """Events without a uid get a stable key from their content."""
        import pyarrow.compute as pc

        uids = good.column("uid")
        missing = pc.fill_null(pc.or_(pc.is_null(uids), pc.equal(uids, "")), True)
        if pc.any(missing).as_py():
            texts = good.column("txt").to_pylist()
            filled = [
                content_uid(json.loads(t)) if m else u
                for u, t, m in zip(uids.to_pylist(), texts, missing.to_pylist(), strict=True)
            ]
            good = good.set_column(
                good.schema.get_field_index("uid"), "uid", pa.array(filled, pa.string())
            )
        return pa.table(
            {
                "uid": good.column("uid"),
                "session_id": good.column("session_id"),
                "event_type": good.column("event_type"),
                "event_time": pc.cast(good.column("event_time"), pa.timestamp("ms", tz="UTC")),
                "event_data": good.column("txt"),
                "user": good.column("user"),
            }
        )


def _progress(total_bytes: int):
    """A rich progress bar for large inputs on a terminal, else nothing."""
    if total_bytes < 20 * 1024 * 1024 or not sys.stderr.isatty():
        return None
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        transient=True,
    )


def ingest(paths: Sequence[str | Path], store: str | Path) -> IngestSummary:
    """Read every event from `paths` into `store`; raise IngestError only if nothing was read.

    The store's write lock is held throughout: another ingest into the same store waits
    (and says so), then finds this one's events stored and adds none of them twice."""
    started = time.perf_counter()
    store = Path(store)
    files, problems = discover(paths)
    summary = IngestSummary(files=len(files), unreadable=problems)
    rejects: list[Rejected] = []
    with store_mod.write_lock(store):
        store_mod.remove_dead_temporaries(store)
        _read_all(files, store, summary, rejects)
        summary.rejected = len(rejects)
        if rejects:
            summary.rejected_file = write_rejects(store, rejects)
    summary.elapsed = time.perf_counter() - started
    if summary.read == 0 and (rejects or problems or not files):
        detail = "\n".join(problems)
        if rejects:
            where = summary.rejected_file or store / store_mod.REJECTED_DIR
            detail += f"\n{summary.rejected} line(s) rejected, see {where}"
        raise IngestError(f"nothing could be read from the input\n{detail.strip()}")
    return summary


def _read_all(
    files: list[Path], store: Path, summary: IngestSummary, rejects: list[Rejected]
) -> None:
    """Parse every file, writing to the store each time FLUSH_BYTES of events are held.
    Small files are gathered into blocks of BLOCK_BYTES before they are parsed. The bytes
    held are counted as they come, so many small files cost no more than one big one."""
    extractor = _Extractor()
    builder = cache.Builder(store)
    sources: list[str] = []
    lines: list[pa.Table] = []
    pending: list[pa.Table] = []
    line_bytes = held = 0
    total_bytes = sum(map(file_size, files))
    progress = _progress(total_bytes)

    def parse() -> None:
        nonlocal line_bytes, held
        if lines:
            block = pa.concat_tables(lines)
            if len(lines) > 1:  # of small files: one chunk, not one per file
                block = block.combine_chunks()
            good = extractor.extract(block, sources, rejects)
            lines.clear()
            line_bytes = 0
            summary.read += good.num_rows
            pending.append(good)
            held += good.nbytes
        if held >= FLUSH_BYTES:
            flush()

    def flush() -> None:
        nonlocal held
        if pending:
            table = pa.concat_tables(pending)
            pending.clear()
            held = 0
            added, dups = store_mod.write_events(store, table, on_file=builder.add)
            summary.added += added
            summary.duplicates += dups

    task = progress.add_task("ingest", total=total_bytes) if progress else None
    if progress:
        progress.start()
    try:
        for path in files:
            sources.append(str(path))
            chunks = array_chunks if looks_like_array(path) else line_chunks
            for raw in chunks(path, rejects):
                number = pa.repeat(pa.scalar(len(sources) - 1, pa.int32()), raw.num_rows)
                lines.append(raw.add_column(0, "f", number))
                line_bytes += raw.nbytes
                if line_bytes >= BLOCK_BYTES:
                    parse()
            if progress:
                progress.advance(task, file_size(path))
        parse()
        flush()
    finally:
        summary.cached_files = builder.finish()
        if progress:
            progress.stop()
    # hourly runs each leave a small batch; a `cache build` running now compacts them itself
    with contextlib.suppress(AccessmonError):
        cache.compact(store, wait_seconds=0)
