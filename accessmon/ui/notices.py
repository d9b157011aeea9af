"""Notices (single-user mode, role warnings) where the analyst reads them, as information.

Outside the CLI, the `accessmon` logger has no handler, so Python prints its notices on
stderr, which JupyterLab shows in red like an error. In a notebook they are information:
the editor shows them in its own notice line, any other cell as a plain output line.
Each notice is logged once per process (see `accessmon.access.rbac`), so once per session.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator

_sink = threading.local()


class NotebookNotices(logging.Handler):
    """Send each notice to the sink of the current thread, or print it to stdout."""

    def emit(self, record: logging.LogRecord) -> None:
        message = self.format(record)
        sink = getattr(_sink, "callback", None)
        if sink is not None:
            sink(message)
        else:
            print(message, file=sys.stdout)


def show_notices_in_notebook() -> None:
    """Install the handler once; the CLI keeps its own (stderr)."""
    log = logging.getLogger("accessmon")
    if not any(isinstance(h, NotebookNotices) for h in log.handlers):
        handler = NotebookNotices()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.propagate = False


@contextlib.contextmanager
def notices_to(callback: Callable[[str], None]) -> Iterator[None]:
    """Notices raised in this thread, while the block runs, go to `callback`."""
    show_notices_in_notebook()
    previous = getattr(_sink, "callback", None)
    _sink.callback = callback
    try:
        yield
    finally:
        _sink.callback = previous
