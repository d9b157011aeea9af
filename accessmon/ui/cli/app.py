"""The `accessmon` command, shaped like `tctl audit` so Teleport users feel at home."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from accessmon.errors import AccessmonError
from accessmon.storage import audit
from accessmon.ui.cli.alert import alert
from accessmon.ui.cli.common import _config, _session, global_options, window_options


class _Group(click.Group):
    """Turns AccessmonError into one line on stderr: analysts never see a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AccessmonError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:
            if os.environ.get("ACCESSMON_DEBUG"):
                raise
            click.echo(
                f"internal error: {type(e).__name__}: {e} (set ACCESSMON_DEBUG=1 for a traceback)",
                err=True,
            )
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(package_name="accessmon")
def main() -> None:
    """accessmon: SQL views, role checks and reports over Teleport audit logs."""
    _log_to_stderr()


def _log_to_stderr() -> None:
    """Notices and warnings (e.g. single-user mode) as plain lines on stderr."""
    import logging

    log = logging.getLogger("accessmon")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.propagate = False


# -- store ---------------------------------------------------------------------------------


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@global_options
def ingest(paths: tuple[Path, ...]) -> None:
    """Read Teleport audit logs (JSON lines, .gz, JSON arrays, folders) into the store."""
    from accessmon.storage.ingest import ingest as run_ingest

    summary = run_ingest(paths, _config().store)
    click.echo(summary.as_text())


@main.command()
@click.option("--events", type=click.IntRange(min=1), default=200_000, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=90, show_default=True)
@click.option("--users", type=click.IntRange(min=1), default=40, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--end-date", type=click.DateTime(["%Y-%m-%d"]), help="Last day [default: today].")
@global_options
def demo(events: int, days: int, users: int, seed: int, end_date) -> None:
    """Write a synthetic but realistic Teleport audit log into the store."""
    import time

    from accessmon.demo.events import write_demo
    from accessmon.storage.cache import build

    store = _config().store
    started = time.perf_counter()
    added, dups = write_demo(
        store,
        events=events,
        days=days,
        users=users,
        seed=seed,
        end_date=end_date.date() if end_date else None,
    )
    cached, _ = build(Path(store))
    click.echo(
        f"demo: {added} events added to {store} ({dups} already there), {cached} files cached, "
        f"in {time.perf_counter() - started:.1f}s"
    )


@main.group("cache")
@global_options
def cache_group() -> None:
    """The columnar view cache: queries read it where fresh and parse JSON elsewhere."""


@cache_group.command("build")
@global_options
def cache_build() -> None:
    """Cache every file not yet cached, or changed since (after an `aws s3 sync`, say)."""
    from accessmon.storage.cache import build

    store = Path(_config().store)
    files, events = build(store)
    click.echo(f"cached {files} files ({events} events) in {store}")


@cache_group.command("status")
@global_options
def cache_status() -> None:
    """How many source files queries read from the cache, and how many from JSON."""
    from accessmon.storage.cache import status

    info = status(Path(_config().store))
    click.echo(
        f"{info['cached']} of {info['files']} files cached, {info['not_cached']} read from JSON"
        + (f", {info['stale_batches']} stale batches" if info["stale_batches"] else "")
    )


@cache_group.command("clear")
@global_options
def cache_clear() -> None:
    """Drop the cache; queries parse the JSON until `accessmon cache build`."""
    from accessmon.storage.cache import clear

    clear(Path(_config().store))
    click.echo("cache cleared")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@global_options
def summary(fmt: str) -> None:
    """What the store holds: days, files, events per type."""
    from accessmon.storage.store import summarize

    info = summarize(Path(_config().store))
    if fmt == "json":
        click.echo(json.dumps(info, indent=2))
        return
    if not info["events"]:
        click.echo(f"store {info['store']} is empty: run `accessmon demo` or `accessmon ingest`")
        return
    click.echo(
        f"store {info['store']}: {info['events']} events in {info['files']} files, "
        f"{info['days']} days from {info['first_day']} to {info['last_day']}"
    )
    for event_type, count in info["event_types"].items():
        click.echo(f"  {count:>9}  {event_type}")


# -- views and queries ----------------------------------------------------------------------


@main.command()
@click.argument("view", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@global_options
def schema(view: str | None, fmt: str) -> None:
    """List the views, or one view's columns and types."""
    from accessmon.sql.views import get_view

    allowed = _session().views()
    views = [get_view(view)] if view else list(allowed.values())
    if fmt == "json":
        doc = [
            {
                "name": v.name,
                "event_type": v.event_type,
                "columns": [
                    {"name": c.name, "type": c.type, "path": c.json_path} for c in v.columns
                ],
            }
            for v in views
        ]
        click.echo(json.dumps(doc[0] if view else doc, indent=2))
        return
    if view:
        v = views[0]
        click.echo(f"{v.name}  (event {v.event_type}, codes {v.codes})")
        width = max(len(c.name) for c in v.columns)
        for c in v.columns:
            click.echo(f"  {c.name:<{width}}  {c.type}")
        return
    for v in views:
        click.echo(f"{v.name:<32} {v.event_type:<32} {len(v.columns)} columns")


@main.group()
@global_options
def query() -> None:
    """Run Trino SQL over the audit views, like `tctl audit query`."""


@query.command("exec")
@click.argument("sql", required=False)
@click.option("--name", help="Run the saved query of this name.")
@window_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "table"]),
    default="json",
    show_default=True,
)
@click.option("--show-sql", is_flag=True, help="Print the SQL the engine would run, and stop.")
@click.option("--stats", is_flag=True, help="Print engine statistics on stderr.")
@click.option(
    "--csv-guard/--no-csv-guard",
    default=True,
    show_default=True,
    help="With --format csv, prefix text cells that start with = + - @ (a spreadsheet "
    "formula) with a single quote.",
)
@global_options
def query_exec(sql, name, days, start, end, fmt, show_sql, stats, csv_guard) -> None:
    """Run SQL (an argument, or stdin) and print the rows; JSON as tctl prints it."""
    from accessmon.ui import output

    session = _session()
    if name:
        if sql:
            raise click.UsageError("give either SQL or --name, not both")
        sql = session.saved_query(name).query
    elif not sql:
        if sys.stdin is None or sys.stdin.isatty():
            raise click.UsageError("give the SQL as an argument or on stdin")
        sql = sys.stdin.read()
    with session:
        if show_sql:
            click.echo(session.prepare(sql, days, start, end)[2])
            return
        result = session.run(sql, days, start, end)
    if fmt == "json":
        click.echo(output.to_tctl_json(result.table))
    elif fmt == "csv":
        click.echo(output.to_csv(result.table, guard=csv_guard), nl=False)
    else:
        from rich.console import Console

        Console().print(output.to_table(result.table))
    if stats:
        click.echo(json.dumps({"rows": len(result), **result.stats.as_dict()}), err=True)


