"""Input files as tables of lines: which files a path names, and how each is read
(JSON lines in large blocks, gzip, JSON arrays, a line-by-line fallback)."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from accessmon.storage.rejects import Rejected

#: Files taken from directories; a file named on the command line is always read.
LOG_SUFFIXES = (".log", ".json", ".jsonl", ".ndjson", ".gz", ".txt")
#: Bytes of small files gathered into one block before DuckDB parses them.
BLOCK_BYTES = 16 << 20
_PY_CHUNK_LINES = 100_000
_SMALL_FILE_BYTES = 1 << 20


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


def file_size(path: Path) -> int:
    """0 for a file gone since it was listed: reading it then says why."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _open(path: Path):
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def looks_like_array(path: Path) -> bool:
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
            column_names=["line"], block_size=BLOCK_BYTES, use_threads=False
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


def line_chunks(path: Path, rejects: list[Rejected]) -> Iterator[pa.Table]:
    """A small file is read at once (setting up Arrow's reader costs more than reading it);
    a large one block by block; what either cannot read, line by line."""
    if file_size(path) <= _SMALL_FILE_BYTES:
        try:
            with _open(path) as fh:
                data = fh.read(BLOCK_BYTES + 1)
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError):
            data = None  # the slower readers below say where it stopped
        if data is not None and len(data) <= BLOCK_BYTES:
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


def array_chunks(path: Path, rejects: list[Rejected]) -> Iterator[pa.Table]:
    """A file holding one JSON array of events; positions are the items' numbers. A file
    that is no whole JSON array after all is read as JSON lines, so no good line is lost."""
    try:
        with _open(path) as fh:
            items = json.loads(fh.read())
        if not isinstance(items, list):
            raise ValueError("not an array")
        texts = [json.dumps(i, ensure_ascii=False, separators=(",", ":")).encode() for i in items]
    except (ValueError, RecursionError, EOFError, gzip.BadGzipFile, zlib.error, OSError):
        yield from line_chunks(path, rejects)
        return
    yield _lines_table(list(range(1, len(texts) + 1)), texts)
