"""`accessmon schema|whoami|doctor`: what the views are, who you are, whether the setup works."""

from __future__ import annotations

import json

import click

from accessmon.ui.cli.common import format_option, global_options, session_from_options


@click.command()
@click.argument("view", required=False)
@format_option("table", "json")
@global_options
def schema(view: str | None, fmt: str) -> None:
    """List the views, or one view's columns and types."""
    from accessmon.sql.raw_event import RAW_COLUMN, RAW_NOTE
    from accessmon.sql.views import WIDENED, get_view

    allowed = session_from_options().views()
    views = [get_view(view)] if view else list(allowed.values())
    if fmt == "json":
        doc = [
            {
                "name": v.name,
                "event_type": v.event_type,
                "codes": v.codes,
                "description": v.description,
                "columns": [
                    {"name": c.name, "type": c.type, "path": c.json_path}
                    | (
                        {"teleport_type": WIDENED[v.name, c.name][0]}
                        if (v.name, c.name) in WIDENED
                        else {}
                    )
                    for c in v.columns
                ],
                "hidden_columns": [{"name": RAW_COLUMN, "type": "varchar", "note": RAW_NOTE}],
            }
            for v in views
        ]
        click.echo(json.dumps(doc[0] if view else doc, indent=2))
        return
    if view:
        v = views[0]
        click.echo(f"{v.name}  (event {v.event_type}, codes {v.codes})")
        click.echo(f"  {v.description}")
        width = max(len(c.name) for c in v.columns)
        for c in v.columns:
            widened = WIDENED.get((v.name, c.name))
            note = f"  (widened: {widened[0]} in Teleport; {widened[1]})" if widened else ""
            click.echo(f"  {c.name:<{width}}  {c.type}{note}")
        click.echo(f"  {RAW_COLUMN:<{width}}  varchar  (hidden: {RAW_NOTE})")
        return
    for v in views:
        click.echo(f"{v.name:<32} {v.event_type:<32} {len(v.columns)} columns")
    click.echo(f"every view also has the hidden column {RAW_COLUMN}: {RAW_NOTE}")
    widened = [f"{name}.{column}" for name, column in WIDENED if name in allowed]
    if widened:
        click.echo(
            f"widened to bigint (real values overflow Teleport's integer): {', '.join(widened)}"
        )


@click.command()
@format_option("table", "json")
@global_options
def whoami(fmt: str) -> None:
    """Who accessmon thinks you are, your roles, and what they allow."""
    from accessmon.access.rbac import allowed_verbs

    session = session_from_options()
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


@click.command()
@global_options
def doctor() -> None:
    """Check the configuration: the store; Athena's credentials, table and workgroup; or
    Trino's server, catalog, schema, table and columns."""
    checks = session_from_options().diagnose()
    for name, ok, detail in checks:
        click.echo(f"{'ok' if ok else 'FAIL':>4}  {name:<14} {detail}")
    if not all(ok for _, ok, _ in checks):
        raise SystemExit(1)
