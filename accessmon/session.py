"""The one path every entry point takes: identity, validation, window, engine.

The CLI, the notebooks, the magic and the widget all call a Session, so a check
added here applies everywhere and calling the Python API does not bypass it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config, load_config
from .result import QueryResult
from .validate import CheckedQuery, check_query
from .window import Window

if TYPE_CHECKING:
    import pandas as pd

    from .engines import Engine


def resolve_user(flag: str | None = None, environ: dict[str, str] | None = None) -> str:
    """--user, then ACCESSMON_USER, then JUPYTERHUB_USER, then the OS login."""
    environ = dict(os.environ) if environ is None else environ
    for candidate in (flag, environ.get("ACCESSMON_USER"), environ.get("JUPYTERHUB_USER")):
        if candidate:
            return candidate
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Session:
    """A configured analyst: runs Trino SQL over the views on the configured engine."""

    def __init__(self, config: Config | None = None, **flags: Any) -> None:
        self.config = config or load_config(flags.pop("config_file", None), flags=flags)
        self.user = resolve_user(self.config.user)
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from .engines import get_engine

            self._engine = get_engine(self.config)
        return self._engine

    def prepare(
        self,
        sql: str,
        days: int | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> tuple[CheckedQuery, Window, str]:
        """Validate and render without running: what `--show-sql` prints."""
        window = Window.resolve(days, start, end)
        checked = check_query(sql)
        return checked, window, self.engine.render(checked, window)

    def run(
        self,
        sql: str,
        days: int | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> QueryResult:
        checked, _window, rendered = self.prepare(sql, days, start, end)
        return self.engine.execute(rendered, checked)

    def query(
        self,
        sql: str,
        days: int | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> pd.DataFrame:
        """Run `sql` over the window and return a DataFrame."""
        return self.run(sql, days, start, end).to_pandas()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def query(
    sql: str,
    days: int | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    *,
    store: str | Path | None = None,
    engine: str | None = None,
    user: str | None = None,
    config_file: str | Path | None = None,
) -> pd.DataFrame:
    """`accessmon.query("SELECT ...", days=30)`: one query, one DataFrame."""
    with Session(store=store, engine=engine, user=user, config_file=config_file) as session:
        return session.query(sql, days, start, end)
