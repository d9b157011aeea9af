"""security_report.ipynb from JupyterLab: every query succeeds and draws its chart."""

from __future__ import annotations

from . import lab as e2e
from .conftest import REPO

QUERIES = 9  # privilege_access_report, the notebook's default


def test_security_report_runs_all_nine_queries(lab, page):
    panel = e2e.open_notebook(page, lab, "security_report.ipynb")
    e2e.run_all(page, panel)
    state = panel.locator(".am-meta tr", has_text="State")
    e2e.expect_state(panel, state)
    assert state.locator("td").nth(1).inner_text().strip() == "SUCCESS", e2e.outputs_text(panel)
    e2e.expect_state(panel, panel.locator(".js-plotly-plot"), count=QUERIES)
    assert not panel.locator(".am-error").count(), e2e.outputs_text(panel)
    if shots := e2e.screenshot_dir(REPO):
        panel.locator(".am-report h1").first.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.screenshot(path=shots / "report.png")