@query.command("create")
@click.argument("sql")
@click.option("--name", required=True, help="Name of the saved query.")
@click.option("--title", default="", help="A title for lists and reports.")
@click.option("--description", default="", help="What the query finds.")
@global_options
def query_create(sql: str, name: str, title: str, description: str) -> None:
    """Save a query as an audit_query resource (validated against the views)."""
    path = _session().save_query(name, sql, title, description)
    click.echo(f"saved query {name} to {path}")


@query.command("get")
@click.argument("name")
@global_options
def query_get(name: str) -> None:
    """Print a saved query as its audit_query resource YAML."""
    import yaml

    click.echo(
        yaml.safe_dump(_session().saved_query(name).to_resource(), sort_keys=False), nl=False
    )


@query.command("ls")
@global_options
def query_ls() -> None:
    """List the saved queries."""
    queries = _session().saved_queries()
    if not queries:
        click.echo("no saved queries: create one with `accessmon query create --name N 'SQL'`")
    for q in queries:
        click.echo(f"{q.name:<32} {q.title}")


@query.command("rm")
@click.argument("name")
@global_options
def query_rm(name: str) -> None:
    """Delete a saved query."""
    _session().delete_query(name)
    click.echo(f"deleted query {name}")


@main.group()
@global_options
def report() -> None:
    """Security reports: list, run headless to HTML, read results and state."""


@report.command("ls")
@global_options
def report_ls() -> None:
    """List the built-in and custom reports."""
    from accessmon.reports.definitions import load_definitions

    session = _session()
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
@window_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder [default: ./reports, or output_dir].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "ipynb", "both"]),
    default="html",
    show_default=True,
)
@click.option(
    "--wait",
    type=float,
    default=600,
    show_default=True,
    help="Seconds to wait for another run of the same report.",
)
@global_options
def report_run(name, run_all, days, start, end, out_dir, fmt, wait) -> None:
    """Run a report headless: the notebook with papermill, then one self-contained HTML."""
    from accessmon.reports.definitions import load_definitions
    from accessmon.reports.notebook import render
    from accessmon.window import Window

    if bool(name) == run_all:
        raise click.UsageError("give a report NAME or --all")
    session = _session()
    window = Window.resolve(days, start, end)
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
        if rendered.state == "ERROR":
            click.echo(f"error: {report_name} finished with state ERROR "
                       f"(failed: {', '.join(rendered.failed)})", err=True)  # fmt: skip
            failed = True
    if failed:
        raise SystemExit(1)


@report.command("get")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@global_options
def report_get(name: str, fmt: str) -> None:
    """Print the latest results of a report."""
    from accessmon.reports.results import latest_results, read_results

    session = _session()
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

    session = _session()
    with session.checked(audit.REPORT_STATE, "read", "security_report", name=name):
        states = read_states(Path(session.config.output_dir), name)
        if not states:
            raise AccessmonError(f"{name} has not run yet")
    for doc in states:
        why = f" ({doc['error']})" if doc.get("error") else ""
        click.echo(f"{doc['name']:<48} {doc['state']:<8} {doc['updated_at']}{why}")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@global_options
def whoami(fmt: str) -> None:
    """Who accessmon thinks you are, your roles, and what they allow."""
    from accessmon.access.rbac import allowed_verbs

    session = _session()
    verbs = allowed_verbs(session.policy, session.user)
    roles = list(session.policy.roles_of(session.user))
    if fmt == "json":
        click.echo(json.dumps({"user": session.user, "roles": roles, "allowed": verbs}))
        return
    mode = "" if session.policy.configured else " (single-user mode: no rbac.resources)"
    if session.config.system:
        mode += f" (system configuration {session.config.system})"
    click.echo(f"user: {session.user}{mode}\nroles: {', '.join(roles) or 'none'}")
    for resource, allowed in verbs.items():
        click.echo(f"  {resource:<24} {', '.join(allowed) or '-'}")


@main.command()
@global_options
def doctor() -> None:
    """Check the configuration: the store, or Athena's credentials, table and workgroup."""
    from accessmon.session import Session

    session = Session(_config())
    checks = session.diagnose()
    for name, ok, detail in checks:
        click.echo(f"{'ok' if ok else 'FAIL':>4}  {name:<14} {detail}")
    if not all(ok for _, ok, _ in checks):
        raise SystemExit(1)


main.add_command(alert)  # always: cli_alerts does not import this module back

if __name__ == "__main__":  # pragma: no cover
    main()
