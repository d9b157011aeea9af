"""The headless Query Editor driven from Python, as its widgets drive it: no browser needed."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq

from accessmon.result import QueryResult, QueryStats
from accessmon.sql.examples import get_example, load_examples
from accessmon.ui.editor import PAGE_SIZE, Editor
from accessmon.ui.frames import chart_figure, stats_text, unique_names
from accessmon.window import Window

from .conftest import USERS, WINDOW, audit_lines, rbac_session


def test_starts_with_a_seed_example():
    ed = Editor(store="nowhere")
    assert ed.sql == get_example("unique_ips_per_user").query
    assert ed._session is None  # the Session is built on first use, not on construction
    assert len(load_examples()) == 6


def test_run_returns_the_result_and_is_audited(editor):
    editor.set_sql("SELECT user, count(*) AS n FROM session_start GROUP BY user ORDER BY user")
    result = editor.run()
    assert editor.error is None
    assert result is not None and editor.result is result
    assert editor.frame.to_dict("records") == [
        {"user": "alice", "n": 40},
        {"user": "bob", "n": 40},
        {"user": "carol", "n": 40},
    ]
    assert editor.status.startswith("3 rows in ") and editor.status.endswith(" ms")
    assert "scanned" not in editor.status  # bytes scanned are an Athena cost only
    (line,) = audit_lines(editor)
    assert line["success"] and line["query"] == editor.sql and line["from"] == "2024-03-20"


def test_bad_query_shows_one_line_and_the_editor_stays_usable(editor):
    editor.set_sql("SELECT * FROM cert_creat")
    assert editor.run() is None
    assert editor.error == "unknown view cert_creat (did you mean cert_create?)"
    assert editor.frame is None

    editor.set_sql("SELECT user,\n  nope FROM session_start")
    assert editor.run() is None
    assert editor.error == "unknown column nope in session_start (line 2, column 3)"
    assert editor.error_position == (2, 3)
    assert editor.error_context() == "   2 |   nope FROM session_start\n" + " " * 9 + "^"

    editor.set_sql("SELECT count(*) AS n FROM session_start")
    assert editor.run() is not None
    assert editor.error is None and editor.frame["n"].tolist() == [120]
    assert [r["success"] for r in audit_lines(editor)] == [False, False, True]


def test_stats_show_bytes_scanned_on_athena():
    import pyarrow as pa

    stats = QueryStats("athena", elapsed_ms=1200, data_scanned_bytes=3 * 1024 * 1024)
    assert stats_text(QueryResult(pa.table({"n": [1]}), "", stats)) == (
        "1 row in 1200 ms, 3.0 MB scanned"
    )


def test_stats_on_trino_say_bytes_read_and_trinos_query_id():
    import pyarrow as pa

    qid = "20261201_031200_00001_abcde"
    stats = QueryStats("trino", elapsed_ms=80, data_scanned_bytes=2048, query_execution_id=qid)
    assert stats_text(QueryResult(pa.table({"n": [1, 2]}), "", stats)) == (
        f"2 rows in 80 ms, 2.0 KB read, query {qid}"
    )
    # --stats: Trino's words; the audit trail's columns stay Athena's
    stats.engine_stats = {"elapsed_time_millis": 50, "physical_input_bytes": 2048}
    assert stats.shown() == {"engine": "trino", "query_id": qid, "elapsed_time_millis": 50,
                             "physical_input_bytes": 2048, "accessmon_elapsed_millis": 80}  # fmt: skip
    assert stats.as_dict()["query_execution_id"] == qid
    assert QueryStats("athena").shown() == QueryStats("athena").as_dict()


def test_a_window_after_its_end_is_refused_before_running(editor):
    assert editor.set_window(start="2024-03-21", end="2024-03-20") is None
    assert editor.error == "--from 2024-03-21 is after --to 2024-03-20"
    assert editor.set_window(days=30).days == 30
    assert editor.window == Window.last_days(30)


def test_set_window_takes_a_window_or_its_parts(editor):
    span = Window.between("2024-03-20", "2024-03-21")
    assert editor.set_window(span) == span and editor.window == span
    assert editor.set_window(span, days=3) is None
    assert editor.error == "give either a window or days / start and end, not both"
    assert editor.window == span


def test_a_preset_follows_today_and_a_range_stays_put(editor, monkeypatch):
    """The editor may stay open past midnight: `--days 7` then means the seven days to now."""
    import datetime as dt

    from accessmon import window as window_mod

    editor.set_window(days=7)
    monkeypatch.setattr(window_mod, "utc_today", lambda: dt.date(2030, 1, 8))
    assert editor.window == Window(dt.date(2030, 1, 2), dt.date(2030, 1, 8), 7)
    editor.set_window(start="2024-03-20", end="2024-03-21")
    assert editor.window == Window.between("2024-03-20", "2024-03-21")


def test_pages_of_fifty_and_sorting(editor):
    editor.set_sql("SELECT uid, user, event_time FROM session_start ORDER BY uid")
    editor.run()
    assert len(editor.frame) == 120 and editor.pages == 3
    assert len(editor.page(1)) == PAGE_SIZE
    assert editor.next_page()["uid"].iloc[0] == "s-050"
    assert len(editor.page(3)) == 20
    assert editor.page(99)["uid"].iloc[-1] == "s-119" and editor.page_number == 3
    assert editor.previous_page()["uid"].iloc[0] == "s-050"

    top = editor.sort("uid", ascending=False)
    assert top["uid"].iloc[0] == "s-119" and editor.page_number == 1
    assert editor.current_page()["uid"].iloc[0] == "s-119"
    assert editor.sort("event_time")["event_time"].is_monotonic_increasing
    assert editor.sort("uuid") is None
    assert editor.error == "sort: no column uuid in the result (did you mean uid?)"


def test_chart_figure_traces(editor):
    editor.set_sql(
        "SELECT event_date, user, count(*) AS n FROM session_start GROUP BY event_date, user"
    )
    editor.run()
    bar = editor.chart("bar", "event_date", "n", "user")
    assert sorted(t.name for t in bar.data) == list(USERS)
    assert {t.type for t in bar.data} == {"bar"} and bar.layout.barmode == "stack"
    assert sum(sum(t.y) for t in bar.data) == 120
    pie = editor.chart("pie", "user", "n")
    assert [t.type for t in pie.data] == ["pie"]
    picked = editor.chart()  # x the date, y the count, color the label
    assert len(picked.data) == 3 and editor.figure is picked
    assert editor.chart("bar", "event_dat", "n") is None
    assert editor.error == "chart x: no column event_dat in the result (did you mean event_date?)"
    assert editor.chart("donut", "user", "n") is None
    assert "chart kind must be one of bar, line, scatter, pie" in editor.error


def test_chart_function_is_pure():
    frame = pd.DataFrame({"day": ["2024-03-20", "2024-03-21"], "n": [1, 2]})
    fig = chart_figure(frame, "line", "day", "n")
    assert [t.type for t in fig.data] == ["scatter"] and list(fig.data[0].y) == [1, 2]
    assert frame["n"].tolist() == [1, 2]


def test_export_csv_and_parquet(editor, tmp_path, monkeypatch):
    editor.set_sql("SELECT uid, user, login FROM session_start WHERE login = 'root'")
    assert editor.export("csv") is None and editor.error == "run a query first"
    editor.run()
    editor.sort("uid", ascending=False)

    csv = editor.export("csv", tmp_path / "out" / "root.csv")
    assert csv == tmp_path / "out" / "root.csv"
    back = pd.read_csv(csv)
    assert len(back) == 30 and back["uid"].iloc[0] == "s-116"
    assert list(back.columns) == ["uid", "user", "login"]

    monkeypatch.chdir(tmp_path)
    parquet = editor.export("parquet")
    assert parquet.parent == tmp_path / "exports" and parquet.suffix == ".parquet"
    table = pq.read_table(parquet)
    assert table.num_rows == 30 and table.column("uid")[0].as_py() == "s-116"
    assert not [p for p in parquet.parent.iterdir() if p.name.startswith(".")]  # no temp files
    assert editor.export("xlsx") is None and "csv or parquet" in editor.error


def test_export_writes_lists_as_json(editor, tmp_path):
    editor.set_sql("SELECT identity_user, identity_roles FROM cert_create ORDER BY identity_user")
    editor.run()
    back = pd.read_csv(editor.export("csv", tmp_path / "certs.csv"))
    assert json.loads(back["identity_roles"].iloc[0]) == ["access"]


def test_repeated_column_names_get_their_own(editor, tmp_path):
    """`SELECT *` over a join (as a seed example does) repeats names; each column stays usable."""
    editor.set_sql(
        "SELECT a.user, b.user, a.uid FROM session_start a, session_start b "
        "WHERE a.uid = b.uid AND a.login = 'root'"
    )
    editor.run()
    assert list(editor.frame.columns) == ["user", "user_2", "uid"]
    assert editor.sort("user_2", ascending=False)["user_2"].iloc[0] == "carol"
    assert pq.read_table(editor.export("parquet", tmp_path / "j.parquet")).num_rows == 30
    assert unique_names(["x", "x", "x_2"]) == ["x", "x_2", "x_2_2"]


def test_every_seed_example_runs(editor):
    for example in load_examples():
        assert editor.load_example(example.name) == example.query
        assert editor.run() is not None, (example.name, editor.error)


def test_views_browser_and_insert(editor):
    catalog = editor.views_catalog()
    assert len(catalog) == 37 and catalog["cert_create"][0].event_type == "cert.create"
    assert ("identity_user", "varchar") in catalog["cert_create"][1]
    editor.set_sql("SELECT * FROM")
    assert editor.insert_view("cert_create") == "SELECT * FROM cert_create"
    assert editor.insert_view("cert_creat") is None
    assert editor.error == "unknown view cert_creat (did you mean cert_create?)"
    assert editor.sql == "SELECT * FROM cert_create"


def test_library_load_and_save(store, tmp_path):
    ed = Editor(rbac_session(store, tmp_path, "dave"))  # dave may create
    examples = [item for item in ed.library() if item[0] == "example"]
    assert [name for _, name, _ in examples][:2] == ["etc_passwd_commands", "unique_ips_per_user"]
    assert "/etc/passwd" in ed.load_example("etc_passwd_commands")
    path = ed.save("root_logins", "Root logins", "SSH sessions as root")
    assert path is not None and path.is_file() and ed.error is None
    assert ("saved", "root_logins", "Root logins") in ed.library()
    ed.set_sql("SELECT 1")
    assert "/etc/passwd" in ed.load_saved("root_logins")
    assert ed.load_saved("root_login") is None and "did you mean root_logins" in ed.error


def test_saving_without_create_is_refused(store, tmp_path):
    ed = Editor(rbac_session(store, tmp_path, "alice"))  # auditor: use, no create
    ed.set_window(**WINDOW)
    ed.set_sql("SELECT count(*) AS n FROM session_start")
    assert ed.run() is not None  # alice may run queries
    assert ed.save("mine", "Mine") is None
    assert ed.error.startswith('access denied: user "alice" (roles: auditor) may not create')
    assert not (tmp_path / "queries").exists()


def test_csv_export_guards_formulas(editor, tmp_path):
    """Issue 14.18: text a spreadsheet would run as a formula gets a `'`; numbers stay numbers."""
    editor.set_sql(
        "SELECT '=cmd|'' /C calc''!A0' AS formula, '@SUM(1)' AS at, '-2+3' AS minus, "
        "'plain' AS plain, -5 AS n, 1 AS \"=name\" FROM session_start LIMIT 1"
    )
    editor.run()
    guarded = pd.read_csv(editor.export("csv", tmp_path / "g.csv"), dtype=str)
    assert guarded.iloc[0].to_dict() == {
        "formula": "'=cmd|' /C calc'!A0", "at": "'@SUM(1)", "minus": "'-2+3",
        "plain": "plain", "n": "-5", "'=name": "1",
    }  # fmt: skip
    raw = pd.read_csv(editor.export("csv", tmp_path / "r.csv", csv_guard=False), dtype=str)
    assert raw["formula"].iloc[0] == "=cmd|' /C calc'!A0" and "=name" in raw.columns


def test_names_follow_the_work_not_the_example_loaded_at_start(editor, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert editor.name == "unique_ips_per_user"  # the example, untouched
    editor.set_sql("SELECT user, count(*) AS n FROM session_start GROUP BY user")
    assert editor.name is None and editor.export_name() == "session_start_query"
    editor.run()
    assert editor.export("csv").name.startswith("session_start_query_")
    assert editor.save() is None and "give the query a name" in editor.error  # asks, saves nothing
    assert not (tmp_path / "q").exists()
    assert editor.save("per_user") is not None and editor.name == "per_user"
    editor.set_sql(editor.sql + " ORDER BY n")
    assert editor.name == "per_user" and editor.save() is not None  # a saved query keeps its name
    assert "ORDER BY n" in editor.session.saved_query("per_user").query
