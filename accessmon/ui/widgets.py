"""The Query Editor of Teleport's web UI, as a Jupyter widget.

`QueryEditor` holds the editor's state and logic as plain methods (set the SQL, run, page,
sort, chart, export, load and save queries), so tests and scripts drive it without a
browser. Its `.widget` is ipywidgets wiring around those methods and nothing more.

Every action goes through `Session` methods, so the editor passes the same role checks and
writes the same audit trail as the CLI. An `AccessmonError` becomes the editor's one-line
`error`, shown inline; it never escapes as a traceback, so the widget stays usable.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import json
import math
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from accessmon.errors import AccessmonError, QueryError
from accessmon.names import did_you_mean
from accessmon.reports import charts
from accessmon.sql.examples import get_example, load_examples
from accessmon.window import Window

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from accessmon.result import QueryResult
    from accessmon.session import Session

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
    def wrapper(self: QueryEditor, *args: Any, **kwargs: Any) -> T | None:
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


class QueryEditor:
    """Teleport's Query Editor in a notebook: SQL, views, window, results, chart, export."""

    def __init__(
        self, session: Session | None = None, *, page_size: int = PAGE_SIZE, **session_flags: Any
    ) -> None:
        self._session = session
        self._flags = session_flags
        self.page_size = page_size
        self.sql = get_example(DEFAULT_EXAMPLE).query
        self.name: str | None = DEFAULT_EXAMPLE
        self.window_args: dict[str, Any] = {"days": PRESETS[0]}
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
        self._ui: dict[str, Any] = {}

    # -- session -------------------------------------------------------------------------

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
        """Append `text` to the SQL: widgets do not expose the cursor to the kernel."""
        sep = "" if not self.sql or self.sql[-1].isspace() else " "
        self.sql = f"{self.sql}{sep}{text}"
        return self.sql

    @_recorded(clear=False)
    def views_listing(self) -> list[tuple[str, str]]:
        """(name, event type) of every view the analyst may list."""
        return [(v.name, v.event_type) for v in self.session.views().values()]

    @_recorded(clear=False)
    def view_columns(self, view: str) -> list[tuple[str, str]]:
        """(name, type) of one view's columns, for the view browser."""
        return [(c.name, c.type) for c in self._view(view).columns]

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

    @_recorded
    def set_window(
        self,
        days: int | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> Window:
        """A preset (`days`) or a date range; checked now so the error shows before a run."""
        window = Window.resolve(days, start, end)
        if start is None and end is None:
            self.window_args = {"days": window.days}
        else:
            self.window_args = {"start": window.start, "end": window.end}
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
            result = self.session.run(self.sql, **self.window_args)
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
        _need_column(base, column, "sort")
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
        target = Path(path) if path else default_export_path(self.name or "query", fmt)
        if fmt == "csv":
            write = functools.partial(_write_csv, frame, guard=csv_guard)
        else:
            table = self.result.table if self.result is not None else None
            write = functools.partial(_write_parquet, table, frame, list(frame.index))
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
        self.sql, self.name = example.query, example.name
        return self.sql

    @_recorded
    def load_saved(self, name: str) -> str:
        """A saved `audit_query` resource (needs `read`)."""
        query = self.session.saved_query(name)
        self.sql, self.name = query.query, query.name
        return self.sql

    @_recorded
    def save(self, name: str | None = None, title: str = "", description: str = "") -> Path:
        """Save the SQL as an `audit_query` resource: `create` (or `update`) permission."""
        name = name or self.name
        if not name:
            raise AccessmonError("give the query a name to save it")
        path = self.session.save_query(name, self.sql, title, description)
        self.name = name
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

    @property
    def widget(self):
        """The ipywidgets container; built on first use."""
        if not self._ui:
            self._ui = build_ui(self)
            self._refresh()
        return self._ui["root"]

    def _refresh(self) -> None:
        if self._ui:
            refresh_ui(self, self._ui)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

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


# -- pure helpers --------------------------------------------------------------------------


def stats_text(result: QueryResult) -> str:
    """`12 rows in 35 ms`, plus the bytes scanned on Athena, where they cost money."""
    rows = len(result)
    text = f"{rows} row{'s' if rows != 1 else ''} in {result.stats.elapsed_ms} ms"
    if result.stats.engine == "athena":
        text += f", {human_bytes(result.stats.data_scanned_bytes)} scanned"
    return text


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def unique_names(names: Any) -> list[str]:
    """Column names made unique (`id`, `id_2`): `SELECT *` over a join repeats names, and
    sorting, charting and Parquet readers need each column to have its own."""
    taken: set[str] = set()
    out = []
    for name in map(str, names):
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}_{n}"
        taken.add(candidate)
        out.append(candidate)
    return out


