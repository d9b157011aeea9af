"""The I/O promises every layer keeps: files appear whole or not at all, a killed writer's
leftovers can be told apart and removed, and UTC times are written one way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: Temporary names without a writer (older versions) are removed once this old.
_ORPHAN_SECONDS = 24 * 3600


# -- time -------------------------------------------------------------------------------------


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc_timestamp(moment: dt.datetime | None = None) -> str:
    """RFC 3339 in UTC with milliseconds, as Teleport writes `time`: 2024-03-20T12:12:03.374Z."""
    moment = (moment or utc_now()).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def file_stamp(moment: dt.datetime | None = None) -> str:
    """The same instant, to the second, safe in a file name: 20240320T121203Z."""
    return (moment or utc_now()).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


# -- processes ----------------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


# -- atomic writes --------------------------------------------------------------------------------


def temp_path(path: Path) -> Path:
    """A hidden name beside `path` that names its writer (pid and host), so that what a
    killed writer leaves behind can be told from what a running one is writing."""
    return path.with_name(
        f".{path.name}~{os.getpid()}~{socket.gethostname()}~{uuid.uuid4().hex}.tmp"
    )


def atomic_write(path: Path, write: Callable[[Path], None], *, fsync: bool = False) -> Path:
    """The one way accessmon writes a file: `write` fills a temporary name beside `path`, which
    is then renamed over it, so readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        write(tmp)
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def atomic_write_text(text: str, path: Path, private: bool = False) -> Path:
    """`private` files are readable by their owner only (0600) from the start."""

    def write(tmp: Path) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
        with open(fd, "w", encoding="utf-8") as fh:
            fh.write(text)

    return atomic_write(path, write)


def _left_by_the_dead(entry: os.DirEntry) -> bool:
    """A temporary file or folder whose writer is gone: a process of this host that no longer
    runs, or, for names without a writer, one older than a day. Only the user's own."""
    if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
        return False
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    if st.st_uid != os.getuid():
        return False
    parts = entry.name[1:-4].rsplit("~", 3)
    if len(parts) == 4:
        _, pid, host, _ = parts
        return host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))
    return time.time() - st.st_mtime > _ORPHAN_SECONDS


def remove_dead_temporaries_in(folder: Path) -> int:
    """Remove the temporary files and folders in `folder` whose writers are gone (see
    temp_path); returns how many were removed."""
    removed = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if _left_by_the_dead(entry):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                removed += 1
    return removed


# -- DuckDB ---------------------------------------------------------------------------------------


def arrow_table(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    """The result as a pyarrow Table (the method's name changed in DuckDB 2.0)."""
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    return fetch()
