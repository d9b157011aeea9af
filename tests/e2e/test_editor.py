"""query_editor.ipynb from JupyterLab: what an analyst does with the editor in a browser.

The first test needs only a Run button; the others follow the editor's DOM contract
(issue 16): `.am-editor` holds `.am-sql` (CodeMirror 6), `.am-run`, `.am-rows`, an itables
grid in `.am-results`, `.am-row-json`, the tabs Results, Chart and Export, `.am-draw` and
`.am-chart`, `.am-export` and `.am-link`, and the window buttons `.am-window`.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess

from . import lab as e2e
from .conftest import REPO

NOTEBOOK = "query_editor.ipynb"
QUERY = "SELECT user, count(*) AS n FROM session_start GROUP BY user"
ROWS = re.compile(r"^\s*[1-9][\d,]* rows?\b")
EDITOR = ".am-editor"

#: One column of the visible grid, as numbers: DataTables may split the header and the body
#: into two tables when it scrolls, so the header is read from the visible one.
COLUMN_JS = """(root, name) => {
  const visible = e => e.offsetParent !== null;
  const heads = [...root.querySelectorAll('table.dataTable thead th')].filter(visible);
  const i = heads.map(th => th.innerText.trim()).indexOf(name);
  const rows = [...root.querySelectorAll('table.dataTable tbody tr')].filter(visible);
  return i < 0 ? [] : rows.map(tr => Number(tr.children[i].innerText.replace(/,/g, '')));
}"""
#: The column differs from `before` and is in order, one way or the other.
SORTED_JS = f"""([root, before]) => {{
  const v = ({COLUMN_JS})(root, 'n');
  if (!v.length || JSON.stringify(v) === before) return false;
  return v.every((x, j) => !j || v[j - 1] <= x) || v.every((x, j) => !j || v[j - 1] >= x);
}}"""


def run_button(panel):
    """The editor's Run: `.am-run`, or today's ipywidgets button labelled Run."""
    label = re.compile(r"^\s*Run\s*$")
    return panel.locator(f"{EDITOR} .am-run").or_(panel.locator("button", has_text=label)).first


def open_editor(page, lab):
    panel = e2e.open_notebook(page, lab, NOTEBOOK)
    e2e.run_all(page, panel)
    e2e.expect_state(panel, run_button(panel))
    return panel


def click_run(panel):
    run_button(panel).click()


def expect_rows(panel):
    e2e.expect_state(panel, panel.locator(".jp-OutputArea-output").get_by_text(ROWS))


def run_typed_query(page, panel, sql=QUERY):
    """Click the SQL box, select all, type `sql`, press Ctrl+Enter; the grid once it has rows."""
    box = panel.locator(f"{EDITOR} .am-sql .cm-content")
    e2e.expect_state(panel, box, timeout=e2e.UI_TIMEOUT)
    box.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(sql)
    e2e.expect(box).to_have_text(sql, timeout=e2e.UI_TIMEOUT)  # as an analyst sees it typed
    page.keyboard.press("Control+Enter")
    results = panel.locator(f"{EDITOR} .am-results")
    e2e.expect_state(panel, results.locator("table.dataTable tbody tr"))
    header = results.locator("table.dataTable thead th", has_text="user")
    e2e.expect_state(panel, header, timeout=e2e.UI_TIMEOUT)
    return results


def cli_rows(project, sql=QUERY, days=7):
    """The same query through the CLI, for the whole result the grid pages through."""
    env = e2e.clean_env(project, project.parent / "cli-state")
    out = subprocess.run(
        [str(e2e.BIN / "accessmon"), "query", "exec", "--days", str(days), "--format", "csv", sql],
        cwd=project, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return list(csv.DictReader(io.StringIO(out.stdout)))


def tab(panel, title):
    return panel.locator(f"{EDITOR} .lm-TabBar-tab", has_text=re.compile(rf"^\s*{title}\s*$"))


def test_editor_first_use_runs_the_example_query(lab, page):
    panel = open_editor(page, lab)
    click_run(panel)
    expect_rows(panel)
    if shots := e2e.screenshot_dir(REPO):
        panel.locator(EDITOR).evaluate("e => e.scrollIntoView({block: 'start'})")
        page.screenshot(path=shots / "editor.png")


def test_editor_ctrl_enter_runs_a_typed_query_and_counts_its_rows(lab, page, project):
    panel = open_editor(page, lab)
    run_typed_query(page, panel)
    expected = len(cli_rows(project))
    e2e.expect(panel.locator(f"{EDITOR} .am-rows")).to_have_text(
        re.compile(rf"\b{expected} rows?\b"), timeout=e2e.UI_TIMEOUT
    )


def test_editor_header_click_sorts_the_whole_result(lab, page, project):
    panel = open_editor(page, lab)
    results = run_typed_query(page, panel)
    counts = sorted(int(r["n"]) for r in cli_rows(project))
    n_header = (
        results.locator("table.dataTable thead th")
        .filter(visible=True)
        .filter(has_text=re.compile(r"^\s*n\s*$"))
    )
    orders = []
    for _ in range(2):
        before = results.evaluate(f"root => JSON.stringify(({COLUMN_JS})(root, 'n'))")
        n_header.click()
        page.wait_for_function(SORTED_JS, arg=[results.element_handle(), before])
        orders.append(results.evaluate(f"root => ({COLUMN_JS})(root, 'n')"))
    first, second = orders
    k = len(first)
    assert k, "the grid shows no rows"
    ascending, descending = counts[:k], counts[::-1][:k]
    assert {tuple(first), tuple(second)} == {tuple(ascending), tuple(descending)}, (orders, counts)


def test_editor_row_click_shows_the_row_as_json(lab, page):
    panel = open_editor(page, lab)
    results = run_typed_query(page, panel)
    results.locator("table.dataTable tbody tr").filter(visible=True).first.click()
    shown = panel.locator(f"{EDITOR} .am-row-json")
    e2e.expect_state(panel, shown, timeout=e2e.UI_TIMEOUT)
    e2e.expect(shown).to_contain_text(re.compile(r'"user"\s*:'), timeout=e2e.UI_TIMEOUT)
    e2e.expect(shown).to_contain_text(re.compile(r'"n"\s*:'), timeout=e2e.UI_TIMEOUT)


def test_editor_row_json_shows_the_raw_event_a_query_selects(lab, page):
    """The hidden `event_data` column, inserted from the views browser at the cursor, run with
    Shift+Enter, and read unfolded in the row's JSON."""
    panel = open_editor(page, lab)
    head, tail = "SELECT user, ", " FROM session_start ORDER BY event_time LIMIT 5"
    type_sql(page, panel, head + tail)
    page.keyboard.press("Home")
    for _ in range(len(head)):
        page.keyboard.press("ArrowRight")
    panel.locator(f"{EDITOR} .am-views select").select_option("session_start")
    panel.locator(f"{EDITOR} .am-columns select").select_option(label="event_data (varchar)")
    panel.locator(f"{EDITOR} .am-insert-column").click()
    box = panel.locator(f"{EDITOR} .am-sql .cm-content")
    e2e.expect(box).to_have_text(head + "event_data" + tail, timeout=e2e.UI_TIMEOUT)
    box.click()
    page.keyboard.press("End")
    page.keyboard.press("Shift+Enter")
    results = panel.locator(f"{EDITOR} .am-results")
    e2e.expect_state(panel, results.locator("table.dataTable thead th", has_text="event_data"))
    results.locator("table.dataTable tbody tr").filter(visible=True).first.click()
    shown = panel.locator(f"{EDITOR} .am-row-json")
    e2e.expect_state(panel, shown, timeout=e2e.UI_TIMEOUT)
    # the whole event, as a document: its own keys, nested, not one quoted string
    e2e.expect(shown).to_contain_text(re.compile(r'"event_data"\s*:\s*\{'), timeout=e2e.UI_TIMEOUT)
    e2e.expect(shown).to_contain_text(re.compile(r'"addr\.remote"\s*:'), timeout=e2e.UI_TIMEOUT)
    e2e.expect(shown).to_contain_text(re.compile(r'"code"\s*:\s*"T2000I"'), timeout=e2e.UI_TIMEOUT)