def _need_column(frame: pd.DataFrame, column: str | None, role: str) -> None:
    if column is not None and column not in frame.columns:
        names = [str(c) for c in frame.columns]
        raise AccessmonError(
            f"{role}: no column {column} in the result{did_you_mean(column, names, n=1)}"
        )


def sort_frame(frame: pd.DataFrame, column: str, ascending: bool = True) -> pd.DataFrame:
    """A stable sort, nulls last; list-valued columns sort by their text."""
    kwargs = {"ascending": ascending, "kind": "stable", "na_position": "last"}
    try:
        return frame.sort_values(column, **kwargs)
    except (TypeError, ValueError):  # arrays, dicts and mixed types do not compare
        return frame.sort_values(column, key=lambda s: s.map(cell_text), **kwargs)


def chart_defaults(frame: pd.DataFrame) -> dict[str, str | None]:
    """Sensible first picks: x the date (or first column), y the first number, color a label."""
    import pandas as pd

    columns = [str(c) for c in frame.columns]
    if not columns:
        return {"x": None, "y": None, "color": None}
    x = "event_date" if "event_date" in columns else columns[0]
    numeric = [c for c in columns if c != x and pd.api.types.is_numeric_dtype(frame[c])]
    y = numeric[0] if numeric else None
    labels = [
        c
        for c in columns
        if c not in (x, y) and not pd.api.types.is_numeric_dtype(frame[c]) and y is not None
    ]
    return {"x": x, "y": y, "color": labels[0] if labels else None}


def chart_figure(
    frame: pd.DataFrame,
    kind: str = "bar",
    x: str | None = None,
    y: str | None = None,
    color: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Pure: a DataFrame in, a plotly Figure out (bar, line, scatter or pie)."""

    if x is None:
        raise AccessmonError("choose the chart's x column")
    for role, column in (("x", x), ("y", y), ("color", color)):
        _need_column(frame, column, f"chart {role}")
    try:
        return charts.figure(frame, kind, x, y, color, title)
    except (ValueError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AccessmonError(f"cannot draw a {kind} chart of these columns: {first}") from e


def default_export_path(name: str, fmt: str, folder: Path | None = None) -> Path:
    """`exports/<query>_<UTC time>.<fmt>` under the working directory; never overwrites."""
    folder = folder or Path.cwd() / "exports"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    path = folder / f"{name}_{stamp}.{fmt}"
    if path.exists():
        path = folder / f"{name}_{stamp}-{uuid.uuid4().hex[:6]}.{fmt}"
    return path


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Write to a hidden temporary name beside `path`, then rename: no half-written export."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise AccessmonError(f"cannot write {path}: {e.strerror or e}") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _write_csv(frame: pd.DataFrame, path: Path, guard: bool = True) -> None:
    """CSV via pandas; lists and structs as JSON text rather than numpy's repr; with `guard`,
    text that a spreadsheet would run as a formula starts with `'` (numbers are left alone)."""
    import pandas as pd

    from accessmon.ui.output import guard_cell

    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(_csv_value)
        if guard and pd.api.types.is_string_dtype(out[column].dtype):  # object or string
            out[column] = out[column].map(guard_cell)
    if guard:
        out.columns = [guard_cell(str(c)) for c in out.columns]
    out.to_csv(path, index=False)


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict) or _is_listlike(value):
        return json.dumps(_plain(value), default=str)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if _is_listlike(value):
        return [_plain(v) for v in value]
    return value


def _write_parquet(table: Any, frame: pd.DataFrame, order: list[int], path: Path) -> None:
    """Parquet via pyarrow from the Arrow result, so column types survive; rows as sorted."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if table is None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        order = list(range(table.num_rows))
    table = table.rename_columns(unique_names(table.column_names))
    if order != list(range(table.num_rows)):
        table = table.take(pa.array(order, type=pa.int64()))
    pq.write_table(table, path)


def _is_listlike(value: Any) -> bool:
    return isinstance(value, list | tuple) or getattr(value, "ndim", 0) > 0


def cell_text(value: Any) -> str:
    """A cell as the results table shows it: Athena-style timestamps, lists in brackets."""
    if value is None or type(value).__name__ == "NaTType":
        return ""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {cell_text(v)}" for k, v in value.items()) + "}"
    if _is_listlike(value):
        return "[" + ", ".join(cell_text(v) for v in value) + "]"
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def table_html(frame: pd.DataFrame) -> str:
    """An escaped HTML table of a page of rows."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell_text(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    )
    return f'<table class="am-results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# -- ipywidgets wiring: each handler calls one QueryEditor method, then the UI re-reads state --

_CSS = """<style>
.am-results { border-collapse: collapse; font-size: 12px; font-family: ui-monospace, monospace; }
.am-results th, .am-results td { border: 1px solid #ddd; padding: 2px 6px; text-align: left;
  white-space: nowrap; max-width: 36em; overflow: hidden; text-overflow: ellipsis; }
