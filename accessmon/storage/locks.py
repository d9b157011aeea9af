"""One way to take a file lock: runs of the same report, alert state, cache builds, store writes."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(
    path: Path,
    wait_seconds: float,
    busy: Callable[[], Exception],
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold an exclusive lock on `path`, waiting up to `wait_seconds`; then raise `busy()`.

    fcntl locks go with the process: a run killed with -9 never leaves a stale lock behind.
    The holder writes its pid into the file, so that one who waits can say whom it waits for:
    `on_wait(pid)` is called once, when the lock is found taken.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_seconds
    told = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise busy() from None
                if on_wait is not None and not told:
                    told = True
                    on_wait(os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?")
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
