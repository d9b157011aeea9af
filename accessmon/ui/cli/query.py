"""`accessmon query exec|create|get|ls|rm`: Trino SQL over the audit views, and saved queries."""

from __future__ import annotations

import json
import sys

import click

from accessmon.ui.cli.common import (
    format_option,
    global_options,
    session_from_options,
    window_options,
)


@click.group()
@global_options
def query() -> None:
    """Run Trino SQL over the audit views, like `tctl audit query`."""


@query.command("exec")
@click.argument("sql", required=False)
@click.option("--name", help="Run the saved query of this name.")
@window_options()
@format_option("json", "csv", "table")
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

    session = session_from_options()
    if name:
        if sql:
            raise click.UsageError("give either SQL or --name, not both")
        sql = session.saved_query(name).query
    elif not sql:
        if sys.stdin is None or sys.stdin.isatty():
            raise click.UsageError("give the SQL as an argument or on stdin")
        sql = sys.stdin.read()
    with session:
        window = session.query_window(sql, days, start, end, prepare=show_sql)
        if show_sql:
            click.echo(session.prepare(sql, window)[2])
            return
        result = session.run(sql, window)
    if fmt == "json":
        click.echo(output.to_tctl_json(result.table))
    elif fmt == "csv":
        click.echo(output.to_csv(result.table, guard=csv_guard), nl=False)
    else:
        from rich.console import Console

        Console().print(output.to_table(result.table))
    if stats:
        click.echo(json.dumps({"rows": len(result), **result.stats.shown()}), err=True)


@query.command("create")
@click.argument("sql")
@click.option("--name", required=True, help="Name of the saved query.")
@click.option("--title", default="", help="A title for lists and reports.")
@click.option("--description", default="", help="What the query finds.")
@global_options
def query_create(sql: str, name: str, title: str, description: str) -> None:
    """Save a query as an audit_query resource (validated against the views)."""
    path = session_from_options().save_query(name, sql, title, description)
    click.echo(f"saved query {name} to {path}")


@query.command("get")
@click.argument("name")
@global_options
def query_get(name: str) -> None:
    """Print a saved query as its audit_query resource YAML."""
    import yaml

    resource = session_from_options().saved_query(name).to_resource()
    click.echo(yaml.safe_dump(resource, sort_keys=False), nl=False)


@query.command("ls")
@global_options
def query_ls() -> None:
    """List the saved queries."""
    queries = session_from_options().saved_queries()
    if not queries:
        click.echo("no saved queries: create one with `accessmon query create --name N 'SQL'`")
    for q in queries:
        click.echo(f"{q.name:<32} {q.title}")


@query.command("rm")
@click.argument("name")
@global_options
def query_rm(name: str) -> None:
    """Delete a saved query."""
    session_from_options().delete_query(name)
    click.echo(f"deleted query {name}")
