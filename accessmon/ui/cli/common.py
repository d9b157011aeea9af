"""What every command module shares: the global options, the window options, and the Session
they build.

Each command module imports this one and never another command module, so the order in which
they are imported cannot drop a command group; `app` alone gathers them under the root group.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from accessmon.config import ENGINE_NAMES

if TYPE_CHECKING:
    from accessmon.config import Config
    from accessmon.session import Session
    from accessmon.window import Window

_GLOBAL_OPTIONS = [
    click.option(
        "--store",
        type=click.Path(file_okay=False, path_type=Path),
        help="Audit store directory [default: ACCESSMON_STORE, or data/audit in the project].",
    ),
    click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Config file [default: ACCESSMON_CONFIG, or the nearest accessmon.yaml from here up].",
    ),
    click.option(
        "--teleport-config",
        "teleport_config",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Teleport's teleport.yaml: Athena settings from its audit_events_uri and "
        "auth_service.access_monitoring (the config file wins where both say something).",
    ),
    click.option(
        "--user", help="Analyst identity [default: ACCESSMON_USER, JUPYTERHUB_USER, login]."
    ),
    click.option(
        "--engine",
        type=click.Choice(ENGINE_NAMES),
        help="Query engine [default: duckdb, or ACCESSMON_ENGINE]..",
    ),
]
_GLOBAL_KEYS = ("store", "config_file", "teleport_config", "user", "engine")


def global_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Accept the global options after a subcommand too; the later one wins."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        obj = click.get_current_context().ensure_object(dict)
        for key in _GLOBAL_KEYS:
            value = kwargs.pop(key, None)
            if value is not None:
                obj[key] = value
        return f(*args, **kwargs)

    for option in reversed(_GLOBAL_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def format_option(*choices: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--format`, the first choice the default: one spelling for every command."""
    return click.option(
        "--format", "fmt", type=click.Choice(list(choices)), default=choices[0], show_default=True
    )


def window_options(
    days_default: str = "7",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--days / --from / --to, as `days, start, end` for `window_from_options`; `days_default`
    is what the help promises when none is given (alert rules fall back to their own window,
    not to 7 days)."""

    options = [
        click.option(
            "--days",
            type=click.IntRange(min=1),
            help=f"Last N days, today included [default: {days_default}].",
        ),
        click.option("--from", "start", metavar="YYYY-MM-DD", help="First day of the window."),
        click.option("--to", "end", metavar="YYYY-MM-DD", help="Last day of the window."),
    ]

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def window_from_options(
    days: int | None, start: str | None, end: str | None, *, default: bool = True
) -> Window | None:
    """The one Window of a command's --days / --from / --to, resolved before anything runs;
    with none given, the last 7 days, or None when `default` is False (each alert rule then
    reads its own window). A bad combination raises the error that names the flags."""
    from accessmon.window import Window

    if not default and days is None and start is None and end is None:
        return None
    return Window.resolve(days, start, end)


def config_from_options() -> Config:
    """The configuration: the config file, then the environment, then the global options."""
    from accessmon.config import load_config

    obj = click.get_current_context().ensure_object(dict)
    flags = {k: obj.get(k) for k in ("store", "engine", "user")}
    return load_config(
        obj.get("config_file"), flags=flags, teleport_config=obj.get("teleport_config")
    )


def session_from_options() -> Session:
    """A Session on `config_from_options()`: every command's role checks and audit trail."""
    from accessmon.session import Session

    return Session(config_from_options())
