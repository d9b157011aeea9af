"""Read Teleport audit logs (JSON lines, gzip, JSON arrays) into the store.

Bad lines are set aside in `<store>/_rejected/` with their file, line and reason;
they never stop the rest of a file. De-duplication is by `uid`.

Lines travel as Arrow columns: pyarrow reads them in large blocks and DuckDB parses the
JSON, so no Python object is made per event. A file the fast reader cannot finish (a
truncated .gz, say) is read on, from where it stopped, line by line in Python.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import json
import sys
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from . import cache
from . import store as store_mod
from .errors import AccessmonError, IngestError
from .viewsql import duckdb_utc_instant

#: Files taken from directories; a file named on the command line is always read.
LOG_SUFFIXES = (".log", ".json", ".jsonl", ".ndjson", ".gz", ".txt")
#: Bytes of parsed events held before they are written to the store (one file per day each
#: time): bounds memory whatever the events' size (about 90,000 demo events).
FLUSH_BYTES = 64 << 20
_BLOCK_BYTES = 16 << 20
_PY_CHUNK_LINES = 100_000


@dataclass
class Rejected:
    source: str
    line: int
    reason: str
    text: str


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
        for problem in self.unreadable:
            text += f"\nskipped: {problem}"
        return text


def discover(paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Files to read, and the paths that could not be read at all."""
    files: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and p.name.lower().endswith(LOG_SUFFIXES)
            )
            if not found:
                problems.append(f"{path}: no audit log files (*.log, *.json, *.jsonl, *.gz)")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{path}: no such file or directory")
    return files, problems


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _first_byte(path: Path) -> bytes:
    """The first non-blank byte: `[` means one JSON array of events."""
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rb") as fh:
            while chunk := fh.read(4096):
                stripped = chunk.lstrip()
                if stripped:
                    return stripped[:1]
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError):
        return b""
    return b""


def _lines_table(numbers: list[int], lines: list) -> pa.Table:
    return pa.table({"n": pa.array(numbers, pa.int64()), "line": pa.array(lines, pa.binary())})


def _fast_chunks(path: Path) -> Iterator[pa.Table]:
    """Blocks of raw lines, numbered, straight into Arrow (plain or gzip)."""
    stream = pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None)
    reader = pacsv.open_csv(
        stream,
        # single-threaded reading: the threaded reader reads far ahead and holds the blocks
        read_options=pacsv.ReadOptions(
            column_names=["line"], block_size=_BLOCK_BYTES, use_threads=False
        ),
        parse_options=pacsv.ParseOptions(
            delimiter="\x01", quote_char=False, escape_char=False, ignore_empty_lines=False
        ),
        convert_options=pacsv.ConvertOptions(column_types={"line": pa.binary()}),
    )
    offset = 0
    for batch in reader:
        n = batch.num_rows
        numbers = pa.array(range(offset + 1, offset + n + 1), pa.int64())
        offset += n
        yield pa.table({"n": numbers, "line": batch.column(0)})


def _python_chunks(path: Path, skip: int, rejects: list[Rejected]) -> Iterator[pa.Table]:
    """Line by line after `skip` lines; a truncated or corrupt gzip ends with one reject."""
    numbers: list[int] = []
    lines: list[bytes] = []
    n = skip
    try:
        with gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb") as fh:
            for n, raw in enumerate(fh, start=1):
                if n <= skip:
                    continue
                numbers.append(n)
                lines.append(raw)
                if len(lines) >= _PY_CHUNK_LINES:
                    yield _lines_table(numbers, lines)
                    numbers, lines = [], []
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
        rejects.append(Rejected(str(path), n + 1, f"unreadable after line {n}: {e}", ""))
    if lines:
        yield _lines_table(numbers, lines)


def _line_chunks(path: Path, rejects: list[Rejected]) -> Iterator[pa.Table]:
    done = 0
    try:
        for table in _fast_chunks(path):
            yield table
            done = int(table.column("n")[-1].as_py()) if table.num_rows else done
        return
    except (pa.ArrowException, OSError, EOFError, zlib.error):
        pass  # read on, from where the fast reader stopped, line by line
    yield from _python_chunks(path, done, rejects)


def _array_chunks(path: Path, rejects: list[Rejected]) -> Iterator[pa.Table]:
    """A file holding one JSON array of events; positions are the items' numbers."""
    try:
        opener = gzip.open if _is_gzip(path) else open
        with opener(path, "rb") as fh:
            items = json.loads(fh.read())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        line = getattr(e, "lineno", 1)
        rejects.append(Rejected(str(path), line, f"malformed JSON array: {e}", ""))
        return
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
        rejects.append(Rejected(str(path), 1, f"unreadable: {e}", ""))
        return
    if not isinstance(items, list):
        rejects.append(Rejected(str(path), 1, "not a JSON array of events", ""))
        return
    texts = [json.dumps(i, ensure_ascii=False, separators=(",", ":")).encode() for i in items]
    yield _lines_table(list(range(1, len(texts) + 1)), texts)


