"""`accessmon suppress add|ls|rm`: accept a report's findings as known exceptions, for a while."""

from __future__ import annotations

import datetime as dt
import json
import re

import click

from accessmon.ui.cli.common import format_option, global_options, session_from_options

_DAYS = re.compile(r"(\d{1,5})d")


def parse_expires(text: str, now: dt.datetime) -> dt.datetime:
    """`--expires`: `30d` (from now), a date (00:00 UTC that day) or an ISO time (UTC unless
    it says otherwise)."""
    text = text.strip()
    days = _DAYS.fullmatch(text)
    if days:
        return now + dt.timedelta(days=int(days.group(1)))
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: give a number of days (30d), a date (2027-01-15) or a time "
            "(2027-01-15T12:00:00Z)",
            param_hint="--expires",
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def parse_match(pairs: tuple[str, ...]) -> dict[str, str]:
    """`--match col=pattern`, repeated; the same column twice is a mistake."""
    out: dict[str, str] = {}
    for pair in pairs:
        column, sep, pattern = pair.partition("=")
        if not sep or not column.strip():
            raise click.BadParameter(
                f"{pair!r}: write column=value or column=glob, like user=svc-*",
                param_hint="--match",
            )
        column = column.strip()
        if column in out:
            raise click.BadParameter(f"{column} is given twice", param_hint="--match")
        out[column] = pattern
    return out


@click.group()
@global_options
def suppress() -> None:
    """Suppressions: accept findings of a report as known exceptions until they expire."""


@suppress.command("add")
@click.option("--report", required=True, help="The report whose findings it suppresses.")
@click.option("--query", help="One query of the report [default: all of its queries].")
@click.option(
    "--match",
    "match",
    multiple=True,
    required=True,
    metavar="COLUMN=PATTERN",
    help="A key column and its exact value or glob (user=svc-*); repeat it: all must match.",
)
@click.option("--reason", required=True, help="Why the findings are accepted.")
@click.option(
    "--expires",
    required=True,
    metavar="30d|DATE|TIME",
    help="When it ends: days from now (30d), a date (00:00 UTC that day) or an ISO time; at "
    "most report.suppression_max_days (90 by default) ahead.",
)
@click.option("--owner", help="Who answers for it [default: you].")
@click.option("--ticket", help="An http(s) link to the ticket or review.")
@click.option("--name", help="Its name [default: derived from the query and the match].")
@click.option(
    "--force", is_flag=True, help="Replace a suppression of the same name (needs update)."
)
@global_options
def suppress_add(report, query, match, reason, expires, owner, ticket, name, force) -> None:
    """Suppress the findings of a report (or of one query) whose key matches."""
    from accessmon._io import utc_now
    from accessmon.reports.suppressions import add_suppression

    now = utc_now().replace(microsecond=0)
    pairs = parse_match(match)
    until = parse_expires(expires, now)
    session = session_from_options()
    s, path = add_suppression(session, report=report, query=query, match=pairs, reason=reason,
                              expires=until, owner=owner, ticket=ticket, name=name, force=force,
                              now=now)  # fmt: skip
    click.echo(f"saved suppression {s.name} to {path} (expires {until:%Y-%m-%d %H:%M} UTC, "
               f"in {s.days_left(now)} days)")  # fmt: skip


@suppress.command("ls")
@click.option("--report", help="Only the suppressions of this report.")
@format_option("table", "json")
@global_options
def suppress_ls(report, fmt) -> None:
    """List the suppressions, active or expired, with the days they have left."""
    from accessmon._io import utc_now
    from accessmon.reports.suppressions import list_suppressions

    now = utc_now()
    errors: list[str] = []
    found = list_suppressions(session_from_options(), report, errors)
    rows = [s.summary(now) for s in found]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=1))
    elif not rows and not errors:
        click.echo("no suppressions: add one with `accessmon suppress add --report R --match "
                   "col=value --reason TEXT --expires 30d`")  # fmt: skip
    else:
        _table(rows)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors:
        raise SystemExit(1)


def _table(rows: list[dict]) -> None:
    head = ("NAME", "REPORT", "QUERY", "MATCH", "STATUS", "DAYS LEFT", "EXPIRES", "OWNER",
            "REASON")  # fmt: skip
    cells = [
        (
            r["name"], r["report"], r["query"] or "(all)",
            " ".join(f"{k}={v}" for k, v in r["match"].items()), r["status"],
            str(r["days_left"]), r["expires"], r["owner"], r["reason"],
        )
        for r in rows
    ]  # fmt: skip
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(len(head) - 1)]
    for line in [head, *cells]:
        click.echo(
            "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)) + "  " + line[-1]
        )


@suppress.command("rm")
@click.argument("name")
@global_options
def suppress_rm(name: str) -> None:
    """Delete a suppression: its findings count as open from the next run."""
    from accessmon.reports.suppressions import remove_suppression

    remove_suppression(session_from_options(), name)
    click.echo(f"deleted suppression {name}")
