"""The Query Editor as a Jupyter widget: `QueryEditor` is the headless `Editor` plus ipywidgets.

The widgets only wire: each handler calls one `Editor` method, then the UI re-reads the
editor's state (`refresh_ui`). The logic, and what tests drive, is in `accessmon.ui.editor`;
the SQL box is CodeMirror (`accessmon.ui.sql_box`), the results grid is itables (DataTables).
ipywidgets loads when the widget is first shown, not on import.
"""

from __future__ import annotations

import html
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from accessmon.errors import AccessmonError
from accessmon.reports import charts
from accessmon.sql.raw_event import RAW_COLUMN, RAW_NOTE
from accessmon.ui.editor import EXPORT_FORMATS, PRESETS, Editor
from accessmon.ui.frames import GRID_ROWS, chart_defaults, grid_frame, row_json
from accessmon.ui.notices import notices_to


class QueryEditor(Editor):
    """Teleport's Query Editor in a notebook: the `Editor`, drawn with ipywidgets.

    Re-running the cell that makes the editor keeps the SQL the analyst was working on.
    """

    #: the last editor made in this kernel: the next one takes over its SQL
    _last: ClassVar[weakref.ref[QueryEditor] | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ui: dict[str, Any] = {}
        self.notice: str | None = None
        previous = QueryEditor._last() if QueryEditor._last is not None else None
        if previous is not None:
            self.sql, self._origin = previous.sql, previous._origin
        QueryEditor._last = weakref.ref(self)

    @property
    def widget(self):
        """The ipywidgets container; built on first use."""
        if not self._ui:
            with notices_to(self._notice):
                self._ui = build_ui(self)
            self._refresh()
        return self._ui["root"]

    def _notice(self, message: str) -> None:
        self.notice = message
        self._refresh()

    def _run(self):
        with notices_to(self._notice):  # the run's thread: its notices go to the notice line
            return super()._run()

    def _refresh(self) -> None:
        if self._ui:
            refresh_ui(self, self._ui)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


# -- ipywidgets wiring: each handler calls one QueryEditor method, then the UI re-reads state --

_CSS = """<style>
.am-editor .am-error { color: #b71c1c; background: #fdecea; border-left: 4px solid #c62828;
  padding: 4px 8px; white-space: pre-wrap; }
.am-editor .am-error pre { margin: 4px 0 0; background: none; }
.am-editor .am-info { color: #0d47a1; background: #e8f0fe; border-left: 4px solid #1a73e8;
  padding: 4px 8px; }
.am-editor .am-busy { color: #512fc9; }
.am-editor .am-view-info { font-size: 12px; line-height: 1.4; }
.am-editor .am-view-info .widget-html-content { white-space: normal; line-height: 1.4; }
.am-editor .am-row-json pre { max-height: 360px; overflow: auto; font-size: 12px;
  background: var(--jp-layout-color2, #f5f5f5); padding: 6px; margin: 4px 0; }
.am-editor .widget-toggle-buttons .widget-toggle-button { width: auto; padding: 0 10px; }
.am-editor .widget-label { width: auto; }
.am-editor .am-results { overflow-x: auto; max-width: 100%; }
</style>"""


def _library_options(editor: QueryEditor) -> list[tuple[str, str]]:
    return [(f"{kind}: {title}", f"{kind}:{name}") for kind, name, title in editor.library()]


def build_ui(editor: QueryEditor) -> dict[str, Any]:
    """Create the widgets and connect them to the editor's methods."""
    import ipywidgets as w
    from itables.widget import ITable

    from accessmon.ui.sql_box import SqlBox

    def box(children: list[Any], **layout: str) -> Any:
        """A row that wraps on a narrow screen instead of cutting its widgets."""
        return w.HBox(
            children,
            layout=w.Layout(**{"flex_flow": "row wrap", "align_items": "center", **layout}),
        )

    #: `_sql_seen`: the last SQL the box and the kernel agreed on; a refresh pushes SQL into the
    #: box only when the kernel changed it since (a load), never because the analyst typed on
    ui: dict[str, Any] = {"_syncing": False, "_columns": None, "_grid": None, "_sql_seen": None}
    ui["library"] = w.Dropdown(
        description="Library", options=_library_options(editor), layout=w.Layout(flex="1 1 280px")
    )
    ui["load"] = w.Button(description="Load", icon="folder-open", layout=w.Layout(width="90px"))
    ui["save_name"] = w.Text(placeholder="name (required)", layout=w.Layout(width="170px"))
    ui["save_title"] = w.Text(placeholder="title", layout=w.Layout(width="200px"))
    ui["save_description"] = w.Text(placeholder="description", layout=w.Layout(width="240px"))
    ui["save"] = w.Button(description="Save", icon="save", layout=w.Layout(width="90px"))

    views = editor.views_catalog() or {}
    ui["_views"] = views
    ui["search"] = w.Text(placeholder="search views and columns", layout=w.Layout(width="100%"))
    ui["views"] = w.Select(options=list(views), rows=9, layout=w.Layout(width="100%"))
    ui["columns"] = w.Select(options=[], rows=6, layout=w.Layout(width="100%"))
    ui["view_info"] = w.HTML()
    ui["insert_view"] = w.Button(description="Insert view", layout=w.Layout(width="auto"))
    ui["insert_column"] = w.Button(description="Insert column", layout=w.Layout(width="auto"))
    ui["sql"] = SqlBox(
        value=editor.sql,
        placeholder="SELECT ... FROM <view>   (Ctrl+Enter runs)",
        layout=w.Layout(flex="1 1 300px", min_width="280px", height="300px"),
    )
    ui["sql"].set_schema({name: [c for c, _ in cols] for name, (_, cols) in views.items()})

    ui["window"] = w.ToggleButtons(
        options=[(f"{d} days", d) for d in PRESETS] + [("Date range", "range")],
        style={"button_width": "auto"},
    )
    ui["start"] = w.DatePicker(description="From", layout=w.Layout(width="220px"))
    ui["end"] = w.DatePicker(description="To", layout=w.Layout(width="220px"))
    ui["window_label"] = w.HTML()
    ui["run"] = w.Button(
        description="Run", icon="play", button_style="primary", tooltip="Run (Ctrl+Enter)"
    )
    ui["status"] = w.HTML()
    ui["notice"] = w.HTML()
    ui["error"] = w.HTML()

    ui["rows"] = w.HTML()
    ui["grid"] = ITable(
        None,
        select={"style": "single"},
        classes="display compact nowrap",
        style="width: auto; margin: 0; caption-side: bottom",
    )
    ui["row_json"] = w.HTML()

    ui["kind"] = w.Dropdown(
        description="Chart", options=charts.KINDS, layout=w.Layout(width="180px")
    )
    for axis in ("x", "y", "color"):
        ui[axis] = w.Dropdown(
            description=axis, options=[("(none)", "")], layout=w.Layout(width="220px")
        )
    ui["draw"] = w.Button(description="Draw", icon="bar-chart", layout=w.Layout(width="90px"))
    ui["chart"] = w.Output()

    ui["format"] = w.ToggleButtons(options=EXPORT_FORMATS, style={"button_width": "auto"})
    ui["export_path"] = w.Text(
        placeholder="file path (default: exports/<query>_<time>.<format>)",
        layout=w.Layout(flex="1 1 300px"),
    )
    ui["export"] = w.Button(description="Export", icon="download", layout=w.Layout(width="100px"))
    ui["link"] = w.HTML()

    # Classes name the parts for styles and for the browser tests (tests/e2e).
    for name in ("run", "draw", "export", "window", "chart", "rows", "link", "search", "views",
                 "columns", "save", "status"):  # fmt: skip
        ui[name].add_class(f"am-{name}")
    for name, css in (("grid", "am-results"), ("row_json", "am-row-json"),
                      ("view_info", "am-view-info"), ("insert_view", "am-insert-view"),
                      ("insert_column", "am-insert-column"), ("save_name", "am-save-name")):  # fmt: skip
        ui[name].add_class(css)
    _wire(editor, ui)
    if editor.main_view() in views:  # the browser opens on the view the query reads
        ui["views"].value = editor.main_view()
    ui["root"] = _layout(w, ui, box)
    ui["root"].add_class("am-editor")
    return ui


def _layout(w: Any, ui: dict[str, Any], box: Callable[..., Any]) -> Any:
    browser = w.VBox(
        [
            ui["search"],
            ui["views"],
            ui["columns"],
            ui["view_info"],
            box([ui["insert_view"], ui["insert_column"]]),
        ],
        layout=w.Layout(flex="0 0 240px", width="240px"),
    )
    results = w.VBox([ui["rows"], ui["grid"], ui["row_json"]])
    chart = w.VBox([box([ui["kind"], ui["x"], ui["y"], ui["color"], ui["draw"]]), ui["chart"]])
    export = w.VBox([box([ui["format"], ui["export_path"], ui["export"]]), ui["link"]])
    tabs = w.Tab(children=[results, chart, export], titles=["Results", "Chart", "Export"])
    return w.VBox(
        [
            w.HTML(_CSS),
            box([ui["library"], ui["load"]]),
            box([browser, ui["sql"]], align_items="stretch"),
            box([ui["window"], ui["start"], ui["end"]]),
            box([ui["run"], ui["status"], ui["window_label"]]),
            ui["notice"],
            ui["error"],
            tabs,
            box(
                [
                    w.HTML("Save as <code>audit_query</code>&nbsp;"),
                    ui["save_name"],
                    ui["save_title"],
                    ui["save_description"],
                    ui["save"],
                ]
            ),
        ],
        layout=w.Layout(width="100%"),
    )


def _handler(ui: dict[str, Any], fn: Callable[..., Any]) -> Callable[..., None]:
    """Ignore events the UI itself causes while it re-reads state."""

    def handle(*args: Any) -> None:
        if not ui["_syncing"]:
            fn(*args)

    return handle


def _wire(editor: QueryEditor, ui: dict[str, Any]) -> None:
    def on_sql(change: dict[str, Any]) -> None:
        # never skipped while a refresh runs: a run's refresh on its thread must not drop keys
        editor.sql = ui["_sql_seen"] = change["new"]  # typing must not re-render the UI

    def on_search(change: dict[str, Any]) -> None:
        ui["views"].options = matching_views(ui["_views"], change["new"])

    def on_view(change: dict[str, Any]) -> None:
        name = change["new"]
        info = ui["_views"].get(name)
        columns = info[1] if info else []
        ui["columns"].options = [(f"{c} ({t})", c) for c, t in columns]
        ui["view_info"].value = view_info_html(editor, name) if info else ""

    def on_window(_: Any = None) -> None:
        choice = ui["window"].value
        ui["start"].disabled = ui["end"].disabled = choice != "range"
        if choice != "range" and choice is not None:
            editor.set_window(days=choice)
        elif ui["start"].value and ui["end"].value:
            editor.set_window(start=ui["start"].value, end=ui["end"].value)

    def on_run(_: Any = None) -> None:
        if ui["window"].value == "range" and not (ui["start"].value and ui["end"].value):
            editor._fail(AccessmonError("choose the first and the last day of the date range"))
            editor._refresh()
            return
        editor.sql = ui["sql"].value
        editor.run_in_background()

    def on_load(_: Any) -> None:
        kind, _, name = (ui["library"].value or "").partition(":")
        if kind == "saved":
            editor.load_saved(name)
        elif kind == "example":
            editor.load_example(name)
        ui["save_name"].value = editor.saved_name or ""

    def on_save(_: Any) -> None:
        saved = editor.save(
            ui["save_name"].value.strip() or None,
            ui["save_title"].value,
            ui["save_description"].value,
        )
        if saved is not None:
            ui["library"].options = _library_options(editor)

    def on_select(change: dict[str, Any]) -> None:
        rows = change["new"]
        frame = ui["_grid"]
        if not rows or frame is None or rows[0] >= len(frame):
            ui["row_json"].value = ""
            return
        text = row_json(frame, rows[0])
        ui["row_json"].value = f"<b>row {rows[0] + 1}</b><pre>{html.escape(text)}</pre>"

    def on_draw(_: Any) -> None:
        from IPython.display import display

        axes = [ui[a].value or None for a in ("x", "y", "color")]
        figure = editor.chart(ui["kind"].value, *axes)
        ui["chart"].clear_output()
        if figure is not None:
            # Displayed inside the Output's context: plotly's own display hook sends an empty
            # bundle to append_display_data, and the chart would land in the log console.
            with ui["chart"]:
                display(figure)

    def on_export(_: Any) -> None:
        editor.export(ui["format"].value, ui["export_path"].value.strip() or None)

    def insert(text: str | None) -> None:
        if text:
            ui["sql"].insert(text)

    ui["sql"].observe(on_sql, "value")
    ui["sql"].on_run(on_run)
    ui["search"].observe(on_search, "value")
    ui["views"].observe(_handler(ui, on_view), "value")
    for name in ("window", "start", "end"):
        ui[name].observe(_handler(ui, on_window), "value")
    ui["grid"].observe(on_select, "selected_rows")
    ui["run"].on_click(on_run)
    ui["load"].on_click(on_load)
    ui["save"].on_click(on_save)
    ui["insert_view"].on_click(lambda _: insert(ui["views"].value))
    ui["insert_column"].on_click(lambda _: insert(ui["columns"].value))
    ui["draw"].on_click(on_draw)
    ui["export"].on_click(on_export)


def matching_views(views: dict[str, tuple[Any, list[tuple[str, str]]]], text: str) -> list[str]:
    """Views whose name, event type, codes, description or a column contain `text`."""
    needle = text.strip().lower()
    if not needle:
        return list(views)
    return [
        name
        for name, (view, columns) in views.items()
        if needle in " ".join([name, view.event_type, view.codes, view.description]).lower()
        or any(needle in column.lower() for column, _ in columns)
    ]


def view_info_html(editor: QueryEditor, name: str) -> str:
    """What `accessmon schema VIEW` says of a view: description, event type and codes."""
    view, _ = editor.views_catalog()[name]
    return (
        f"{html.escape(view.description)}<br>event <code>{html.escape(view.event_type)}</code>, "
        f"codes <code>{html.escape(view.codes)}</code>, {len(view.columns)} columns; "
        f"hidden <code>{RAW_COLUMN}</code>: {html.escape(RAW_NOTE)}"
    )


def refresh_ui(editor: QueryEditor, ui: dict[str, Any]) -> None:
    """Push the editor's state into the widgets."""
    ui["_syncing"] = True
    try:
        _refresh_query(editor, ui)
        _refresh_results(editor, ui)
    finally:
        ui["_syncing"] = False


def _refresh_query(editor: QueryEditor, ui: dict[str, Any]) -> None:
    if editor.sql != ui["_sql_seen"]:
        ui["_sql_seen"] = editor.sql
        ui["sql"].set_text(editor.sql)
    if editor._origin is not None:
        loaded = f"{editor._origin[0]}:{editor._origin[1]}"
        if loaded in {value for _, value in ui["library"].options}:
            ui["library"].value = loaded
    window = editor.window
    if window.days in PRESETS:
        ui["window"].value = window.days
    elif window.days is None:
        ui["window"].value = "range"
        ui["start"].value = window.start
        ui["end"].value = window.end
    ui["start"].disabled = ui["end"].disabled = ui["window"].value != "range"
    ui["window_label"].value = f"<small>event_date {window.start} … {window.end}</small>"
    ui["run"].disabled = editor.running
    ui["run"].description = "Running…" if editor.running else "Run"
    ui["run"].icon = "hourglass-half" if editor.running else "play"
    if editor.running:
        ui["status"].value = '<span class="am-busy">running the query…</span>'
    else:
        ui["status"].value = html.escape(editor.status)
    ui["notice"].value = (
        f'<div class="am-info">{html.escape(editor.notice)}</div>' if editor.notice else ""
    )
    ui["error"].value = _error_html(editor)


def _error_html(editor: QueryEditor) -> str:
    if not editor.error:
        return ""
    context = editor.error_context()
    where = f"<pre>{html.escape(context)}</pre>" if context else ""
    return f'<div class="am-error">{html.escape(editor.error)}{where}</div>'


def _refresh_results(editor: QueryEditor, ui: dict[str, Any]) -> None:
    frame = editor.frame
    if ui.get("_grid_source", ()) is not frame:
        ui["_grid_source"] = frame
        _show_grid(ui, frame)
    columns = tuple(str(c) for c in frame.columns) if frame is not None else ()
    if columns != ui["_columns"]:
        ui["_columns"] = columns
        choices = [("(none)", ""), *[(c, c) for c in columns]]
        for name in ("x", "y", "color"):
            ui[name].options = choices
        picks = chart_defaults(frame) if frame is not None and columns else {}
        for axis in ("x", "y", "color"):
            ui[axis].value = picks.get(axis) or ""
        ui["chart"].clear_output()
    if editor.exported is not None:
        ui["link"].value = _link_html(editor.exported)


def _show_grid(ui: dict[str, Any], frame: Any) -> None:
    """The whole result (up to GRID_ROWS) in the grid: it sorts, searches and pages there."""
    ui["row_json"].value = ""
    if frame is None:
        ui["_grid"] = None
        ui["rows"].value = ""
        ui["grid"].layout.display = "none"
        return
    shown = grid_frame(frame, GRID_ROWS)
    ui["_grid"] = frame.iloc[: len(shown)]
    total = len(frame)
    text = f"<b>{total} row{'s' if total != 1 else ''}</b>"
    if total > GRID_ROWS:
        text += (
            f" — the grid holds the first {GRID_ROWS:,}: sort or filter the whole result with "
            "ORDER BY / WHERE, or export it"
        )
    ui["rows"].value = text
    ui["grid"].layout.display = None
    ui["grid"].update(
        shown,
        selected_rows=[],
        pageLength=25,
        lengthMenu=[10, 25, 50, 100, 500],
        maxBytes=0,
        showIndex=False,
    )


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
