"""Read Teleport audit logs (JSON lines, gzip, JSON arrays) into the store.

Bad lines are set aside in `<store>/_rejected/` with their file, line and reason;
they never stop the rest of a file. De-duplication is by `uid`.
"""

from __future__ import annotations

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

import pandas as pd
import pyarrow as pa

from . import store as store_mod
from .errors import IngestError

#: Files taken from directories; a file named on the command line is always read.
LOG_SUFFIXES = (".log", ".json", ".jsonl", ".ndjson", ".gz", ".txt")
BATCH_EVENTS = 500_000


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
    unreadable: list[str] = field(default_factory=list)

    def as_text(self) -> str:
        text = (
            f"files: {self.files}  events read: {self.read}  added: {self.added}  "
            f"duplicates: {self.duplicates}  rejected: {self.rejected}  "
            f"elapsed: {self.elapsed:.1f}s"
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


def _open(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _lines(path: Path, rejects: list[Rejected]) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line); a truncated or corrupt gzip ends the file with one reject."""
    n = 0
    try:
        with _open(path) as fh:
            for n, raw in enumerate(fh, start=1):
                yield n, raw
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
        rejects.append(Rejected(str(path), n + 1, f"unreadable after line {n}: {e}", ""))


def _records(path: Path, rejects: list[Rejected]) -> Iterator[tuple[int, dict, str]]:
    """(line, event, its JSON text) for every acceptable event of one file."""
    lines = _lines(path, rejects)
    for n, raw in lines:  # noqa: B007 - n and raw are the first non-blank line
        if raw.strip():
            break
    else:
        return
    if raw.lstrip().startswith(b"["):
        yield from _array_records(path, n, raw, lines, rejects)
        return
    yield from _line_records(path, [(n, raw)], rejects)
    yield from _line_records(path, lines, rejects)


def _array_records(path, first_n, first_raw, lines, rejects):
    """A file holding one JSON array of events; positions are reported as its line numbers."""
    chunks = [first_raw] + [raw for _, raw in lines]
    try:
        items = json.loads(b"".join(chunks))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        line = first_n + getattr(e, "lineno", 1) - 1
        rejects.append(Rejected(str(path), line, f"malformed JSON array: {e}", ""))
        return
    if not isinstance(items, list):
        rejects.append(Rejected(str(path), first_n, "not a JSON array of events", ""))
        return
    for i, item in enumerate(items, start=1):
        text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        reason = _problem(item)
        if reason:
            rejects.append(Rejected(str(path), i, f"item {i}: {reason}", text))
        else:
            yield i, item, text


def _line_records(path, lines, rejects):
    for n, raw in lines:
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError as e:
            rejects.append(
                Rejected(
                    str(path),
                    n,
                    f"invalid UTF-8 at byte {e.start}",
                    raw.decode("utf-8", "replace").strip(),
                )
            )
            continue
        if not text:
            continue
        try:
            event = json.loads(text)
        except json.JSONDecodeError as e:
            rejects.append(
                Rejected(str(path), n, f"malformed JSON: {e.msg} at column {e.colno}", text)
            )
            continue
        reason = _problem(event)
        if reason:
            rejects.append(Rejected(str(path), n, reason, text))
            continue
        yield n, event, text


def _problem(event) -> str | None:
    if not isinstance(event, dict):
        return "not a JSON object"
    if not isinstance(event.get("event"), str) or not event["event"]:
        return "missing 'event'"
    if not isinstance(event.get("time"), str) or not event["time"]:
        return "missing 'time'"
    return None


def content_uid(event: dict) -> str:
    """A stable key for an event without `uid`: the same content always gets the same one."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(uuid.UUID(bytes=hashlib.sha256(canonical.encode()).digest()[:16], version=5))


class _Batch:
    def __init__(self) -> None:
        self.cols: dict[str, list] = {
            k: [] for k in ("uid", "session_id", "event_type", "time", "event_data", "user")
        }
        self.where: list[tuple[str, int]] = []

    def add(self, source: str, n: int, event: dict, text: str) -> None:
        uid = event.get("uid")
        c = self.cols
        c["uid"].append(uid if isinstance(uid, str) and uid else content_uid(event))
        sid = event.get("sid")
        c["session_id"].append(sid if isinstance(sid, str) else "")
        c["event_type"].append(event["event"])
        c["time"].append(event["time"])
        c["event_data"].append(text)
        user = event.get("user")
        c["user"].append(user if isinstance(user, str) else "")
        self.where.append((source, n))

    def __len__(self) -> int:
        return len(self.where)

    def to_table(self, rejects: list[Rejected]) -> pa.Table:
        """Parse times column-wise; a time that is not RFC 3339 rejects its event."""
        parsed = pd.to_datetime(
            pd.Series(self.cols["time"]), utc=True, format="ISO8601", errors="coerce"
        )
        bad = parsed.isna().to_numpy()
        for i in bad.nonzero()[0]:
            source, n = self.where[i]
            rejects.append(
                Rejected(
                    source, n, f"invalid time {self.cols['time'][i]!r}", self.cols["event_data"][i]
                )
            )
        keep = ~bad
        times = parsed[keep].dt.floor("ms")
        data = {
            k: pa.array([v for v, ok in zip(vals, keep, strict=True) if ok], pa.string())
            for k, vals in self.cols.items()
            if k != "time"
        }
        data["event_time"] = pa.array(times, pa.timestamp("ms", tz="UTC"))
        return pa.table(data).select(store_mod.SCHEMA.names)


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
    batch = _Batch()
    total_bytes = sum(f.stat().st_size for f in files)
    progress = _progress(total_bytes)

    def flush() -> None:
        nonlocal batch
        if len(batch):
            table = batch.to_table(rejects)
            summary.read += table.num_rows
            added, dups = store_mod.write_events(store, table)
            summary.added += added
            summary.duplicates += dups
        batch = _Batch()

    task = progress.add_task("ingest", total=total_bytes) if progress else None
    if progress:
        progress.start()
    try:
        for path in files:
            for n, event, text in _records(path, rejects):
                batch.add(str(path), n, event, text)
                if len(batch) >= BATCH_EVENTS:
                    flush()
            if progress:
                progress.advance(task, path.stat().st_size)
        flush()
    finally:
        if progress:
            progress.stop()
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
