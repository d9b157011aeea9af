"""Browser tests: one fresh copy of the repo after `make demo`, one JupyterLab on it, Chromium.

`make test-e2e` runs them; `make test` and a plain `pytest` leave them out (marker `e2e`,
deselected in pyproject's addopts). `accessmon demo` and the report run take about 20 s,
which is why all tests share one copy; each test gets a fresh browser context and kernel.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from . import lab as e2e

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
_timings: dict[str, float] = {}
_REPORTS = pytest.StashKey[dict]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter):
    if _timings:
        terminalreporter.write_line(
            "e2e setup: " + ", ".join(f"{k} {v:.1f} s" for k, v in _timings.items())
        )


@pytest.fixture(scope="session", autouse=True)
def _browser_available():
    """Without Playwright or Chromium: one skip line saying how to enable them; in CI, a failure."""
    missing = e2e.browser_missing()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {missing}", pytrace=False)
        pytest.skip(missing)


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    """A fresh copy of the checkout under test, after what `make demo` runs in a venv."""
    root = tmp_path_factory.mktemp("project")
    state = tmp_path_factory.mktemp("user-state")
    e2e.copy_checkout(REPO, root)
    env = e2e.clean_env(root, state)
    _timings["accessmon demo"] = e2e.run_script(["accessmon", "demo"], root, env)
    _timings["report run"] = e2e.run_script(
        ["accessmon", "report", "run", "privilege_access_report"], root, env
    )
    yield root
    # After every test: the notebooks wrote nothing of the project's into notebooks/.
    strays = [p for p in ("data", "queries", "exports") if (root / "notebooks" / p).exists()]
    assert not strays, f"the notebooks created {strays} inside notebooks/ of {root}"


@pytest.fixture(scope="session")
def lab(project, tmp_path_factory):
    """`make lab`'s `jupyter lab notebooks/`, headless, with no ACCESSMON_* variable."""
    state = tmp_path_factory.mktemp("lab-state")
    server = e2e.Lab(project, e2e.clean_env(project, state), state / "jupyter.log")
    server.start()
    _timings["JupyterLab up"] = server.started_in
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(e2e.CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    if report.skipped and isinstance(report.longrepr, tuple) and e2e.ENABLE in report.longrepr[2]:
        # One summary line for the whole directory, not one per test file.
        report.longrepr = (__file__, None, report.longrepr[2])
    return report


@pytest.fixture
def page(browser, lab, request, tmp_path_factory):
    """A fresh browser context at 1280×900; on failure, a screenshot for the log."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(e2e.UI_TIMEOUT)
    tab = context.new_page()
    start = time.monotonic()
    yield tab
    call = request.node.stash.get(_REPORTS, {}).get("call")
    if call is not None and call.failed:
        shot = tmp_path_factory.mktemp("failures") / f"{request.node.name}.png"
        tab.screenshot(path=shot)
        print(f"screenshot of the failure: {shot}")
    context.close()
    lab.shut_down_kernels()
    _timings[request.node.name] = time.monotonic() - start
