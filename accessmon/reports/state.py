"""A report's runs on disk: state files, the per-report lock, interrupted runs, scratch folders.

Teleport keeps one state per report and window (RUNNING, SUCCESS, ERROR); cron runs overlap
and processes die, so a run takes the report's lock and leftovers of dead runs are repaired.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accessmon._io import atomic_write_text, pid_alive, utc_timestamp
from accessmon.errors import ReportBusy
from accessmon.names import check_name
from accessmon.storage import audit
from accessmon.storage.locks import exclusive

if TYPE_CHECKING:
    from accessmon.session import Session
    from accessmon.window import Window

STATES = ("RUNNING", "SUCCESS", "ERROR")
#: What `report state` says of a run whose process is gone (kill -9, a reboot).
INTERRUPTED = "interrupted"
#: What follows `<report>_` in a state file name: the window.
_STATE_SUFFIX = r"_(?:\d+_days|\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2})\.json"
RUN_PREFIX = ".run-"
_log = logging.getLogger("accessmon")


def state_name(name: str, window: Window) -> str:
    """Teleport's `<report>_<days>_days`, or `<report>_<from>_<to>` for a date range."""
    check_name(name, "report")
    if window.days:
        return f"{name}_{window.days}_days"
    return f"{name}_{window.start}_{window.end}"


def _state_dir(output_dir: Path) -> Path:
    return output_dir / ".state"


def write_state(output_dir: Path, key: str, state: str, **extra: Any) -> None:
    """The state of one report and window, replaced atomically (cron reads it concurrently)."""
    check_name(key, "report state")
    doc = {"name": key, "state": state, "updated_at": utc_timestamp(), **extra}
    atomic_write_text(json.dumps(doc, indent=1), _state_dir(output_dir) / f"{key}.json")


def own_files(folder: Path, name: str, suffix: str) -> list[Path]:
    """The files of report `name` in `folder` only: no glob, so neither a name nor a longer
    report's prefix (`team` and `team_checks`) reaches files that are not its own."""
    pattern = re.compile(re.escape(check_name(name, "report")) + suffix)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name) and p.is_file())


def _state_doc(path: Path) -> dict[str, Any] | None:
    """A state file's document, or None (with a warning) for anything else found there."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        _log.warning("warning: skipping %s: not a report state file (%s)", path, e)
        return None
    if not (
        isinstance(doc, dict)
        and all(isinstance(doc.get(k), str) for k in ("name", "state", "updated_at"))
    ):
        _log.warning("warning: skipping %s: not a report state file", path)
        return None
    return doc


def _host_pid(prefix: str, text: str) -> tuple[str, int] | None:
    host, _, rest = text.removeprefix(prefix).rpartition(".")
    return (host, int(rest)) if host and rest.isdigit() else None


def _gone(doc: dict[str, Any]) -> bool:
    """A RUNNING state written by a process of this host that no longer exists."""
    pid = doc.get("pid")
    if doc.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    return not pid_alive(pid)


def read_states(output_dir: Path, name: str) -> list[dict[str, Any]]:
    """The report's state documents, newest first; a RUNNING run whose process is gone
    reads as ERROR (interrupted)."""
    docs = []
    for path in own_files(_state_dir(output_dir), name, _STATE_SUFFIX):
        doc = _state_doc(path)
        if doc is None:
            continue
        if doc["state"] == "RUNNING" and _gone(doc):
            doc = {**doc, "state": "ERROR", "error": INTERRUPTED}
        docs.append(doc)
    return sorted(docs, key=lambda d: d["updated_at"], reverse=True)


def mark_interrupted(output_dir: Path, name: str) -> None:
    """Under the report's lock no run of it is in progress: a RUNNING state is a leftover."""
    for path in own_files(_state_dir(output_dir), name, _STATE_SUFFIX):
        doc = _state_doc(path)
        if doc is not None and doc["state"] == "RUNNING":
            extra = {k: v for k, v in doc.items() if k not in ("name", "state", "updated_at")}
            write_state(output_dir, doc["name"], "ERROR", **{**extra, "error": INTERRUPTED})


def run_folder_prefix() -> str:
    """`.run-<host>.<pid>.`: the scratch folder of a headless run, named after its process."""
    return f"{RUN_PREFIX}{socket.gethostname()}.{os.getpid()}."


def remove_dead_run_folders(output_dir: Path) -> list[Path]:
    """The scratch folders of this user's runs on this host whose process is gone (kill -9),
    as the DuckDB engine does for its spill folders."""
    host, removed = socket.gethostname(), []
    if not output_dir.is_dir():
        return removed
    for entry in output_dir.iterdir():
        if not entry.name.startswith(RUN_PREFIX):
            continue
        found = _host_pid(RUN_PREFIX, entry.name.rsplit(".", 1)[0])
        if found is None or found[0] != host or pid_alive(found[1]):
            continue
        try:
            if entry.is_dir() and entry.stat().st_uid == os.getuid():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        except OSError:
            continue
    return removed


def report_lock(
    output_dir: Path, name: str, wait_seconds: float, session: Session | None = None, **fields: Any
) -> AbstractContextManager[None]:
    """Serialise runs of one report: an overlapping cron run waits, then gives up cleanly
    (and, given the session, the give-up is a failed run in the audit trail)."""
    path = _state_dir(output_dir) / f"{check_name(name, 'report')}.lock"

    def busy() -> ReportBusy:
        error = ReportBusy(f"another run of {name} is in progress (lock {path}); try again later")
        if session is not None:
            session.audit(audit.REPORT_RUN, success=False, error=str(error), name=name, **fields)
        return error

    return exclusive(path, wait_seconds, busy)
