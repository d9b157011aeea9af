"""Lines that cannot be stored: why, and where they are kept (`<store>/_rejected/`, private
to the owner, each line recorded once however often its file is ingested)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from accessmon import _io
from accessmon.storage import store as store_mod

#: Events nested deeper than this are rejected: Teleport's are a few levels deep, and Python's
#: JSON reader (content keys, reports) gives up near 1,000.
MAX_DEPTH = 512


@dataclass
class Rejected:
    source: str
    line: int
    reason: str
    text: str


def utf8_error(raw: bytes) -> int:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start
    return 0


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
               int: "a number", float: "a number", type(None): "null"}  # fmt: skip


def why_rejected(text: str, row: dict) -> str:
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


def write_rejects(store: Path, rejects: list[Rejected]) -> Path | None:
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
    stamp = _io.file_stamp()
    path = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
    _io.atomic_write_text("".join(lines), path, private=True)
    return path
