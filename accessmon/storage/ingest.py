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
import datetime as dt
import gzip
import hashlib
import json
import os
import re
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

from accessmon.errors import AccessmonError, IngestError
from accessmon.sql.render import duckdb_utc_instant
from accessmon.storage import cache
from accessmon.storage import store as store_mod

#: Files taken from directories; a file named on the command line is always read.
LOG_SUFFIXES = (".log", ".json", ".jsonl", ".ndjson", ".gz", ".txt")
#: Bytes of parsed events held before they are written to the store (one file per day each
#: time): bounds memory whatever the events' size (about 90,000 demo events).
FLUSH_BYTES = 64 << 20
_BLOCK_BYTES = 16 << 20
_PY_CHUNK_LINES = 100_000
_SMALL_FILE_BYTES = 1 << 20
#: Events nested deeper than this are rejected: Teleport's are a few levels deep, and Python's
#: JSON reader (content keys, reports) gives up near 1,000.
MAX_DEPTH = 512


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
        elif self.rejected:
            text += "\nrejected lines: all recorded by an earlier run"
        for problem in self.unreadable:
            text += f"\nskipped: {problem}"
        return text


def discover(paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Files to read, and the paths that could not be read at all.

    A file named on the command line is read wherever a link leads: the user chose it. In a
    folder, a symbolic link is followed only to a file inside that folder, so a link planted
    among the logs cannot make ingest read (and set aside in `_rejected/`) a private file."""
    files: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            root = path.resolve()
            found = []
            for p in sorted(path.rglob("*")):
                if any(part.startswith(".") for part in p.relative_to(path).parts):
                    continue
                if not p.name.lower().endswith(LOG_SUFFIXES) or not p.is_file():
                    continue
                if not p.resolve().is_relative_to(root):
                    problems.append(f"{p}: a symbolic link out of {path}, not followed")
                    continue
                found.append(p)
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


def _size(path: Path) -> int:
    """0 for a file gone since it was listed: reading it then says why."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _open(path: Path):
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _looks_like_array(path: Path) -> bool:
    """A file whose first non-blank byte is `[` holds one JSON array of events, unless its
    first line is a whole JSON value with more lines after it: JSON lines, whose first line
    happens to be an array (and is rejected as no object)."""
    try:
        with _open(path) as fh:
            first = b""
            while not first.strip():
                first = fh.readline()
                if not first:
                    return False
            if not first.lstrip().startswith(b"["):
                return False
            while rest := fh.read(4096):
                if rest.strip():
                    break
            else:
                return True  # one line: an array on one line
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError):
        return False
    try:
        json.loads(first)
    except (ValueError, RecursionError):
        return True  # the array goes on over the next lines
    return False


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
    """A small file is read at once (setting up Arrow's reader costs more than reading it);
    a large one block by block; what either cannot read, line by line."""
    if _size(path) <= _SMALL_FILE_BYTES:
        try:
            with _open(path) as fh:
                data = fh.read(_BLOCK_BYTES + 1)
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError):
            data = None  # the slower readers below say where it stopped
        if data is not None and len(data) <= _BLOCK_BYTES:
            lines = data.splitlines()  # \n, \r\n or \r, as Arrow's reader splits
            if lines:
                yield _lines_table(list(range(1, len(lines) + 1)), lines)
            return
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
    """A file holding one JSON array of events; positions are the items' numbers. A file
    that is no whole JSON array after all is read as JSON lines, so no good line is lost."""
    try:
        with _open(path) as fh:
            items = json.loads(fh.read())
        if not isinstance(items, list):
            raise ValueError("not an array")
        texts = [json.dumps(i, ensure_ascii=False, separators=(",", ":")).encode() for i in items]
    except (ValueError, RecursionError, EOFError, gzip.BadGzipFile, zlib.error, OSError):
        yield from _line_chunks(path, rejects)
        return
    yield _lines_table(list(range(1, len(texts) + 1)), texts)


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
                rejects.append(Rejected(source, n, f"invalid UTF-8 at byte {_utf8_error(line)}",
                                        line.decode("utf-8", "replace").strip()))  # fmt: skip
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


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
               int: "a number", float: "a number", type(None): "null"}  # fmt: skip


