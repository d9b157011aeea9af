"""One way to take a file lock: runs of the same report, alert state, cache builds."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(path: Path, wait_seconds: float, busy: Callable[[], Exception]) -> Iterator[None]:
    """Hold an exclusive lock on `path`, waiting up to `wait_seconds`; then raise `busy()`.

    fcntl locks go with the process: a run killed with -9 never leaves a stale lock behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise busy() from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)
