"""`accessmon ingest|demo|cache|summary`: what goes into the store, and what it holds."""

from __future__ import annotations

import json
from pathlib import Path

import click

from accessmon.ui.cli.common import config_from_options, format_option, global_options


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@global_options
def ingest(paths: tuple[Path, ...]) -> None:
    """Read Teleport audit logs (JSON lines, .gz, JSON arrays, folders) into the store."""
    from accessmon.storage.ingest import ingest as run_ingest

    summary = run_ingest(paths, config_from_options().store)
    click.echo(summary.as_text())


@click.command()
@click.option("--events", type=click.IntRange(min=1), default=200_000, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=90, show_default=True)
@click.option("--users", type=click.IntRange(min=1), default=40, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--end-date",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Last day [default: today]. No event is later than now.",
)
@global_options
def demo(events: int, days: int, users: int, seed: int, end_date) -> None:
    """Write a synthetic but realistic Teleport audit log into the store."""
    import time

    from accessmon.demo import write_demo
    from accessmon.storage.cache import build

    store = config_from_options().store
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


@click.group("cache")
@global_options
def cache_group() -> None:
    """The columnar view cache: queries read it where fresh and parse JSON elsewhere."""


@cache_group.command("build")
@global_options
def cache_build() -> None:
    """Cache every file not yet cached, or changed since (after an `aws s3 sync`, say)."""
    from accessmon.storage.cache import build

    store = Path(config_from_options().store)
    files, events = build(store)
    click.echo(f"cached {files} files ({events} events) in {store}")


@cache_group.command("status")
@global_options
def cache_status() -> None:
    """How many source files queries read from the cache, and how many from JSON."""
    from accessmon.storage.cache import status

    info = status(Path(config_from_options().store))
    click.echo(
        f"{info['cached']} of {info['files']} files cached, {info['not_cached']} read from JSON"
        + (f", {info['stale_batches']} stale batches" if info["stale_batches"] else "")
    )


@cache_group.command("clear")
@global_options
def cache_clear() -> None:
    """Drop the cache; queries parse the JSON until `accessmon cache build`."""
    from accessmon.storage.cache import clear

    clear(Path(config_from_options().store))
    click.echo("cache cleared")


@click.command()
@format_option("table", "json")
@global_options
def summary(fmt: str) -> None:
    """What the store holds: days, files, events per type."""
    from accessmon.config import fill_store_hint
    from accessmon.storage.store import summarize

    config = config_from_options()
    info = summarize(Path(config.store))
    if fmt == "json":
        click.echo(json.dumps(info, indent=2))
        return
    if not info["events"]:
        where = Path(config.store).absolute()
        click.echo(
            f"store {where} is empty (store {config.store_source}): {fill_store_hint(config)}"
        )
        return
    click.echo(
        f"store {info['store']}: {info['events']} events in {info['files']} files, "
        f"{info['days']} days from {info['first_day']} to {info['last_day']}"
    )
    for event_type, count in info["event_types"].items():
        click.echo(f"  {count:>9}  {event_type}")
