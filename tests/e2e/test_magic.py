"""The README's magic, in a new notebook in notebooks/, as an analyst would try it first."""

from __future__ import annotations

from . import lab as e2e

QUERY = "%%accessmon --days 30\nSELECT user, count(*) AS n FROM session_start GROUP BY user"


def test_magic_in_a_new_notebook_shows_a_table_with_rows(lab, page):
    lab.new_notebook("e2e_magic.ipynb", ["%load_ext accessmon", QUERY])
    panel = e2e.open_notebook(page, lab, "e2e_magic.ipynb")
    e2e.run_all(page, panel)
    result = panel.locator(".jp-CodeCell").nth(1).locator(".jp-OutputArea-output")
    e2e.expect_state(panel, result.locator("table tbody tr"))
    assert result.locator("table thead th", has_text="user").count()
    stderr = panel.locator("[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
    errors = [
        line for text in stderr for line in text.splitlines() if not line.startswith("notice:")
    ]
    assert not errors, stderr
