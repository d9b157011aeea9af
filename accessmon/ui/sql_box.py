"""The SQL box of the query editor: CodeMirror 6 in an anywidget.

A plain Textarea cannot highlight SQL, complete names, run on Ctrl+Enter or tell the kernel
where the cursor is. CodeMirror does all four in the browser; this class holds the SQL and
the schema the browser completes from, and passes "run" and "insert" between the two.
`make js` rebuilds `static/sql_box.js` from `js/src/sql_box.js`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

STATIC = Path(__file__).parent / "static"


class SqlBox(anywidget.AnyWidget):
    """SQL with highlighting, completion of views and columns, and keys that run it."""

    _esm = STATIC / "sql_box.js"
    value = traitlets.Unicode("").tag(sync=True)
    #: view -> its column names: CodeMirror completes views after FROM/JOIN and their columns
    schema = traitlets.Dict().tag(sync=True)
    placeholder = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_run: list[Callable[[], None]] = []
        self.on_msg(self._message)

    def set_schema(self, views: Mapping[str, Sequence[str]]) -> None:
        self.schema = {name: list(columns) for name, columns in views.items()}

    def set_text(self, text: str) -> None:
        """Replace the SQL on screen (a loaded query): by message, since `value` flows from
        the browser, and its echoes would undo what the analyst typed meanwhile."""
        self.value = text
        self.send({"type": "set", "text": text})

    def insert(self, text: str) -> None:
        """Insert at the analyst's cursor (replacing a selection), as typing would."""
        self.send({"type": "insert", "text": text})

    def on_run(self, callback: Callable[[], None]) -> None:
        """Call `callback` on Ctrl+Enter or Shift+Enter, after `value` has the text on screen."""
        self._on_run.append(callback)

    def _message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "run":
            if isinstance(content.get("text"), str):
                self.value = content["text"]  # the text on screen when the key was pressed
            for callback in self._on_run:
                callback()
