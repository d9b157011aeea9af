"""The report in Chromium: security_report.ipynb in JupyterLab, and the exported HTML opened
from disk with the network cut off: contents, search, drill-down from a table row and from a
chart bar, and the phone layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from accessmon.demo import write_demo
from accessmon.reports.results import save_results

from ..reports.test_html import render_results
from ..reports.worklist import CAPPED_TOTAL, filled_run
from . import lab as e2e
from .conftest import REPO

QUERIES = 9  # privilege_access_report, the notebook's default
FIRST = "database_sessions_with_weak_security"
SSH = "ssh_sessions_with_weak_security"


def test_security_report_runs_all_nine_queries(lab, page):
    panel = e2e.open_notebook(page, lab, "security_report.ipynb")
    e2e.run_all(page, panel)
    state = panel.locator(".am-meta tr", has_text="State")
    e2e.expect_state(panel, state)
    assert state.locator("td").nth(1).inner_text().strip() == "SUCCESS", e2e.outputs_text(panel)
    e2e.expect_state(panel, panel.locator(".js-plotly-plot"), count=QUERIES)
    assert not panel.locator(".am-error").count(), e2e.outputs_text(panel)
    assert panel.locator(".am-summary a[href^='#q-']").count() == QUERIES
    # DataTables, embedded once by the notebook, draws every query's findings and rows in
    # JupyterLab too (the demo plants findings in all nine)
    e2e.expect_state(panel, panel.locator(".dt-container"), count=2 * QUERIES)
    panel.locator("#contents a[href='#q-kube_execs']").click()  # scrolls the notebook
    e2e.expect(panel.locator("#q-kube_execs")).to_be_in_viewport()
    if shots := e2e.screenshot_dir(REPO):
        panel.locator(".am-report h1").first.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.screenshot(path=shots / "report.png")


# -- the exported file, offline -----------------------------------------------------------------


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    """One report for these tests: a real run over a demo store, its worklist filled in,
    rendered by the notebook and exported as `report run` does."""
    root = tmp_path_factory.mktemp("offline-report")
    store = root / "data" / "audit"
    write_demo(store, events=20_000, days=20, seed=5)
    run = filled_run(store)
    results = save_results(run, root / "privilege_access_report_7d_20260102T000000Z.json")
    html = root / "report.html"
    html.write_text(render_results(results, store, root))
    return html


@pytest.fixture
def offline(browser, report_file):
    """open(width) -> a page at that width showing the report from file://, every request
    that is not for the file itself refused and recorded."""
    contexts, refused = [], []

    def open_(width: int = 1280):
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.set_default_timeout(e2e.UI_TIMEOUT)
        context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith(("file:", "data:", "blob:"))
                else (refused.append(route.request.url), route.abort())
            ),
        )
        contexts.append(context)
        tab = context.new_page()
        tab.goto(report_file.as_uri())
        e2e.expect(
            tab.locator(f"#t-{SSH}-findings_wrapper, #t-{SSH}-findings.dataTable").first
        ).to_be_visible()
        e2e.expect(tab.locator(".js-plotly-plot .main-svg").first).to_be_visible()
        return tab

    yield open_
    for context in contexts:
        context.close()
    assert not refused, f"the report asked the network for {refused}"


def in_view(tab, selector: str) -> bool:
    return tab.locator(selector).evaluate(
        "e => { const r = e.getBoundingClientRect(); return r.top >= -2 && r.top < innerHeight / 2 }"
    )


def test_contents_links_land_on_their_section(offline):
    tab = offline()
    assert tab.locator(".js-plotly-plot").count() == QUERIES
    tab.locator("#contents a[href='#q-kube_execs']").click()
    e2e.expect(tab).to_have_url(f"{tab.url.split('#')[0]}#q-kube_execs")
    assert in_view(tab, "#q-kube_execs")
    tab.locator(f".am-summary a[href='#q-{SSH}']").click()
    assert in_view(tab, f"#q-{SSH}")


def test_a_findings_table_is_searchable_and_a_row_opens_its_events(offline):
    tab = offline()
    wrapper = tab.locator(f"#t-{SSH}-findings_wrapper")
    rows = wrapper.locator("tbody tr")
    e2e.expect(rows.first).to_be_visible()
    wrapper.locator("input[type=search]").fill("admin-annie")
    e2e.expect(rows).to_have_count(1)
    e2e.expect(rows.first).to_contain_text("admin-annie")
    link = rows.first.locator("a.am-drill")
    target = link.get_attribute("href")[1:]
    link.click()
    details = tab.locator(f"details[id='{target}']")
    e2e.expect(details).to_have_attribute("open", "")
    e2e.expect(details.locator("table tbody tr").first).to_be_visible()
    assert in_view(tab, f"details[id='{target}']")
    first = tab.locator(f"#t-{FIRST}-findings_wrapper tbody tr").first.locator("a.am-drill")
    e2e.expect(first).to_have_text(f"{CAPPED_TOTAL} events")
    first.click()
    e2e.expect(tab.locator(f"details[id='f-{FIRST}-0'] summary")).to_contain_text(
        f"showing 50 of {CAPPED_TOTAL} events"
    )


def test_a_chart_bar_opens_its_finding_events(offline):
    tab = offline()
    chart = tab.locator(".js-plotly-plot").nth(1)  # the SSH query's
    chart.scroll_into_view_if_needed()
    anchor = chart.evaluate(
        "gd => gd.data.find(t => t.customdata && t.customdata[0][0]).customdata[0][0]"
    )
    assert anchor.startswith(f"f-{SSH}-")
    # the first bar of the first trace with a finding: hover, then click it
    trace = chart.evaluate("gd => gd.data.findIndex(t => t.customdata && t.customdata[0][0])")
    bar = chart.locator(".trace.bars").nth(trace).locator(".point path").first
    box = bar.bounding_box()
    tab.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tab.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    details = tab.locator(f"details[id='{anchor}']")
    e2e.expect(details).to_have_attribute("open", "")
    assert in_view(tab, f"details[id='{anchor}']")


def test_on_a_phone_the_summary_fits_and_legends_leave_the_plot_alone(offline):
    tab = offline(390)
    summary = tab.locator("#summary")
    assert summary.evaluate("e => e.scrollWidth <= e.clientWidth")
    assert tab.evaluate("document.documentElement.scrollWidth") <= 390
    overlaps = tab.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => {
             const l = gd.querySelector('.legend').getBoundingClientRect();
             const p = gd.querySelector('.nsewdrag').getBoundingClientRect();
             return l.top < p.bottom && l.bottom > p.top && l.left < p.right && l.right > p.left;
           })"""
    )
    assert overlaps == [False] * QUERIES
    if shots := e2e.screenshot_dir(REPO):
        summary.evaluate("e => e.scrollIntoView({block: 'start'})")
        tab.screenshot(path=shots / "report-phone.png")