.am-results th { background: #f4f5f7; position: sticky; top: 0; }
.am-error { color: #b71c1c; background: #fdecea; border-left: 4px solid #c62828;
  padding: 4px 8px; white-space: pre-wrap; }
.am-error pre { margin: 4px 0 0; background: none; }
.am-busy { color: #512fc9; }
</style>"""


def _library_options(editor: QueryEditor) -> list[tuple[str, str]]:
    return [(f"{kind}: {title}", f"{kind}:{name}") for kind, name, title in editor.library()]


def build_ui(editor: QueryEditor) -> dict[str, Any]:
    """Create the widgets and connect them to the editor's methods."""
    import ipywidgets as w

    ui: dict[str, Any] = {"_syncing": False, "_columns": None}
    ui["library"] = w.Dropdown(
        description="Library", options=_library_options(editor), layout=w.Layout(width="460px")
    )
    ui["load"] = w.Button(description="Load", icon="folder-open", layout=w.Layout(width="90px"))
    ui["save_name"] = w.Text(placeholder="name", layout=w.Layout(width="180px"))
    ui["save_title"] = w.Text(placeholder="title", layout=w.Layout(width="220px"))
    ui["save_description"] = w.Text(placeholder="description", layout=w.Layout(width="260px"))
    ui["save"] = w.Button(description="Save", icon="save", layout=w.Layout(width="90px"))

    listing = editor.views_listing() or []
    ui["views"] = w.Select(
        options=[name for name, _ in listing], rows=12, layout=w.Layout(width="250px")
    )
    ui["columns"] = w.Select(options=[], rows=12, layout=w.Layout(width="330px"))
    ui["view_info"] = w.HTML()
    ui["insert_view"] = w.Button(description="Insert view", layout=w.Layout(width="120px"))
    ui["insert_column"] = w.Button(description="Insert column", layout=w.Layout(width="120px"))
    ui["sql"] = w.Textarea(
        placeholder="SELECT ... FROM <view>",
        layout=w.Layout(flex="1 1 auto", min_width="420px", height="260px"),
    )

    ui["window"] = w.ToggleButtons(
        options=[(f"{d} days", d) for d in PRESETS] + [("Date range", "range")],
        style={"button_width": "90px"},
    )
    ui["start"] = w.DatePicker(description="From", layout=w.Layout(width="230px"))
    ui["end"] = w.DatePicker(description="To", layout=w.Layout(width="230px"))
    ui["window_label"] = w.HTML()
    ui["run"] = w.Button(description="Run", icon="play", button_style="primary")
    ui["status"] = w.HTML()
    ui["error"] = w.HTML()

    ui["rows"] = w.HTML()
    ui["prev"] = w.Button(description="Previous", icon="chevron-left")
    ui["next"] = w.Button(description="Next", icon="chevron-right")
    ui["page"] = w.HTML()
    ui["sort_by"] = w.Dropdown(description="Sort by", options=[("(none)", "")])
    ui["sort_order"] = w.ToggleButtons(
        options=[("ascending", True), ("descending", False)], style={"button_width": "90px"}
    )
    ui["table"] = w.HTML()

    ui["kind"] = w.Dropdown(
        description="Chart", options=charts.KINDS, layout=w.Layout(width="200px")
    )
    for axis in ("x", "y", "color"):
        ui[axis] = w.Dropdown(
            description=axis, options=[("(none)", "")], layout=w.Layout(width="240px")
        )
    ui["draw"] = w.Button(description="Draw", icon="bar-chart")
    ui["chart"] = w.Output()

    ui["format"] = w.ToggleButtons(options=EXPORT_FORMATS, style={"button_width": "80px"})
    ui["export_path"] = w.Text(
        placeholder="file path (default: exports/<query>_<time>.<format>)",
        layout=w.Layout(width="460px"),
    )
    ui["export"] = w.Button(description="Export", icon="download")
    ui["link"] = w.HTML()

    _wire(editor, ui)
    ui["root"] = _layout(w, ui)
    return ui


def _layout(w: Any, ui: dict[str, Any]) -> Any:
    browser = w.VBox(
        [
            w.HBox([ui["views"], ui["columns"]]),
            ui["view_info"],
            w.HBox([ui["insert_view"], ui["insert_column"]]),
        ]
    )
    results = w.VBox(
        [
            ui["rows"],
            w.HBox([ui["prev"], ui["page"], ui["next"], ui["sort_by"], ui["sort_order"]]),
            w.Box([ui["table"]], layout=w.Layout(max_height="560px", overflow="auto")),
        ]
    )
    chart = w.VBox([w.HBox([ui["kind"], ui["x"], ui["y"], ui["color"], ui["draw"]]), ui["chart"]])
    export = w.VBox([w.HBox([ui["format"], ui["export_path"], ui["export"]]), ui["link"]])
    tabs = w.Tab(children=[results, chart, export], titles=["Results", "Chart", "Export"])
    return w.VBox(
        [
            w.HTML(_CSS),
            w.HBox([ui["library"], ui["load"]]),
            w.HBox([browser, ui["sql"]], layout=w.Layout(width="100%")),
            w.HBox([ui["window"], ui["start"], ui["end"]]),
            w.HBox([ui["run"], ui["status"], ui["window_label"]]),
            ui["error"],
            tabs,
            w.HBox(
                [
                    w.HTML("Save as <code>audit_query</code>&nbsp;"),
                    ui["save_name"],
                    ui["save_title"],
                    ui["save_description"],
                    ui["save"],
                ]
            ),
        ]
    )


def _handler(ui: dict[str, Any], fn: Callable[..., Any]) -> Callable[..., None]:
    """Ignore events the UI itself causes while it re-reads state."""

    def handle(*args: Any) -> None:
        if not ui["_syncing"]:
            fn(*args)

    return handle


def _wire(editor: QueryEditor, ui: dict[str, Any]) -> None:
    def on_sql(change: dict[str, Any]) -> None:
        editor.sql = change["new"]  # plain assignment: typing must not re-render the UI

    def on_view(change: dict[str, Any]) -> None:
        name = change["new"]
        columns = editor.view_columns(name) if name else None
        ui["columns"].options = [(f"{c} ({t})", c) for c, t in columns or []]
        ui["view_info"].value = f"<small>{len(columns or [])} columns</small>" if name else ""

    def on_window(_: Any = None) -> None:
        choice = ui["window"].value
        ui["start"].disabled = ui["end"].disabled = choice != "range"
        if choice != "range" and choice is not None:
            editor.set_window(days=choice)
        elif ui["start"].value and ui["end"].value:
            editor.set_window(start=ui["start"].value, end=ui["end"].value)

    def on_run(_: Any) -> None:
        if ui["window"].value == "range" and not (ui["start"].value and ui["end"].value):
            editor._fail(AccessmonError("choose the first and the last day of the date range"))
            editor._refresh()
            return
        editor.run_in_background()

    def on_load(_: Any) -> None:
        kind, _, name = (ui["library"].value or "").partition(":")
        if kind == "saved":
            editor.load_saved(name)
        elif kind == "example":
            editor.load_example(name)

    def on_save(_: Any) -> None:
        saved = editor.save(
            ui["save_name"].value.strip() or None,
            ui["save_title"].value,
            ui["save_description"].value,
        )
        if saved is not None:
            ui["library"].options = _library_options(editor)

    def on_sort(_: Any) -> None:
        if ui["sort_by"].value:
            editor.sort(ui["sort_by"].value, ui["sort_order"].value)

    def on_draw(_: Any) -> None:
        axes = [ui[a].value or None for a in ("x", "y", "color")]
        figure = editor.chart(ui["kind"].value, *axes)
        ui["chart"].outputs = ()
        if figure is not None:
            ui["chart"].append_display_data(figure)

    def on_export(_: Any) -> None:
        editor.export(ui["format"].value, ui["export_path"].value.strip() or None)

    ui["sql"].observe(_handler(ui, on_sql), "value")
    ui["views"].observe(_handler(ui, on_view), "value")
    for name in ("window", "start", "end"):
        ui[name].observe(_handler(ui, on_window), "value")
    ui["sort_by"].observe(_handler(ui, on_sort), "value")
    ui["sort_order"].observe(_handler(ui, on_sort), "value")
    ui["run"].on_click(on_run)
    ui["load"].on_click(on_load)
    ui["save"].on_click(on_save)
    ui["prev"].on_click(lambda _: editor.previous_page())
    ui["next"].on_click(lambda _: editor.next_page())
    ui["insert_view"].on_click(
        lambda _: ui["views"].value and editor.insert_view(ui["views"].value)
    )
    ui["insert_column"].on_click(
        lambda _: ui["columns"].value and editor.insert_text(ui["columns"].value)
    )
    ui["draw"].on_click(on_draw)
    ui["export"].on_click(on_export)


def refresh_ui(editor: QueryEditor, ui: dict[str, Any]) -> None:
    """Push the editor's state into the widgets."""
    ui["_syncing"] = True
    try:
        _refresh_query(editor, ui)
        _refresh_results(editor, ui)
    finally:
        ui["_syncing"] = False


def _refresh_query(editor: QueryEditor, ui: dict[str, Any]) -> None:
    if ui["sql"].value != editor.sql:
        ui["sql"].value = editor.sql
    if editor.name and not ui["save_name"].value:
        ui["save_name"].value = editor.name
    days = editor.window_args.get("days")
    if days in PRESETS:
        ui["window"].value = days
    elif days is None:
        ui["window"].value = "range"
        ui["start"].value = editor.window_args["start"]
        ui["end"].value = editor.window_args["end"]
    ui["start"].disabled = ui["end"].disabled = ui["window"].value != "range"
    window = Window.resolve(**editor.window_args)
    ui["window_label"].value = f"<small>event_date {window.start} … {window.end}</small>"
    ui["run"].disabled = editor.running
    ui["run"].description = "Running…" if editor.running else "Run"
    ui["run"].icon = "hourglass-half" if editor.running else "play"
    if editor.running:
        ui["status"].value = '<span class="am-busy">running the query…</span>'
    else:
        ui["status"].value = html.escape(editor.status)
    ui["error"].value = _error_html(editor)


def _error_html(editor: QueryEditor) -> str:
    if not editor.error:
        return ""
    context = editor.error_context()
    where = f"<pre>{html.escape(context)}</pre>" if context else ""
    return f'<div class="am-error">{html.escape(editor.error)}{where}</div>'


def _refresh_results(editor: QueryEditor, ui: dict[str, Any]) -> None:
    frame = editor.frame
    columns = tuple(str(c) for c in frame.columns) if frame is not None else ()
    if columns != ui["_columns"]:
        ui["_columns"] = columns
        choices = [("(none)", ""), *[(c, c) for c in columns]]
        for name in ("sort_by", "x", "y", "color"):
            ui[name].options = choices
        picks = chart_defaults(frame) if frame is not None and columns else {}
        for axis in ("x", "y", "color"):
            ui[axis].value = picks.get(axis) or ""
        ui["chart"].outputs = ()
    column, ascending = editor.sorted_by or ("", True)
    ui["sort_by"].value = column
    ui["sort_order"].value = ascending
    if frame is None:
        ui["rows"].value = ui["table"].value = ui["page"].value = ""
        ui["prev"].disabled = ui["next"].disabled = True
    else:
        rows = editor.current_page()
        ui["rows"].value = f"<b>{len(frame)} row{'s' if len(frame) != 1 else ''}</b>"
        ui["table"].value = table_html(rows)
        ui["page"].value = f"&nbsp;page {editor.page_number} of {editor.pages}&nbsp;"
        ui["prev"].disabled = editor.page_number <= 1
        ui["next"].disabled = editor.page_number >= editor.pages
    if editor.exported is not None:
        ui["link"].value = _link_html(editor.exported)


def _link_html(path: Path) -> str:
    """The exported file's path, and a link Jupyter can open when it is under the notebook."""
    try:
        href = path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return f"wrote <code>{html.escape(str(path))}</code>"
    quoted = html.escape(href, quote=True)
    return (
        f"wrote <code>{html.escape(str(path))}</code> "
        f'(<a href="{quoted}" download target="_blank">open</a>)'
    )
