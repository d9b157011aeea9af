"""`accessmon report ls|run|get|state|diff`: security reports, run headless and read back."""

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


@report.command("diff")
@click.argument("name")
@click.option(
    "--since",
    metavar="RUN",
    help="Compare with this earlier run: a run id, or a unique prefix or stamp of one "
    "[default: the run before the latest].",
)
@window_options()
@format_option("table", "json")
@global_options
def report_diff(name: str, since: str | None, days, start, end, fmt: str) -> None:
    """Print what changed since an earlier run: new, persisting and resolved findings.

    The latest run of NAME (with --days N: over an N-day window; with --from/--to: over
    exactly those dates) against the run before it in its history, or against --since RUN.
    --format json prints {"format", "report", "title", "run", "state", "window",
    "compared_with", "results", "totals", "queries": [{"name", "title", "key_columns",
    "key_declared", "compared_with", "error", "notes", "counts", "findings": [{"status",
    "key", "measure", "first_seen", "last_seen", "age_days", "suppression",
    "suppression_expired"}]}]}, findings new first.
    """
    import json

    from accessmon.reports.definitions import get_definition
    from accessmon.reports.diff import NoRuns, diff_document, load_diff

    session = session_from_options()
    fields = {"name": name, "since": since}
    with session.checked(audit.REPORT_DIFF, "read", "security_report", **fields) as extra:
        window = window_from_options(days, start, end, default=False)
        try:
            run, path = load_diff(Path(session.config.output_dir), name, window, since)
        except NoRuns:
            get_definition(Path(session.config.reports_dir), name)  # a typo: "did you mean"
            raise
        extra.update(results=str(path), run=run.run_id, compared_with=run.previous_run)
    doc = diff_document(run, path)
    if fmt == "json":
        click.echo(json.dumps(doc, indent=1))
        return
    for line in diff_lines(doc):
        click.echo(line)


def diff_lines(doc: dict) -> list[str]:
    """The terminal form of a diff: per query its counts, then its findings, new first."""
    window = doc["window"]
    against = (f"compared with {doc['compared_with']}" if doc["compared_with"]
               else "first run of this window length: every finding is new")  # fmt: skip
    t = doc["totals"]
    lines = [
        f"{doc['title']}: {doc['run']} ({window['start']} to {window['end']}, {doc['state']})",
        f"  {against}",
        f"  new {t['new']}, persisting {t['persisting']}, resolved {t['resolved']}"
        + (f", suppressed {t['suppressed']}" if t["suppressed"] else ""),
    ]
    for q in doc["queries"]:
        lines.append("")
        if q["error"]:
            lines.append(f"{q['title']} ({q['name']}): error: {q['error']}")
            continue
        c = q["counts"]
        lines.append(f"{q['title']} ({q['name']}): new {c['new']}, persisting "
                     f"{c['persisting']}, resolved {c['resolved']}"
                     + (f", suppressed {c['suppressed']}" if c["suppressed"] else ""))  # fmt: skip
        lines.extend(f"  note: {note}" for note in q["notes"])
        for f in q["findings"]:
            key = ", ".join(f"{k}={v}" for k, v in f["key"].items()) or "(no key)"
            detail = f"measure {f['measure']}"
            if f["status"] == "persisting" and f["age_days"] is not None:
                detail += f", age {f['age_days']} d (since {f['first_seen']})"
            if f["suppression"]:
                detail += f", suppressed by {f['suppression']}"
            if f["suppression_expired"]:
                detail += f", suppression expired: {f['suppression_expired']}"
            lines.append(f"  {f['status']:<11} {key:<40} {detail}")
    return lines
