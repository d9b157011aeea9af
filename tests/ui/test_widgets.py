"""The Query Editor's widgets: they only wire the editor's methods, and load on first show."""

from __future__ import annotations

import subprocess
import sys
import threading

import pyarrow.parquet as pq

from accessmon.sql.examples import load_examples
from accessmon.ui.editor import PAGE_SIZE
from accessmon.ui.widgets import QueryEditor

from .conftest import audit_lines, rbac_session


def test_a_user_without_use_cannot_run(store, tmp_path):
    ed = QueryEditor(rbac_session(store, tmp_path, "bob"))
    assert ed.run() is None and ed.error.startswith('access denied: user "bob"')
    assert ed.views_listing() is None
    assert [e for _, _, e in ed.library()] == [e.title for e in load_examples()]
    assert ed.widget is not None  # it still opens, with the denial shown


def test_run_cannot_be_double_fired(editor):
    editor.set_sql("SELECT count(*) AS n FROM session_start")
    editor.widget  # noqa: B018 -- build the UI so the Run button's state can be checked
    gate, real_run = threading.Event(), editor.session.run

    def slow_run(*args, **kwargs):
        gate.wait(10)
        return real_run(*args, **kwargs)

    editor.session.run = slow_run
    first = editor.run_in_background()
    assert first is not None and editor.running
    assert editor._ui["run"].disabled and editor._ui["run"].description == "Running…"
    assert editor.run_in_background() is None  # a second click while it runs
    assert editor.run() is None
    gate.set()
    first.join(10)
    assert not editor.running and not editor._ui["run"].disabled
    assert editor.frame["n"].tolist() == [120]
    assert len(audit_lines(editor)) == 1


def test_widgets_only_wire_the_methods(editor, tmp_path):
    ui = editor.widget and editor._ui
    assert "application/vnd.jupyter.widget-view+json" in editor._repr_mimebundle_()
    ui["sql"].value = "SELECT user, login FROM session_start ORDER BY uid"
    assert editor.sql == ui["sql"].value
    ui["run"].click()
    editor._thread.join(10)
    assert "<b>120 rows</b>" in ui["rows"].value and "page 1 of 3" in ui["page"].value
    assert ui["table"].value.count("<tr>") == PAGE_SIZE + 1
    ui["next"].click()
    assert editor.page_number == 2 and not ui["prev"].disabled
    ui["sort_by"].value = "login"
    assert editor.sorted_by == ("login", True) and editor.page_number == 1
    ui["kind"].value, ui["x"].value, ui["y"].value = "pie", "user", ""
    ui["draw"].click()
    assert editor.error is None and [t.type for t in editor.figure.data] == ["pie"]
    assert len(ui["chart"].outputs) == 1
    ui["format"].value, ui["export_path"].value = "parquet", str(tmp_path / "x.parquet")
    ui["export"].click()
    assert pq.read_table(tmp_path / "x.parquet").num_rows == 120
    assert str(tmp_path / "x.parquet") in ui["link"].value
    ui["window"].value = 30
    assert editor.window.days == 30
    ui["views"].value = "exec"
    assert ("command (varchar)", "command") in ui["columns"].options
    ui["sql"].value = "SELECT * FROM cert_creat"
    ui["run"].click()
    editor._thread.join(10)
    assert "did you mean cert_create?" in ui["error"].value and not ui["run"].disabled


def test_importing_stays_light():
    code = (
        "import sys, accessmon, accessmon.ui.widgets, accessmon.sql.examples; "
        "print([m for m in ('plotly', 'ipywidgets', 'pandas') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