def _why(text: str, row: dict) -> str:
    """The reason for one rejected line, worked out in Python: such lines are rare."""
    if row.get("too_deep"):
        return f"JSON nested deeper than {MAX_DEPTH} levels"
    try:
        event = json.loads(text)
    except json.JSONDecodeError as e:
        return f"malformed JSON: {e.msg} at column {e.colno}"
    except RecursionError:
        return f"JSON nested deeper than {MAX_DEPTH} levels"
    if not isinstance(event, dict):
        return "not a JSON object"
    for key in ("event", "time"):
        value = event.get(key)
        if value is None:
            return f"missing '{key}'"
        if not isinstance(value, str):
            return f"'{key}' is not a string but {_JSON_TYPES.get(type(value), 'a number')}"
        if not value:
            return f"'{key}' is empty"
    uid = event.get("uid")
    if uid is not None and not isinstance(uid, str):
        return f"'uid' is not a string but {_JSON_TYPES.get(type(uid), 'a number')}"
    if row.get("time_out_of_range"):
        return f"time out of range (years 1 to 9999): {event['time']!r}"
    return f"invalid time {event['time']!r}"


def _reject_key(source: str, line: int, text: str) -> str:
    return hashlib.sha256(f"{source}\0{line}\0{text}".encode()).hexdigest()


def _recorded(folder: Path) -> set[str]:
    """Keys of the lines already set aside, so that a re-run records none of them twice."""
    keys: set[str] = set()
    if not folder.is_dir():
        return keys
    for path in folder.glob("*.jsonl"):
        try:
            with open(path, encoding="utf-8") as fh:
                for raw in fh:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        r = json.loads(raw)
                        keys.add(_reject_key(r["source"], r["line"], r["text"]))
        except OSError:
            continue
    return keys


def _write_rejects(store: Path, rejects: list[Rejected]) -> Path | None:
    """Append the new rejects to `_rejected/` (0700, files 0600: they hold the lines as they
    were, which may be private); returns the file, or None if all were recorded before."""
    folder = store / store_mod.REJECTED_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # made by an older version with the umask's mode
        os.chmod(folder, 0o700)
    seen = _recorded(folder)
    lines = []
    for r in rejects:
        r.source = os.path.abspath(r.source)
        key = _reject_key(r.source, r.line, r.text)
        if key not in seen:
            seen.add(key)
            lines.append(json.dumps(r.__dict__, ensure_ascii=False) + "\n")
    if not lines:
        return None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
    store_mod.atomic_write_text("".join(lines), path, private=True)
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
            summary.rejected_file = _write_rejects(store, rejects)
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
    Small files are gathered into blocks of _BLOCK_BYTES before they are parsed. The bytes
    held are counted as they come, so many small files cost no more than one big one."""
    extractor = _Extractor()
    builder = cache.Builder(store)
    sources: list[str] = []
    lines: list[pa.Table] = []
    pending: list[pa.Table] = []
    line_bytes = held = 0
    total_bytes = sum(map(_size, files))
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
            chunks = _array_chunks if _looks_like_array(path) else _line_chunks
            for raw in chunks(path, rejects):
                number = pa.repeat(pa.scalar(len(sources) - 1, pa.int32()), raw.num_rows)
                lines.append(raw.add_column(0, "f", number))
                line_bytes += raw.nbytes
                if line_bytes >= _BLOCK_BYTES:
                    parse()
            if progress:
                progress.advance(task, _size(path))
        parse()
        flush()
    finally:
        summary.cached_files = builder.finish()
        if progress:
            progress.stop()
    # hourly runs each leave a small batch; a `cache build` running now compacts them itself
    with contextlib.suppress(AccessmonError):
        cache.compact(store, wait_seconds=0)