def content_uid(event: dict) -> str:
    """A stable key for an event without `uid`: the same content always gets the same one."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(uuid.UUID(bytes=hashlib.sha256(canonical.encode()).digest()[:16], version=5))


_EXTRACT = f"""
SELECT n, txt,
       s.event AS event_type,
       s.uid AS uid,
       coalesce(s.sid, '') AS session_id,
       coalesce(s."user", '') AS "user",
       {duckdb_utc_instant("s.time", "TRY_CAST")} AS event_time,
       s IS NULL AS unparsed
FROM (
  SELECT n, txt,
         TRY(json_transform(txt, '{{"event":"VARCHAR","time":"VARCHAR","uid":"VARCHAR",
                                   "sid":"VARCHAR","user":"VARCHAR"}}')) AS s
  FROM (SELECT n, TRY(decode(line)) AS txt FROM chunk)
)
"""


class _Extractor:
    """Parses a chunk of lines with DuckDB: Teleport's columns out, bad lines set aside.

    The connection is private to ingest and never sees analyst SQL.
    """

    def __init__(self) -> None:
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")

    def extract(
        self, chunk: pa.Table, source: str, raw: pa.Table, rejects: list[Rejected]
    ) -> pa.Table:
        import pyarrow.compute as pc

        self.con.register("chunk", chunk)
        try:
            from .engines.duckdb import arrow_table

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
        ok = pc.fill_null(ok, False)
        bad = out.filter(pc.invert(ok))
        if bad.num_rows:
            self._reject(bad, source, raw, rejects)
        good = out.filter(ok)
        return self._with_uids(good)

    @staticmethod
    def _reject(bad: pa.Table, source: str, raw: pa.Table, rejects: list[Rejected]) -> None:
        lines = dict(zip(raw.column("n").to_pylist(), raw.column("line").to_pylist(), strict=True))
        for row in bad.to_pylist():
            n, text = row["n"], row["txt"]
            if text is None:
                err = _utf8_error(lines[n])
                rejects.append(Rejected(source, n, f"invalid UTF-8 at byte {err}",
                                        lines[n].decode("utf-8", "replace").strip()))  # fmt: skip
                continue
            rejects.append(Rejected(source, n, _why(text, row), text))

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


def _utf8_error(raw: bytes) -> int:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start
    return 0


def _why(text: str, row: dict) -> str:
    """The reason for one rejected line, worked out in Python: such lines are rare."""
    try:
        event = json.loads(text)
    except json.JSONDecodeError as e:
        return f"malformed JSON: {e.msg} at column {e.colno}"
    if not isinstance(event, dict):
        return "not a JSON object"
    if not isinstance(event.get("event"), str) or not event["event"]:
        return "missing 'event'"
    if not isinstance(event.get("time"), str) or not event["time"]:
        return "missing 'time'"
    return f"invalid time {event['time']!r}"


def _write_rejects(store: Path, rejects: list[Rejected]) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = store / store_mod.REJECTED_DIR / f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
    text = "".join(json.dumps(r.__dict__, ensure_ascii=False) + "\n" for r in rejects)
    store_mod.atomic_write_text(text, path)
    return path


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
    """Read every event from `paths` into `store`; raise IngestError only if nothing was read."""
    started = time.perf_counter()
    store = Path(store)
    files, problems = discover(paths)
    summary = IngestSummary(files=len(files), unreadable=problems)
    rejects: list[Rejected] = []
    extractor = _Extractor()
    builder = cache.Builder(store)
    pending: list[pa.Table] = []
    total_bytes = sum(f.stat().st_size for f in files)
    progress = _progress(total_bytes)

    def flush() -> None:
        if pending:
            table = pa.concat_tables(pending)
            pending.clear()
            added, dups = store_mod.write_events(store, table, on_file=builder.add)
            summary.added += added
            summary.duplicates += dups

    task = progress.add_task("ingest", total=total_bytes) if progress else None
    if progress:
        progress.start()
    try:
        for path in files:
            chunks = _array_chunks if _first_byte(path) == b"[" else _line_chunks
            for raw in chunks(path, rejects):
                good = extractor.extract(raw, str(path), raw, rejects)
                summary.read += good.num_rows
                pending.append(good)
                if sum(t.nbytes for t in pending) >= FLUSH_BYTES:
                    flush()
            if progress:
                progress.advance(task, path.stat().st_size)
        flush()
    finally:
        summary.cached_files = builder.finish()
        if progress:
            progress.stop()
    # hourly runs each leave a small batch; a `cache build` running now compacts them itself
    with contextlib.suppress(AccessmonError):
        cache.compact(store, wait_seconds=0)
    summary.rejected = len(rejects)
    if rejects:
        summary.rejected_file = _write_rejects(store, rejects)
    summary.elapsed = time.perf_counter() - started
    if summary.read == 0 and (rejects or problems or not files):
        detail = "\n".join(problems)
        if summary.rejected_file:
            detail += f"\n{summary.rejected} line(s) rejected, see {summary.rejected_file}"
        raise IngestError(f"nothing could be read from the input\n{detail.strip()}")
    return summary
