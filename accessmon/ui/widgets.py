"""The Query Editor as a Jupyter widget: `QueryEditor` is the headless `Editor` plus ipywidgets.

The widgets only wire: each handler calls one `Editor` method, then the UI re-reads the
editor's state (`refresh_ui`). The logic, and what tests drive, is in `accessmon.ui.editor`;
ipywidgets loads when the widget is first shown, not on import.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from accessmon.errors import AccessmonError
from accessmon.reports import charts
from accessmon.ui.editor import EXPORT_FORMATS, PRESETS, Editor
from accessmon.ui.frames import chart_defaults, table_html


class QueryEditor(Editor):
    """Teleport's Query Editor in a notebook: the `Editor`, drawn with ipywidgets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ui: dict[str, Any] = {}

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
