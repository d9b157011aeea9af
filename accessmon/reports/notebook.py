"""Headless report runs: query, execute the notebook with papermill, export one HTML file.

The queries run here, with per-query progress; the notebook then renders the saved results,
so the HTML, the executed notebook and the results JSON always agree.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from accessmon._io import atomic_write_text
from accessmon.errors import AccessmonError
from accessmon.reports.history import append_run
from accessmon.reports.results import save_results
from accessmon.reports.run import check_run, run_report
from accessmon.reports.state import (
    mark_interrupted,
    remove_dead_run_folders,
    report_lock,
    run_folder_prefix,
    state_name,
    write_state,
)

if TYPE_CHECKING:
    from accessmon.reports.results import QueryOutcome
    from accessmon.session import Session
    from accessmon.window import Window

KERNEL = "accessmon"


@dataclass
class Rendered:
    """What a headless run left behind, for the CLI to print."""

    name: str
    state: str
    results: Path
    html: Path | None = None
    notebook: Path | None = None
    published: str | None = None
    failed: list[str] = field(default_factory=list)


def notebook_path() -> Path:
    """The report notebook shipped in the package (notebooks/ links to it)."""
    return Path(str(resources.files("accessmon") / "notebooks" / "security_report.ipynb"))


def kernel_name() -> str:
    """The kernel `make` registers in the venv; else the running interpreter's own."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KERNEL if KERNEL in KernelSpecManager().find_kernel_specs() else "python3"


@contextmanager
def _kernel_stderr_quiet() -> Iterator[None]:
    """The kernel inherits stderr and prints transport warnings into cron mails; its errors
    still reach us through papermill's exception."""
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def execute_notebook(parameters: dict, output: Path) -> None:
    """The report notebook with papermill; a failing cell becomes one line naming it."""
    import papermill

    try:
        with _kernel_stderr_quiet():
            papermill.execute_notebook(
                str(notebook_path()),
                str(output),
                parameters=parameters,
                kernel_name=kernel_name(),
                progress_bar=False,
                log_output=False,
                cwd=os.getcwd(),
            )
    except papermill.PapermillExecutionError as e:
        raise AccessmonError(f"the report notebook failed in cell {e.cell_index}: {e.ename}: "
                             f"{e.evalue}") from None  # fmt: skip


def export_html(notebook: Path, title: str) -> str:
    """Input cells hidden, plotly.js embedded once, nothing fetched from the network.

    Markdown (the notebook's own instructions) and stderr (notices meant for the person at
    the terminal) are left out: the file is the report, not the notebook.
    """
    import nbformat
    from nbconvert import HTMLExporter

    templates = str(resources.files("accessmon") / "templates")
    exporter = HTMLExporter(
        template_name="report",
        extra_template_basedirs=[templates],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
        exclude_markdown=True,
    )
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["title"] = title
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")
            ]
    body, _ = exporter.from_notebook_node(nb)
    return body


def render(
    session: Session,
    name: str,
    window: Window,
    out_dir: Path,
    fmt: str = "html",
    wait_seconds: float = 600,
    progress: Callable[[int, int, QueryOutcome], None] | None = None,
) -> Rendered:
    """`accessmon report run`: state RUNNING, then SUCCESS or ERROR, under the report's lock.

    The role check and the name come first: a refused run writes nothing, anywhere."""
    check_run(session, name, window)
    key = state_name(name, window)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_dead_run_folders(out_dir)
    fields = {"engine": session.config.engine, **window.describe()}
    with report_lock(out_dir, name, wait_seconds, session, **fields):
        mark_interrupted(out_dir, name)
        here = {"host": socket.gethostname(), "pid": os.getpid()}
        write_state(out_dir, key, "RUNNING", **here)
        state = "ERROR"
        rendered: Rendered | None = None
        try:
            run = run_report(session, name, window, progress=progress, out_dir=out_dir)
            base = out_dir / run.run_id
            results = save_results(run, base.with_suffix(".json"))
            append_run(out_dir, run)  # the statuses of the next run compare with this one
            published = session.engine.publish_results(results, name)
            rendered = Rendered(
                name,
                run.state,
                results,
                published=published,
                failed=[q.name for q in run.queries if q.error],
            )
            prefix = run_folder_prefix()
            with tempfile.TemporaryDirectory(dir=out_dir, prefix=prefix) as tmp:
                executed = Path(tmp) / "report.ipynb"
                execute_notebook(_parameters(session, name, results), executed)
                if fmt in ("html", "both"):
                    rendered.html = base.with_suffix(".html")
                    atomic_write_text(export_html(executed, run.title), rendered.html)
                if fmt in ("ipynb", "both"):
                    rendered.notebook = base.with_suffix(".ipynb")
                    os.replace(executed, rendered.notebook)
            state = run.state
            return rendered
        finally:
            extra = {"results": str(rendered.results)} if rendered else {}
            if rendered and rendered.published:
                extra["published"] = rendered.published
            if rendered and rendered.html:
                extra["html"] = str(rendered.html)
            write_state(out_dir, key, state, **extra)


def _parameters(session: Session, name: str, results: Path) -> dict:
    config = session.config
    return {
        "report": name,
        "results": str(results.resolve()),
        "user": session.user,
        "engine": config.engine,
        "store": str(Path(config.store).resolve()),
        "config": str(config.source.resolve()) if config.source else None,
    }
