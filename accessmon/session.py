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

from . import audit, rbac, saved
from .config import Config, load_config
from .errors import AccessmonError, BudgetExceeded, StoreChanged
from .result import QueryResult
from .validate import CheckedQuery, check_query
from .views import View, all_views
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
        self._policy: rbac.Policy | None = None

    # -- roles ------------------------------------------------------------------------------

    @property
    def policy(self) -> rbac.Policy:
        if self._policy is None:
            self._policy = rbac.load_policy(self.config.rbac.resources)
        return self._policy

    def authorize(self, verb: str, resource: str) -> None:
        """The one role check every entry point goes through."""
        rbac.authorize(self.policy, self.user, verb, resource)

    def views(self) -> dict[str, View]:
        """The views the analyst may query (`list` on audit_query)."""
        self.authorize("list", "audit_query")
        return all_views()

    # -- saved queries ------------------------------------------------------------------------

    def saved_queries(self) -> list[saved.AuditQuery]:
        self.authorize("list", "audit_query")
        return saved.list_queries(Path(self.config.queries_dir))

    def saved_query(self, name: str) -> saved.AuditQuery:
        self.authorize("read", "audit_query")
        return saved.get(Path(self.config.queries_dir), name)

    def save_query(self, name: str, sql: str, title: str = "", description: str = "") -> Path:
        directory = Path(self.config.queries_dir)
        self.authorize("update" if saved.exists(directory, name) else "create", "audit_query")
        return saved.save(directory, saved.AuditQuery(name, sql, title, description))

    def delete_query(self, name: str) -> None:
        self.authorize("delete", "audit_query")
        saved.remove(Path(self.config.queries_dir), name)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from .engines import get_engine

            self._engine = get_engine(self.config, self.user)
        return self._engine

    def prepare(
        self,
        sql: str,
        days: int | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> tuple[CheckedQuery, Window, str]:
        """Validate and render without running: what `--show-sql` prints."""
        self.authorize("use", "audit_query")
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
        """Run one query; every run, allowed, denied or failed, lands in the audit trail."""
        window = Window.resolve(days, start, end)
        fields = {"query": sql, "engine": self.config.engine, **window.describe()}
        try:
            self.authorize("use", "audit_query")
            result = self.execute(sql, window)
        except AccessmonError as e:
            self.audit(audit.QUERY_RUN, success=False, error=str(e), **fields)
            raise
        self.audit(audit.QUERY_RUN, success=True, **{**fields, **result.stats.as_dict()})
        return result

    def execute(self, sql: str, window: Window) -> QueryResult:
        """Validate, render and run, without the role check or audit line that callers add."""
        self.check_budget()
        checked = check_query(sql)
        try:
            return self.engine.execute(self.engine.render(checked, window), checked)
        except StoreChanged:  # planned again over the files there now
            return self.engine.execute(self.engine.render(checked, window), checked)

    def audit(self, kind: tuple[str, str], *, success: bool, **fields: Any) -> None:
        audit.append(
            Path(self.config.audit_log),
            audit.event(kind, user=self.user, success=success, **fields),
        )

    def check_budget(self) -> None:
        """Teleport's data_limit: a daily budget of bytes scanned per analyst on Athena."""
        limit = self.config.athena.data_limit
        if self.config.engine != "athena" or limit is None:
            return
        now = dt.datetime.now(dt.UTC)
        used = audit.bytes_scanned_on(Path(self.config.audit_log), self.user, now.date())
        if used >= limit:
            refill = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
            hours, rest = divmod(int((refill - now).total_seconds()), 3600)
            raise BudgetExceeded(
                f"{self.user} has used the daily Athena budget (athena.data_limit = {limit} bytes; "
                f"{used} scanned today); it refills at {refill:%Y-%m-%d %H:%M} UTC, "
                f"in {hours}h{rest // 60:02d}m"
            )

    def query(
        self,
        sql: str,
        days: int | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> pd.DataFrame:
        """Run `sql` over the window and return a DataFrame."""
        return self.run(sql, days, start, end).to_pandas()

    def diagnose(self) -> list[tuple[str, bool, str]]:
        """(check, ok, detail) rows for `accessmon doctor`."""
        checks: list[tuple[str, bool, str]] = [("user", True, self.user)]
        source = str(self.config.source) if self.config.source else "defaults (no accessmon.yaml)"
        checks.append(("config", True, f"{source}, engine {self.config.engine}"))
        return checks + self.engine.diagnose()

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
