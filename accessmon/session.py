"""The one path every entry point takes: identity, validation, window, engine.

The CLI, the notebooks, the magic and the widget all call a Session, so a check
added here applies everywhere and calling the Python API does not bypass it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import pwd
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accessmon.access import rbac, saved
from accessmon.config import Config, load_config
from accessmon.errors import AccessmonError, BudgetExceeded, ConfigError, StoreChanged
from accessmon.result import QueryResult
from accessmon.sql.validate import CheckedQuery, check_query
from accessmon.sql.views import View, all_views
from accessmon.storage import audit
from accessmon.window import Window

if TYPE_CHECKING:
    import pandas as pd

    from accessmon.engines.base import Engine


def resolve_user(flag: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """--user, then ACCESSMON_USER, then JUPYTERHUB_USER, then the OS login (personal mode)."""
    environ = dict(os.environ) if environ is None else environ
    for candidate in (flag, environ.get("ACCESSMON_USER"), environ.get("JUPYTERHUB_USER")):
        if candidate:
            return candidate
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def os_account() -> str:
    """The OS account of this process, from the password database by uid: unlike
    getpass.getuser(), not from LOGNAME or USER, which anyone can set."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid-{os.getuid()}"


def jupyterhub_user(api_url: str, environ: Mapping[str, str] | None = None) -> str:
    """The user JupyterHub authenticated: the hub (at the administrator's URL) names the owner
    of this server's API token. JUPYTERHUB_USER alone is an environment variable, which the
    analyst can set; the token of another user they do not have."""
    environ = os.environ if environ is None else environ
    token = environ.get("JUPYTERHUB_API_TOKEN")
    where = f"identity.source is jupyterhub ({api_url})"
    if not token:
        raise ConfigError(f"{where}, but JUPYTERHUB_API_TOKEN is not set: start from JupyterHub")
    request = urllib.request.Request(
        api_url.rstrip("/") + "/user", headers={"Authorization": f"token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            name = json.loads(response.read(1_000_000)).get("name")
    except (OSError, ValueError, AttributeError) as e:
        raise ConfigError(f"{where}: the hub did not confirm who you are: {e}") from e
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: the hub's answer names no user")
    return name


def resolve_identity(config: Config, environ: Mapping[str, str] | None = None) -> str:
    """Who the analyst is. In personal mode: resolve_user. Under a system configuration:
    the OS account or JupyterHub's authenticated user, and asking to be someone else
    (--user, ACCESSMON_USER, `user:` in a file) is an error that says why."""
    source = config.identity.source or ("os" if config.system else "any")
    if source == "any":
        return resolve_user(config.user, environ)
    if source == "os":
        real, what = os_account(), "the OS account"
    else:
        real = jupyterhub_user(config.identity.jupyterhub_api_url or "", environ)
        what = "JupyterHub's authenticated user"
    if config.user and config.user != real:
        origin = config.user_source or "user"
        fixed = f"{config.system}" if config.system else f"identity.source in {config.source}"
        raise ConfigError(
            f"{origin}: user {config.user!r} is not honoured: {fixed} takes the identity "
            f"from {what}, which is {real!r}"
        )
    return real


class Session:
    """A configured analyst: runs Trino SQL over the views on the configured engine."""

    def __init__(self, config: Config | None = None, **flags: Any) -> None:
        self.config = config or load_config(flags.pop("config_file", None), flags=flags)
        self.user = resolve_identity(self.config)
        self._engine: Engine | None = None
        self._policy: rbac.Policy | None = None

    # -- roles ------------------------------------------------------------------------------

    @property
    def policy(self) -> rbac.Policy:
        if self._policy is None:
            self._policy = rbac.load_policy(self.config.rbac.resources)
        return self._policy

    def authorize(self, verb: str, resource: str) -> None:
        """The one role check every entry point goes through (use `checked` to audit it)."""
        rbac.authorize(self.policy, self.user, verb, resource)

    @contextmanager
    def checked(
        self, kind: tuple[str, str], verb: str, resource: str, **fields: Any
    ) -> Iterator[dict[str, Any]]:
        """One decision, one audit line: check `verb` on `resource`, run the body, then record
        it as allowed or as denied or failed with the error. The body may add fields to the
        dict it is given."""
        extra: dict[str, Any] = {}
        base = {"verb": verb, "resource": resource, **fields}
        try:
            self.authorize(verb, resource)
            yield extra
        except Exception as e:
            self.audit(kind, success=False, error=str(e) or type(e).__name__, **base, **extra)
            raise
        self.audit(kind, success=True, **base, **extra)

    def views(self) -> dict[str, View]:
        """The views the analyst may query (`list` on audit_query)."""
        with self.checked(audit.SCHEMA, "list", "audit_query"):
            return all_views()

    # -- saved queries ------------------------------------------------------------------------

    def saved_queries(self) -> list[saved.AuditQuery]:
        with self.checked(audit.QUERY_LIST, "list", "audit_query") as extra:
            found = saved.list_queries(Path(self.config.queries_dir))
            extra["count"] = len(found)
            return found

    def saved_query(self, name: str) -> saved.AuditQuery:
        with self.checked(audit.QUERY_GET, "read", "audit_query", name=name):
            return saved.get(Path(self.config.queries_dir), name)

    def save_query(self, name: str, sql: str, title: str = "", description: str = "") -> Path:
        directory = Path(self.config.queries_dir)
        update = saved.exists(directory, name)
        kind = audit.QUERY_UPDATE if update else audit.QUERY_CREATE
        with self.checked(kind, "update" if update else "create", "audit_query", name=name,
                          query=sql):  # fmt: skip
            return saved.save(directory, saved.AuditQuery(name, sql, title, description))

    def delete_query(self, name: str) -> None:
        with self.checked(audit.QUERY_DELETE, "delete", "audit_query", name=name):
            saved.remove(Path(self.config.queries_dir), name)

    @property
    def engine(self) -> Engine:
        """The engine below the checks: accessmon's own modules use it after their check."""
        if self._engine is None:
            from accessmon.engines import get_engine

            self._engine = get_engine(self.config, self.user)
        return self._engine

    def prepare(self, sql: str, window: Window) -> tuple[CheckedQuery, Window, str]:
        """Validate and render without running: what `--show-sql` prints (audited too)."""
        with self.checked(audit.QUERY_PREPARE, "use", "audit_query", query=sql,
                          engine=self.config.engine, **window.describe()):  # fmt: skip
            checked = check_query(sql)
            return checked, window, self.engine.render(checked, window)

    def run(self, sql: str, window: Window) -> QueryResult:
        """Run one query; every run, allowed, denied or failed, lands in the audit trail."""
        fields: dict[str, Any] = {"query": sql, "engine": self.config.engine,
                                  **window.describe()}  # fmt: skip
        try:
            self.authorize("use", "audit_query")
            result = self._execute(sql, window)
        except Exception as e:
            self.audit(audit.QUERY_RUN, success=False, error=str(e) or type(e).__name__, **fields)
            raise
        self.audit(audit.QUERY_RUN, success=True, **{**fields, **result.stats.as_dict()})
        return result

    def query_window(
        self,
        sql: str,
        days: int | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        *,
        prepare: bool = False,
    ) -> Window:
        """The analyst's --days / --from --to for `sql` as one Window, resolved where their
        input enters; an impossible window is audited as a failed run (or prepare) of `sql`,
        like any other refused query."""
        try:
            return Window.resolve(days, start, end)
        except AccessmonError as e:
            kind = audit.QUERY_PREPARE if prepare else audit.QUERY_RUN
            self.audit(kind, success=False, error=str(e), query=sql, engine=self.config.engine)
            raise

    def _execute(self, sql: str, window: Window) -> QueryResult:
        """Validate, render and run, without the role check or audit line: for accessmon's own
        modules (reports, rules), which check and audit the whole run themselves."""
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
        window: Window | None = None,
        *,
        days: int | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> pd.DataFrame:
        """Run `sql` over `window`, or over `days=N` / `start=, end=` (the last 7 days when
        none is given), and return a DataFrame."""
        if window is None:
            window = self.query_window(sql, days, start, end)
        elif not isinstance(window, Window):
            raise TypeError(f"window must be a Window, not {type(window).__name__}: "
                            "pass days=N or start=/end= by keyword")  # fmt: skip
        elif days is not None or start is not None or end is not None:
            raise AccessmonError("give either a window or days / start and end, not both")
        return self.run(sql, window).to_pandas()

    def diagnose(self) -> list[tuple[str, bool, str]]:
        """(check, ok, detail) rows for `accessmon doctor`."""
        checks: list[tuple[str, bool, str]] = [("user", True, self.user)]
        source = str(self.config.source) if self.config.source else "defaults (no accessmon.yaml)"
        checks.append(("config", True, f"{source}, engine {self.config.engine}"))
        if self.config.system:
            checks.append(("system config", True, f"{self.config.system} (roles, audit log, "
                           "identity and budget are the administrator's)"))  # fmt: skip
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
    window: Window | None = None,
    *,
    days: int | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    store: str | Path | None = None,
    engine: str | None = None,
    user: str | None = None,
    config_file: str | Path | None = None,
) -> pd.DataFrame:
    """`accessmon.query("SELECT ...", days=30)`: one query, one DataFrame."""
    with Session(store=store, engine=engine, user=user, config_file=config_file) as session:
        return session.query(sql, window, days=days, start=start, end=end)