def test_editor_has_results_chart_and_export_tabs(lab, page):
    panel = open_editor(page, lab)
    for title in ("Results", "Chart", "Export"):
        e2e.expect_state(panel, tab(panel, title), timeout=e2e.UI_TIMEOUT)


def test_editor_draw_puts_the_chart_in_the_chart_tab(lab, page):
    panel = open_editor(page, lab)
    click_run(panel)
    expect_rows(panel)
    tab(panel, "Chart").click()
    panel.locator(f"{EDITOR} .am-draw").click()
    e2e.expect_state(panel, panel.locator(f"{EDITOR} .am-chart .js-plotly-plot"))


def test_editor_exports_a_csv_into_the_projects_exports(lab, page, project):
    panel = open_editor(page, lab)
    click_run(panel)
    expect_rows(panel)
    tab(panel, "Export").click()
    panel.locator(f"{EDITOR} .am-export").click()
    link = panel.locator(f"{EDITOR} .am-link")
    e2e.expect(link).to_contain_text(re.compile(r"wrote .*\.csv"), timeout=e2e.RUN_TIMEOUT)
    said = link.inner_text()
    written = [p for p in (project / "exports").rglob("*.csv") if p.name in said]
    assert written, f"{said!r}, but no such file in {project / 'exports'}"
    assert not (project / "notebooks" / "exports").exists()


