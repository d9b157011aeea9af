"""The report notebook: one source, its parameters, papermill and nbconvert, and headless runs
as cron makes them (`accessmon report run`), down to the HTML drawn in Chromium."""

from __future__ import annotations

import html as html_module
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import nbformat
import papermill
import pytest

from accessmon.errors import AccessmonError
from accessmon.reports.notebook import (
    _parameters,
    execute_notebook,
    export_html,
    notebook_path,
    render,
)
from accessmon.window import Window

from ..conftest import REPO, session_for
from ..conftest import run as cli
from .conftest import BROKEN, ORDER, builtin

REPO_NOTEBOOK = REPO / "notebooks" / "security_report.ipynb"


def test_the_notebooks_folder_holds_the_packaged_notebook_itself():
    """One source: notebooks/ links to the notebook the package ships, so they cannot drift."""
    assert REPO_NOTEBOOK.is_symlink()
    assert REPO_NOTEBOOK.resolve() == notebook_path().resolve()
    assert REPO_NOTEBOOK.read_bytes() == notebook_path().read_bytes()


def test_the_sdist_ships_the_notebook_and_templates(tmp_path):
    """The symlink in notebooks/ does not trouble setuptools; the package data carries the file."""
    src = tmp_path / "src"
    for folder in ("accessmon", "notebooks"):
        shutil.copytree(REPO / folder, src / folder, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))  # fmt: skip
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    build = f"from setuptools import build_meta as b; print(b.build_sdist({str(tmp_path)!r}))"
    out = subprocess.run([sys.executable, "-c", build], cwd=src, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    with tarfile.open(tmp_path / out.stdout.strip().splitlines()[-1]) as sdist:
        names = {n.partition("/")[2] for n in sdist.getnames()}
        shipped = sdist.extractfile("accessmon-0.1.0/accessmon/notebooks/security_report.ipynb")
        assert shipped.read() == REPO_NOTEBOOK.read_bytes()
    assert "accessmon/templates/report/index.html.j2" in names


def test_notebook_parameters_are_tagged():
    params = papermill.inspect_notebook(str(REPO_NOTEBOOK))
    assert {
        "report",
        "days",
        "date_from",
        "date_to",
        "config",
        "engine",
        "store",
        "user",
        "results",
    } <= set(params)
    assert params["report"]["default"] == '"privilege_access_report"'


@pytest.fixture(scope="module")
def headless(workdir):
    """One `accessmon report run` as cron runs it; the HTML, results and state it leaves."""
    out = cli(["report", "run", "privilege_access_report", "--format", "both"], workdir)
    assert out.returncode == 0, out.stderr
    html = Path(workdir / out.stdout.splitlines()[0])
    return {"out": out, "html": html, "workdir": workdir}


def test_headless_run_writes_html_notebook_results_and_state(headless):
    out, html, workdir = headless["out"], headless["html"], headless["workdir"]
    assert re.fullmatch(
        r"reports/privilege_access_report_7d_\d{8}T\d{6}Z\.html", out.stdout.splitlines()[0]
    )
    assert html.with_suffix(".ipynb").is_file() and html.with_suffix(".json").is_file()
    for i, (name, _, _) in enumerate(ORDER, start=1):
        assert f"[{i}/9] {name}: " in out.stderr
    text = html.read_text()
    assert text.count('class="plotly-graph-div"') == 9
    for q in builtin().queries:
        assert q.suggestion in html_module.unescape(text)
    assert "<script src=" not in text  # nothing loaded from the network
    assert "report = " not in text  # code cells are hidden
    state = cli(["report", "state", "privilege_access_report"], workdir).stdout
    assert re.search(r"privilege_access_report_7_days\s+SUCCESS\s+\d{4}-", state)
    got = cli(["report", "get", "privilege_access_report", "--format", "json"], workdir)
    assert json.loads(got.stdout)["state"] == "SUCCESS"


def test_html_renders_nine_charts_offline_in_chromium(headless):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=15000",
         f"--user-data-dir={headless['workdir'] / 'chromium-profile'}",
         "--dump-dom", headless["html"].resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    plots = re.findall(r'class="[^"]*\bjs-plotly-plot\b[^"]*"', dom)
    assert len(plots) == 9
    assert dom.count('class="main-svg"') >= 9  # drawn, not just placeholders


def test_custom_report_with_a_broken_query(workdir):
    custom = workdir / "reports" / "definitions"
    custom.mkdir(parents=True, exist_ok=True)
    (custom / "team.yaml").write_text(BROKEN)
    try:
        listing = cli(["report", "ls"], workdir).stdout
        assert "privilege_access_report" in listing and "team_checks" in listing
        out = cli(["report", "run", "team_checks", "--days", "20"], workdir)
        assert out.returncode == 1
        assert "state ERROR" in out.stderr and "broken" in out.stderr
        html = (workdir / out.stdout.strip()).read_text()
        assert "Root logins" in html and html.count('class="plotly-graph-div"') == 1
        assert "Query failed: Could not convert string 'x' to INT64" in html
        assert "ERROR" in cli(["report", "state", "team_checks"], workdir).stdout
        (custom / "bad.yaml").write_text(BROKEN.replace("title: Team checks\n", ""))
        bad = cli(["report", "ls"], workdir)
        assert bad.returncode == 1 and "bad.yaml:2: title: Field required" in bad.stderr
        assert "team_checks" in bad.stdout
    finally:
        shutil.rmtree(custom)


def test_export_hides_code_markdown_and_stderr(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# How to use this notebook"),
        nbformat.v4.new_code_cell("secret_code = 1", outputs=[
            nbformat.v4.new_output("stream", name="stderr", text="a notice for the terminal\n"),
            nbformat.v4.new_output("stream", name="stdout", text="kept on stdout\n"),
            nbformat.v4.new_output("display_data", data={"text/html": "<p id='finding'>3</p>"}),
        ]),
    ]  # fmt: skip
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    page = export_html(path, "Team <checks>")
    assert "<title>Team &lt;checks&gt;</title>" in page
    assert '<p id="finding">3</p>' in page and "kept on stdout" in page
    for hidden in ("How to use", "secret_code", "a notice for the terminal"):
        assert hidden not in page
    assert "<script src=" not in page


def test_a_failing_notebook_is_one_line_naming_the_cell(tmp_path, workdir):
    session = session_for(workdir / "data" / "audit", audit_log=tmp_path / "audit.jsonl")
    parameters = _parameters(session, "privilege_access_report", tmp_path / "missing.json")
    assert Path(parameters["results"]).is_absolute() and Path(parameters["store"]).is_absolute()
    with pytest.raises(AccessmonError, match=r"failed in cell 3: AccessmonError: .*missing\.json"):
        execute_notebook({**parameters, "config": None}, tmp_path / "out.ipynb")


def test_a_refused_render_writes_nothing(tmp_path, workdir):
    session = session_for(workdir / "data" / "audit", audit_log=tmp_path / "audit.jsonl")
    with pytest.raises(AccessmonError, match="no report nope"):
        render(session, "nope", Window.resolve(7), tmp_path / "out")
    with pytest.raises(AccessmonError, match="invalid report name"):
        render(session, "../nope", Window.resolve(7), tmp_path / "out")
    assert not (tmp_path / "out").exists()
