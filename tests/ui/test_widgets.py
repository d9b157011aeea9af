"""The Query Editor's widgets: they only wire the editor's methods, and load on first show."""

from __future__ import annotations

import html
import subprocess
import sys
import threading

import pyarrow.parquet as pq

from accessmon.sql.examples import load_examples
from accessmon.ui.widgets import QueryEditor

from .conftest import audit_lines, rbac_session


def test_a_user_without_use_cannot_run(store, tmp_path):
    ed = QueryEditor(rbac_session(store, tmp_path, "bob"))
    assert ed.run() is None and ed.error.startswith('access denied: user "bob"')
    assert ed.views_catalog() is None
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
    assert set(ui["sql"].schema) == set(editor.views_catalog())  # what the SQL box completes
    assert "identity_client_ip" in ui["sql"].schema["cert_create"]
    ui["sql"].value = "SELECT user, login, uid FROM session_start ORDER BY uid"  # typed in the box
    assert editor.sql == ui["sql"].value
    ui["sql"]._message(ui["sql"], {"type": "run"}, [])  # Ctrl+Enter
    editor._thread.join(10)
    assert "<b>120 rows</b>" in ui["rows"].value
    assert len(ui["grid"].df) == 120 and ui["grid"].df["uid"].iloc[0] == "s-000"
    ui["grid"].selected_rows = [3]  # the analyst opens a row
    shown = html.unescape(ui["row_json"].value)
    assert '"uid": "s-003"' in shown and '"login": "ubuntu"' in shown
    ui["kind"].value, ui["x"].value, ui["y"].value = "pie", "user", ""
    ui["draw"].click()
    assert editor.error is None and [t.type for t in editor.figure.data] == ["pie"]
    ui["format"].value, ui["export_path"].value = "parquet", str(tmp_path / "x.parquet")
    ui["export"].click()
    assert pq.read_table(tmp_path / "x.parquet").num_rows == 120
    assert str(tmp_path / "x.parquet") in ui["link"].value
    ui["window"].value = 30
    assert editor.window.days == 30
    ui["views"].value = "exec"
    assert ("command (varchar)", "command") in ui["columns"].options
    assert "event <code>exec</code>, codes <code>T3002I / T3002E</code>" in ui["view_info"].value
    ui["search"].value = "client_ip"
    assert "cert_create" in ui["views"].options and "exec" not in ui["views"].options
    ui["search"].value = "T2000I"
    assert list(ui["views"].options) == ["session_start"]
    ui["sql"].value = "SELECT * FROM cert_creat"
    ui["run"].click()
    editor._thread.join(10)
    assert "did you mean cert_create?" in ui["error"].value and not ui["run"].disabled


def test_the_grid_gets_at_most_its_budget_of_rows(editor, monkeypatch):
    monkeypatch.setattr("accessmon.ui.widgets.GRID_ROWS", 50)
    monkeypatch.setattr("accessmon.ui.frames.GRID_ROWS", 50)
    ui = editor.widget and editor._ui
    editor.set_sql("SELECT uid, event_time FROM session_start ORDER BY uid")
    editor.run()
    assert len(ui["grid"].df) == 50 and "the grid holds the first 50" in ui["rows"].value
    assert ui["grid"].df["event_time"].iloc[0].endswith(" UTC")  # times show their zone


def test_typing_during_a_refresh_is_kept_and_run_runs_the_text_on_screen(editor):
    from accessmon.ui.widgets import refresh_ui

    ui = editor.widget and editor._ui
    sent = []
    ui["sql"].send = sent.append  # what the kernel would push into the browser's box
    ui["_syncing"] = True  # a run's refresh, on its thread, while the analyst types
    ui["sql"].value = "SELECT user, count(*) AS n FROM session"
    ui["_syncing"] = False
    refresh_ui(editor, ui)
    assert sent == [] and editor.sql == "SELECT user, count(*) AS n FROM session"
    typed = "SELECT user, count(*) AS n FROM session_start GROUP BY user"
    ui["sql"]._message(ui["sql"], {"type": "run", "text": typed}, [])  # Ctrl+Enter
    editor._thread.join(10)
    assert editor.error is None and "rows</b>" in ui["rows"].value
    assert sent == []  # the box keeps what the analyst typed
    editor.set_sql("SELECT 1 AS one")  # a load: the kernel changes the SQL, the box follows
    assert sent[-1] == {"type": "set", "text": "SELECT 1 AS one"}


def test_rerunning_the_cell_keeps_the_sql(editor):
    editor.widget  # noqa: B018
    editor._ui["sql"].value = "SELECT 42 AS answer"
    again = QueryEditor(editor.session)
    assert again.sql == "SELECT 42 AS answer" and again.name is None


def test_the_single_user_notice_is_information_once(editor):
    from accessmon.access import rbac

    rbac._NOTICES.clear()
    ui = editor.widget and editor._ui
    editor.run()
    assert (
        'class="am-info"' in ui["notice"].value and "no roles are configured" in ui["notice"].value
    )
    assert "am-error" not in ui["notice"].value and not ui["error"].value


def test_importing_stays_light():
    code = (
        "import sys, accessmon, accessmon.ui.widgets, accessmon.sql.examples; "
        "print([m for m in ('plotly', 'ipywidgets', 'pandas') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