def test_editor_window_buttons_fit_one_row_at_1024px(lab, page):
    page.set_viewport_size({"width": 1024, "height": 900})
    panel = open_editor(page, lab)
    buttons = panel.locator(f"{EDITOR} .am-window button")
    e2e.expect_state(panel, buttons, timeout=e2e.UI_TIMEOUT)
    boxes = buttons.evaluate_all(
        """bs => bs.map(b => ({text: b.innerText.trim(), y: b.getBoundingClientRect().y,
                              cut: b.scrollWidth > b.clientWidth}))"""
    )
    labels = [b["text"] for b in boxes]
    assert labels == ["7 days", "30 days", "90 days", "120 days", "Date range"], labels
    assert len({round(b["y"]) for b in boxes}) == 1, boxes
    assert not [b["text"] for b in boxes if b["cut"]], boxes


def sql_text(panel):
    return panel.locator(f"{EDITOR} .am-sql .cm-content").inner_text().replace("\u00a0", " ")


def type_sql(page, panel, sql):
    box = panel.locator(f"{EDITOR} .am-sql .cm-content")
    e2e.expect_state(panel, box, timeout=e2e.UI_TIMEOUT)
    box.click()
    page.keyboard.press("Control+a")
    page.keyboard.type(sql)


def test_editor_sql_box_highlights_completes_and_inserts_at_the_cursor(lab, page):
    panel = open_editor(page, lab)
    type_sql(page, panel, "SELECT * FROM sess")
    popup = page.locator(".cm-tooltip-autocomplete")
    e2e.expect(popup).to_contain_text("session_start", timeout=e2e.UI_TIMEOUT)  # a view after FROM
    page.keyboard.press("Escape")
    type_sql(page, panel, "SELECT log FROM session_start")
    page.keyboard.press("Home")
    for _ in range(len("SELECT log")):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Control+Space")
    e2e.expect(popup).to_contain_text("login", timeout=e2e.UI_TIMEOUT)  # a column of that view
    page.keyboard.press("Escape")
    colors = panel.locator(f"{EDITOR} .am-sql .cm-line").first.evaluate(
        """line => [...line.querySelectorAll('span')].map(s => [s.innerText, getComputedStyle(s).color])
                   .concat([['(line)', getComputedStyle(line).color]])"""
    )
    keyword = dict(colors).get("SELECT")
    assert keyword and keyword != dict(colors)["(line)"], colors  # SQL highlighting

    search = panel.locator(f"{EDITOR} .am-search input")
    views = panel.locator(f"{EDITOR} .am-views select option")
    search.fill("client_ip")  # a column's name finds its view
    e2e.expect(views).to_have_text(["cert_create"], timeout=e2e.UI_TIMEOUT)
    search.fill("T2000I")  # an event code finds its view
    e2e.expect(views).to_have_text(["session_start"], timeout=e2e.UI_TIMEOUT)
    panel.locator(f"{EDITOR} .am-views select").select_option("session_start")
    info = panel.locator(f"{EDITOR} .am-view-info")
    e2e.expect(info).to_contain_text("An interactive session started", timeout=e2e.UI_TIMEOUT)
    e2e.expect(info).to_contain_text("session.start")
    e2e.expect(info).to_contain_text("T2000I")

    type_sql(page, panel, "SELECT * FROM  WHERE login = 'root'")
    page.keyboard.press("Home")
    for _ in range(len("SELECT * FROM ")):
        page.keyboard.press("ArrowRight")
    panel.locator(f"{EDITOR} .am-insert-view").click()
    e2e.expect(panel.locator(f"{EDITOR} .am-sql .cm-content")).to_have_text(
        "SELECT * FROM session_start WHERE login = 'root'", timeout=e2e.UI_TIMEOUT
    )


