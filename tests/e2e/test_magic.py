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
    assert not stderr, stderr  # the single-user notice is information, not stderr


def test_magic_follows_env_changes_and_completes_views(lab, page, project):
    missing = project / "elsewhere" / "audit"
    query = "%%accessmon --days 30\nSELECT count(*) AS n FROM session_start"
    lab.new_notebook(
        "e2e_magic_env.ipynb",
        [
            "%load_ext accessmon",
            f"%env ACCESSMON_STORE={missing}",
            query,
            f"%env ACCESSMON_STORE={project / 'data' / 'audit'}",
            query,
            "%%accessmon --days 30\nSELECT * FROM sess",
        ],
    )
    panel = e2e.open_notebook(page, lab, "e2e_magic_env.ipynb")
    e2e.run_all(page, panel)
    cells = panel.locator(".jp-CodeCell")
    e2e.expect_state(panel, cells.nth(4).locator(".jp-OutputArea-output table tbody tr"))
    said = "\n".join(cells.nth(2).locator(".jp-OutputArea-output").all_inner_texts())
    assert str(missing) in said and "ACCESSMON_STORE" in said, said  # where it looked, and why
    assert f"accessmon --store {missing} demo" in said and "--store" in said, said

    last = cells.nth(5).locator(".jp-InputArea-editor .cm-content")
    last.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Tab")
    completer = page.locator(".jp-Completer")
    e2e.expect(completer).to_contain_text("session_start", timeout=e2e.UI_TIMEOUT)
