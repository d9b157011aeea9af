"""`accessmon alert ls|run`: Teleport access monitoring rules and detection rules, from cron."""

from __future__ import annotations

import click

from accessmon.ui.cli.common import (
    global_options,
    session_from_options,
    window_from_options,
    window_options,
)


@click.group("alert")
@global_options
def alert() -> None:
    """Automated response: access monitoring rules and SQL detection rules."""


@alert.command("ls")
@global_options
def alert_ls() -> None:
    """List the rules: built-in, and those in rules_dir."""
    from accessmon.alerts import list_rules

    ruleset = list_rules(session_from_options())
    if not ruleset.rules and not ruleset.errors:
        click.echo("no rules: add kind: detection_rule or access_monitoring_rule YAML to rules_dir")
    for rule in ruleset.rules.values():
        state = "" if rule.enabled else "  [disabled]"
        where = "built-in" if rule.builtin else rule.source
        click.echo(
            f"{rule.name:<40} {rule.kind:<23} {rule.severity:<8} "
            f"{rule.default_days}d  {', '.join(rule.action_names())}  ({where}){state}"
        )
    for rule in ruleset.rules.values():
        for warning in rule.warnings:
            click.echo(f"warning: {warning}", err=True)
    for error in ruleset.errors:
        click.echo(f"error: {error}", err=True)
    if ruleset.errors:
        raise SystemExit(1)


@alert.command("run")
@click.argument("name", required=False)
@click.option("--all", "run_all", is_flag=True, help="Run every enabled rule.")
@window_options(days_default="each rule's window")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show what would fire; write, send and apply nothing, and keep no cooldown state.",
)
@global_options
def alert_run(name, run_all, days, start, end, dry_run) -> None:
    """Run one rule, or --all, over its window (or --days / --from --to)."""
    from accessmon.alerts import RuleRun, run_rules

    if bool(name) == run_all:
        raise click.UsageError("give a rule NAME or --all")
    window = window_from_options(days, start, end, default=False)

    def show(run: RuleRun) -> None:
        w = run.window
        head = (
            f"{run.rule}: {len(run.alerts)} alert{'s' * (len(run.alerts) != 1)}"
            f" ({run.suppressed} within cooldown) over {w.start} to {w.end}"
        )
        click.echo(head + ("  [dry run]" if run.dry_run else ""))
        for a in run.alerts:
            click.echo(f"  ALERT {a.severity:<8} {a.rule} {a.label} value={a.value}")
            for result in run.actions:
                if result.key == a.key:
                    click.echo(f"    {result.line()}")
        for result in run.actions:
            if result.key is None:
                click.echo(f"  {result.line()}")
        if run.error:
            click.echo(f"error: {run.rule}: {run.error}", err=True)
        for result in run.actions:
            if not result.ok:
                click.echo(f"error: {run.rule}: {result.action}: {result.detail}", err=True)

    with session_from_options() as session:
        runs, errors = run_rules(session, name, window, dry_run=dry_run, progress=show)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors or not all(r.ok for r in runs):
        raise SystemExit(1)