def test_editor_grid_searches_pages_aligns_numbers_and_shows_zones(lab, page, project):
    panel = open_editor(page, lab)
    results = run_typed_query(page, panel, "SELECT user, event_time, proto FROM session_start")
    total = len(cli_rows(project, "SELECT user, event_time, proto FROM session_start"))
    assert total > 25
    info = results.locator(".dt-info")
    e2e.expect(info).to_contain_text(f"of {total:,} entries", timeout=e2e.UI_TIMEOUT)  # paged
    times = results.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert times and all(t.endswith(" UTC") for t in times), times[:3]  # times with their zone
    results.locator("input[type=search]").fill("admin-annie")
    e2e.expect(info).not_to_contain_text(f"of {total:,} entries", timeout=e2e.UI_TIMEOUT)
    users = results.locator("tbody tr td:first-child").all_inner_texts()
    assert users and set(users) == {"admin-annie"}, users[:5]

    results = run_typed_query(page, panel)  # user, n
    cell = results.locator("tbody tr td:nth-child(2)").first
    e2e.expect(cell).to_have_css("text-align", "right", timeout=e2e.UI_TIMEOUT)


def test_editor_names_messages_and_rerunning_the_cell(lab, page):
    panel = open_editor(page, lab)
    notice = panel.locator(f"{EDITOR} .am-info")
    e2e.expect(notice).to_contain_text("no roles are configured", timeout=e2e.UI_TIMEOUT)
    assert not panel.locator("[data-mime-type='application/vnd.jupyter.stderr']").count()

    type_sql(page, panel, "SELEC * FROM session_start")
    page.keyboard.press("Control+Enter")
    error = panel.locator(f"{EDITOR} .am-error")
    e2e.expect(error).to_contain_text("did you mean SELECT", timeout=e2e.RUN_TIMEOUT)
    assert "syntax error" in error.inner_text() and "denied" not in error.inner_text()

    run_typed_query(page, panel)
    tab(panel, "Export").click()
    panel.locator(f"{EDITOR} .am-export").click()
    e2e.expect(panel.locator(f"{EDITOR} .am-link")).to_contain_text(
        "session_start_query_", timeout=e2e.RUN_TIMEOUT
    )  # named after what the analyst works on, not the example loaded at start
    panel.locator(f"{EDITOR} .am-save").click()
    e2e.expect(error).to_contain_text("give the query a name", timeout=e2e.UI_TIMEOUT)

    editor_cell = panel.locator(".jp-CodeCell").nth(1)
    editor_cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")  # the analyst re-runs the editor's cell
    e2e.expect(panel.locator(f"{EDITOR} .am-sql .cm-content")).to_have_text(
        QUERY, timeout=e2e.RUN_TIMEOUT
    )
