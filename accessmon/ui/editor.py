"""The Query Editor of Teleport's web UI, without a screen: its state and its actions.

`Editor` holds the editor's state and logic as plain methods (set the SQL, run, page, sort,
chart, export, load and save queries), so tests and scripts drive it without a browser;
`accessmon.ui.widgets.QueryEditor` adds the ipywidgets around those methods and nothing more.

Every action goes through `Session` methods, so the editor passes the same role checks and
writes the same audit trail as the CLI. An `AccessmonError` becomes the editor's one-line
`error`, shown inline; it never escapes as a traceback, so the widget stays usable.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from accessmon.errors import AccessmonError, QueryError
from accessmon.names import did_you_mean
from accessmon.sql.examples import get_example, load_examples
from accessmon.sql.raw_event import RAW_COLUMN
from accessmon.ui.frames import (
    chart_defaults,
    chart_figure,
    need_column,
    sort_frame,
    stats_text,
    unique_names,
)
from accessmon.ui.output import atomic_write, default_export_path, write_frame_csv, write_parquet
from accessmon.window import Window

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from accessmon.result import QueryResult
    from accessmon.session import Session
    from accessmon.sql.views import View

#: Teleport's window presets, in days; a date range is the other choice.
PRESETS = (7, 30, 90, 120)
PAGE_SIZE = 50
#: The example the SQL area starts with: it has a date, a user and a count, so it charts.
DEFAULT_EXAMPLE = "unique_ips_per_user"
EXPORT_FORMATS = ("csv", "parquet")

T = TypeVar("T")


def _recorded(method: Callable[..., T] | None = None, *, clear: bool = True) -> Any:
    """Turn an AccessmonError into the editor's one-line error and return None.

    Actions (`clear=True`) replace the previous error; browsing the views or editing the SQL
    (`clear=False`) keeps it on screen while the analyst fixes the query.
    """
    if method is None:
        return functools.partial(_recorded, clear=clear)

    @functools.wraps(method)
    def wrapper(self: Editor, *args: Any, **kwargs: Any) -> T | None:
        if clear:
            self.error = None
            self.error_position = None
        try:
            return method(self, *args, **kwargs)
        except AccessmonError as e:
            self._fail(e)
            return None
        finally:
            self._refresh()

    return wrapper


class Editor:
    """Teleport's Query Editor, headless: SQL, views, window, results, chart, export."""

    def __init__(
        self, session: Session | None = None, *, page_size: int = PAGE_SIZE, **session_flags: Any
    ) -> None:
        self._session = session
        self._flags = session_flags
        self.page_size = page_size
        self.sql = get_example(DEFAULT_EXAMPLE).query
        #: what the SQL was loaded from: (kind, name, text); see `name`
        self._origin: tuple[str, str, str] | None = ("example", DEFAULT_EXAMPLE, self.sql)
        self._window = Window.last_days(PRESETS[0])
        self.result: QueryResult | None = None
        self.error: str | None = None
        self.error_position: tuple[int, int | None] | None = None
        self.status = ""
        self.figure: go.Figure | None = None
        self.exported: Path | None = None
        self.running = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._base: pd.DataFrame | None = None
        self._frame: pd.DataFrame | None = None
        self._sort: tuple[str, bool] | None = None
        self._page = 1

    # -- session -------------------------------------------------------------------------

    @property
    def name(self) -> str | None:
        """The name of what the analyst works on now: a saved query keeps its name while it
        is edited (Save updates it); an example's name holds only until its SQL is changed,
        so a new query is not exported or saved under the example loaded at start."""
        if self._origin is None:
            return None
        kind, name, text = self._origin
        return name if kind == "saved" or self.sql == text else None

    @property
    def saved_name(self) -> str | None:
        """The saved query being edited, if any: what Save offers to overwrite."""
        return self._origin[1] if self._origin and self._origin[0] == "saved" else None

    def main_view(self) -> str | None:
        """The first view the SQL reads (after FROM or JOIN), if any."""
        match = re.search(r"\b(?:from|join)\s+\"?([A-Za-z_]\w*)", self.sql, re.IGNORECASE)
        return match.group(1).lower() if match else None

    def export_name(self) -> str:
        """A file name for an export: the query's name, else the first view it reads."""
        if self.name:
            return self.name
        view = self.main_view()
        return f"{view}_query" if view else "query"

    @property
    def session(self) -> Session:
        """Built on first use from the flags, as `Session(**flags)` does for the CLI."""
        if self._session is None:
            from accessmon.session import Session

            self._session = Session(**self._flags)
        return self._session

    # -- SQL, views, window --------------------------------------------------------------

    @_recorded(clear=False)
    def set_sql(self, sql: str) -> str:
        self.sql = sql
        return sql

    @_recorded(clear=False)
    def insert_text(self, text: str) -> str:
        """Append `text` to the SQL (the widget's SQL box inserts at the cursor instead)."""
        sep = "" if not self.sql or self.sql[-1].isspace() else " "
        self.sql = f"{self.sql}{sep}{text}"
        return self.sql

    @_recorded(clear=False)
    def views_catalog(self) -> dict[str, tuple[View, list[tuple[str, str]]]]:
        """Each view the analyst may list, with its (column, type) pairs, the hidden
        `event_data` last: the views browser searches and describes these, and the SQL box
        completes from them."""
        return {
            name: (view, [*((c.name, c.type) for c in view.columns), (RAW_COLUMN, "varchar")])
            for name, view in self.session.views().items()
        }

    def insert_view(self, view: str) -> str | None:
        """Append a view's name to the SQL (a typo is refused with a suggestion)."""
        try:
            name = self._view(view).name
        except AccessmonError as e:
            self._fail(e)
            self._refresh()
            return None
        return self.insert_text(name)

    def _view(self, name: str):
        views = self.session.views()
        if name not in views:
            raise AccessmonError(f"unknown view {name}{did_you_mean(name, views, n=1)}")
        return views[name]

    @property
    def window(self) -> Window:
        """The window a run reads now: a preset (`days`) follows today, a range stays put."""
        if self._window.days:
            return Window.last_days(self._window.days)
        return self._window

    @_recorded
    def set_window(
        self,
        window: Window | None = None,
        *,
        days: int | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> Window:
        """A Window, a preset (`days`) or a date range (`start`, `end`): resolved here, where
        the analyst picks it, so a mistake shows before a run."""
        if window is None:
            window = Window.resolve(days, start, end)
        elif days is not None or start is not None or end is not None:
            raise AccessmonError("give either a window or days / start and end, not both")
        self._window = window
        return window

    # -- running ---------------------------------------------------------------------------

    def run(self) -> QueryResult | None:
        """Run the SQL over the window; None when it failed (see `error`) or one is running."""
        if not self._lock.acquire(blocking=False):
            return None  # a run is in flight: a second click must not fire a second query
        try:
            return self._run()
        finally:
            self._lock.release()

    @_recorded
    def _run(self) -> QueryResult:
        self.running = True
        self.result = self.figure = None
        self._base = self._frame = self._sort = None
        self.status = "running…"
        self._refresh()
        try:
            result = self.session.run(self.sql, self.window)
        except AccessmonError:
            self.status = ""
            raise
        finally:
            self.running = False
        self.result = result
        frame = result.to_pandas()
        frame.columns = unique_names(frame.columns)
        self._base = self._frame = frame
        self._sort = None
        self._page = 1
        self.status = stats_text(result)
        return result

    # -- results ---------------------------------------------------------------------------

    @property
    def frame(self) -> pd.DataFrame | None:
        """The last result as a DataFrame, in the current sort order."""
        return self._frame

    @property
    def pages(self) -> int:
        rows = 0 if self._frame is None else len(self._frame)
        return max(1, math.ceil(rows / self.page_size))

    @property
    def page_number(self) -> int:
        return self._page

    @_recorded
    def page(self, n: int) -> pd.DataFrame:
        """The rows of page `n`, counted from 1 as the widget shows; clamped to the pages."""
        self._need_frame()
        self._page = min(max(1, n), self.pages)
        return self.current_page()

    def current_page(self) -> pd.DataFrame | None:
        """The rows the results table shows now."""
        if self._frame is None:
            return None
        start = (self._page - 1) * self.page_size
        return self._frame.iloc[start : start + self.page_size]

    @property
    def sorted_by(self) -> tuple[str, bool] | None:
        """(column, ascending) of the current sort, or None for the engine's order."""
        return self._sort

    def next_page(self) -> pd.DataFrame | None:
        return self.page(self._page + 1)

    def previous_page(self) -> pd.DataFrame | None:
        return self.page(self._page - 1)

    @_recorded
    def sort(self, column: str, ascending: bool = True) -> pd.DataFrame:
        """Sort the whole result (not just the page) by one column; back to page 1."""
        base = self._need_frame(base=True)
        need_column(base, column, "sort")
        self._frame = sort_frame(base, column, ascending)
        self._sort = (column, ascending)
        self._page = 1
        return self._frame

    def _need_frame(self, base: bool = False) -> pd.DataFrame:
        frame = self._base if base else self._frame
        if frame is None:
            raise AccessmonError("run a query first")
        return frame

    # -- chart and export --------------------------------------------------------------------

    @_recorded
    def chart(
        self,
        kind: str = "bar",
        x: str | None = None,
        y: str | None = None,
        color: str | None = None,
    ) -> go.Figure:
        """A plotly figure of the result; without `x`, columns are picked by `chart_defaults`."""
        frame = self._need_frame()
        if x is None:
            picks = chart_defaults(frame)
            x, y, color = picks["x"], y or picks["y"], color or picks["color"]
        self.figure = chart_figure(frame, kind, x, y, color)
        return self.figure

    @_recorded
    def export(
        self, fmt: str = "csv", path: str | Path | None = None, csv_guard: bool = True
    ) -> Path:
        """Write the result (in the current sort order) to CSV or Parquet, atomically; CSV
        text cells that a spreadsheet would run as a formula get a `'` unless `csv_guard=False`."""
        frame = self._need_frame()
        if fmt not in EXPORT_FORMATS:
            raise AccessmonError(f"export format must be csv or parquet, not {fmt!r}")
        exports = Path(self.session.config.exports_dir)
        target = Path(path) if path else default_export_path(self.export_name(), fmt, exports)
        if fmt == "csv":
            write = functools.partial(write_frame_csv, frame, guard=csv_guard)
        else:
            table = self.result.table if self.result is not None else None
            write = functools.partial(write_parquet, table, frame, list(frame.index))
        self.exported = atomic_write(target, write)
        return self.exported

    # -- query library ----------------------------------------------------------------------

    def library(self) -> list[tuple[str, str, str]]:
        """(kind, name, title): the seed's examples, then the saved queries the user may list."""
        items = [("example", e.name, e.title or e.name) for e in load_examples()]
        try:
            saved = self.session.saved_queries()
        except AccessmonError:
            saved = []  # an analyst without `list` still has the examples
        return items + [("saved", q.name, q.title or q.name) for q in saved]

    @_recorded
    def load_example(self, name: str) -> str:
        example = get_example(name)
        self.sql, self._origin = example.query, ("example", example.name, example.query)
        return self.sql

    @_recorded
    def load_saved(self, name: str) -> str:
        """A saved `audit_query` resource (needs `read`)."""
        query = self.session.saved_query(name)
        self.sql, self._origin = query.query, ("saved", query.name, query.query)
        return self.sql

    @_recorded
    def save(self, name: str | None = None, title: str = "", description: str = "") -> Path:
        """Save the SQL as an `audit_query` resource: `create` (or `update`) permission.
        Without a name it saves over the saved query being edited, and asks for one otherwise."""
        name = name or self.saved_name
        if not name:
            raise AccessmonError("give the query a name to save it (letters, digits, - and _)")
        path = self.session.save_query(name, self.sql, title, description)
        self._origin = ("saved", name, self.sql)
        self.status = f"saved audit_query {name}"
        return path

    # -- errors ------------------------------------------------------------------------------

    def _fail(self, error: AccessmonError) -> None:
        self.error = " ".join(str(error).split())
        if isinstance(error, QueryError) and error.line is not None:
            self.error_position = (error.line, error.col)

    def error_context(self) -> str:
        """The SQL line the error points at, with a caret under the column, or ''."""
        if not self.error_position:
            return ""
        line, col = self.error_position
        lines = self.sql.splitlines()
        if not 1 <= line <= len(lines):
            return ""
        prefix = f"{line:>4} | "
        text = prefix + lines[line - 1]
        if col is None or col < 1:
            return text
        return text + "\n" + " " * (len(prefix) + col - 1) + "^"

    # -- display -----------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Push the state to a screen; headless, there is none (`QueryEditor` draws one)."""

    def run_in_background(self) -> threading.Thread | None:
        """What the Run button does: one run at a time, off the kernel's main thread, so the
        notebook stays responsive and a second click while it runs is ignored."""
        if not self._lock.acquire(blocking=False):
            return None
        self.running = True
        self._refresh()

        def work() -> None:
            try:
                self._run()
            except Exception as e:  # a bug must not leave the Run button disabled
                self.error = f"internal error: {type(e).__name__}: {e}"
            finally:
                self.running = False
                self._lock.release()
                self._refresh()

        self._thread = threading.Thread(target=work, name="accessmon-query", daemon=True)
        self._thread.start()
        return self._thread
