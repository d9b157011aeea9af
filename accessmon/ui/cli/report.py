"""`accessmon report ls|run|get|state`: security reports, run headless and read back."""

from __future__ import annotations

from pathlib import Path

import click

from accessmon.errors import AccessmonError
from accessmon.storage import audit
from accessmon.ui.cli.common import (
    format_option,
    global_options,
    session_from_options,
    window_from_options,
    window_options,
)


@click.group()
@global_options
def report() -> None:
    """Security reports: list, run headless to HTML, read results and state."""


@report.command("ls")
@global_options
def report_ls() -> None:
    """List the built-in and custom reports."""
    from accessmon.reports.definitions import load_definitions

    session = session_from_options()
    with session.checked(audit.REPORT_LIST, "list", "security_report") as extra:
        found, errors = load_definitions(Path(session.config.reports_dir))
        extra.update(count=len(found), errors=len(errors) or None)
    for definition in found.values():
        where = "built-in" if definition.source.startswith("built-in") else definition.source
        click.echo(
            f"{definition.name:<32} {len(definition.queries)} queries  {definition.title}  ({where})"
        )
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors:
        raise SystemExit(1)


@report.command("run")
@click.argument("name", required=False)
@click.option("--all", "run_all", is_flag=True, help="Run every report.")
@window_options()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder [default: ./reports, or output_dir].",
)
@format_option("html", "ipynb", "both")
@click.option(
    "--wait",
    type=float,
    default=600,
    show_default=True,
    help="Seconds to wait for another run of the same report.",
)
@click.option(
    "--notify",
    is_flag=True,
    help="Post a summary to report.webhook_url (or alerts.webhook_url) when the HTML is written.",
)
@global_options
def report_run(name, run_all, days, start, end, out_dir, fmt, wait, notify) -> None:
    """Run a report headless: the notebook with papermill, then one self-contained HTML."""
    from accessmon.reports import notify as notifier
    from accessmon.reports.definitions import load_definitions
    from accessmon.reports.notebook import render

    if bool(name) == run_all:
        raise click.UsageError("give a report NAME or --all")
    session = session_from_options()
    window = window_from_options(days, start, end)
    if notify:
        notifier.webhook_url(session.config)  # no webhook: an error before anything runs
    out = out_dir or Path(session.config.output_dir)
    names = [name] if name else list(load_definitions(Path(session.config.reports_dir))[0])
    failed = False

    def progress(i: int, n: int, q) -> None:
        detail = f"error: {q.error}" if q.error else f"{q.findings} findings"
        click.echo(f"[{i}/{n}] {q.name}: {detail}", err=True)

    for report_name in names:
        click.echo(f"running {report_name} over {window.start} to {window.end}", err=True)
        rendered = render(session, report_name, window, out, fmt, wait, progress)
        for path in (rendered.html, rendered.notebook):
            if path:
                click.echo(str(path))
        if notify:
            delivered, line = notifier.notify_rendered(session, rendered)
            click.echo(line, err=True)
            failed = failed or not delivered
        if rendered.state == "ERROR":
            click.echo(f"error: {report_name} finished with state ERROR "
                       f"(failed: {', '.join(rendered.failed)})", err=True)  # fmt: skip
            failed = True
    if failed:
        raise SystemExit(1)


@report.command("get")
@click.argument("name")
@format_option("table", "json")
@global_options
def report_get(name: str, fmt: str) -> None:
    """Print the latest results of a report."""
    from accessmon.reports.results import latest_results, read_results

    session = session_from_options()
    with session.checked(audit.REPORT_GET, "read", "security_report", name=name) as extra:
        path = latest_results(Path(session.config.output_dir), name)
        if path is None:
            raise AccessmonError(f"no results for {name} yet: run `accessmon report run {name}`")
        extra["results"] = str(path)
        run = read_results(path)
    if fmt == "json":
        click.echo(path.read_text())
        return
    click.echo(f"{run.title}: {run.window['start']} to {run.window['end']}, state {run.state}, "
               f"generated {run.generated_at} by {run.user} ({path})")  # fmt: skip
    for q in run.queries:
        change = "" if q.change is None else f" ({q.change:+d} vs previous window)"
        status = f"error: {q.error}" if q.error else f"{q.findings} findings{change}"
        click.echo(f"  {q.title:<44} {status}")


@report.command("state")
@click.argument("name")
@global_options
def report_state(name: str) -> None:
    """Print the state of a report's runs: RUNNING, SUCCESS or ERROR, with updated_at."""
    from accessmon.reports.state import read_states

    session = session_from_options()
    with session.checked(audit.REPORT_STATE, "read", "security_report", name=name):
        states = read_states(Path(session.config.output_dir), name)
        if not states:
            raise AccessmonError(f"{name} has not run yet")
    for doc in states:
        why = f" ({doc['error']})" if doc.get("error") else ""
        click.echo(f"{doc['name']:<48} {doc['state']:<8} {doc['updated_at']}{why}")
