"""Configuration has one home: this frozen model, built from file, then environment, then flags."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from accessmon.errors import ConfigError
from accessmon.resources import load_document_node, validation_error, where

log = logging.getLogger("accessmon")

DEFAULT_CONFIG = Path("accessmon.yaml")
#: The administrator's configuration. Where it exists, its roles, audit log, identity source
#: and Athena budget hold for every user of the machine: see the README's "Trust model".
SYSTEM_CONFIG = Path("/etc/accessmon/accessmon.yaml")
#: Names another system configuration (for tests and packagers), and is honoured only where
#: SYSTEM_CONFIG does not exist: there, a user is in personal mode and could write any
#: config anyway, so it gives nothing away; where an administrator installed SYSTEM_CONFIG,
#: nothing a user sets can move or hide it.
SYSTEM_CONFIG_ENV = "ACCESSMON_SYSTEM_CONFIG"
#: What only the system configuration says, when there is one ...
LOCKED_KEYS = ("rbac", "audit_log", "identity")
#: ... and the settings inside a section that only it says: the Athena budget, how long an
#: analyst may accept a finding as a known exception, and the Trino an analyst reaches and as
#: whom (another `trino.user`, catalog or server would be another principal's access, or
#: another table than the one the roles were written for). The secret itself is not a key:
#: each analyst gives theirs in ACCESSMON_TRINO_PASSWORD / ACCESSMON_TRINO_JWT.
LOCKED_NESTED = (
    ("athena", "data_limit"),
    ("report", "suppression_max_days"),
    *(("trino", key) for key in ("host", "port", "http_scheme", "user", "catalog", "schema",
                                 "table", "auth", "verify", "allow_insecure_auth")),
)  # fmt: skip

#: The engines `engine:`, --engine and the magic's --engine take (accessmon.engines.ENGINES).
EngineName = Literal["duckdb", "athena", "trino"]
ENGINE_NAMES: tuple[str, ...] = get_args(EngineName)

#: Environment variable -> config key. Later sources win: file < environment < flags.
ENV_KEYS = {
    "ACCESSMON_STORE": "store",
    "ACCESSMON_ENGINE": "engine",
    "ACCESSMON_USER": "user",
    "ACCESSMON_AUDIT_LOG": "audit_log",
    "ACCESSMON_OUTPUT_DIR": "output_dir",
}


#: Timeouts longer than a day are mistakes (and a thread cannot wait "forever": .inf fails).
_MAX_TIMEOUT = 86400.0
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)", re.IGNORECASE)
_MEMORY_UNITS = {
    "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip
_MIN_MEMORY = 32e6


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AthenaConfig(_Section):
    database: str | None = None
    table: str | None = None
    workgroup: str | None = None
    region: str | None = None
    query_results: str | None = None
    report_results: str | None = None
    role_arn: str | None = None
    role_tags: dict[str, str] | None = None
    external_id: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    data_limit: int | None = Field(default=None, ge=0, description="bytes scanned per user per day")
    timeout_seconds: float = Field(default=1800.0, gt=0, le=_MAX_TIMEOUT, allow_inf_nan=False)
    poll_interval: float = Field(default=1.0, gt=0, le=_MAX_TIMEOUT, allow_inf_nan=False)
    max_retries: int = Field(default=5, ge=0)


#: Where the Trino engine reads secrets that the file leaves out (so the file holds none).
TRINO_PASSWORD_ENV = "ACCESSMON_TRINO_PASSWORD"
TRINO_JWT_ENV = "ACCESSMON_TRINO_JWT"


class TrinoAuthConfig(_Section):
    """`{type: password, user, password}` or `{type: jwt, token}`; a secret left out is read
    from ACCESSMON_TRINO_PASSWORD / ACCESSMON_TRINO_JWT when the engine connects. Secrets are
    SecretStr: they never show in a repr, a dump, `doctor` or an error message."""

    type: Literal["password", "jwt"]
    user: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None

    @model_validator(mode="after")
    def _fields_of_type(self) -> TrinoAuthConfig:
        if self.type == "password" and self.token is not None:
            raise ValueError("type password takes user and password, not token")
        if self.type == "jwt" and (self.user is not None or self.password is not None):
            raise ValueError("type jwt takes token, not user or password")
        return self


class TrinoConfig(_Section):
    """Teleport's audit table on a Trino (or Starburst) of one's own."""

    host: str | None = None
    port: int = Field(default=8080, ge=1, le=65535)
    http_scheme: Literal["http", "https"] = "http"
    #: Trino's user; by default the analyst's name, so Trino's query list shows who ran it
    user: str | None = None
    catalog: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    table: str | None = None
    #: TLS terminated below HTTP (a service mesh): let the client send credentials over http
    allow_insecure_auth: bool = False
    auth: TrinoAuthConfig | None = None
    #: a CA bundle for https, or false to skip verification (test servers only)
    verify: bool | str = True
    timeout_seconds: float = Field(default=1800.0, gt=0, le=_MAX_TIMEOUT, allow_inf_nan=False)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("auth")
    @classmethod
    def _auth_over_tls(cls, auth: TrinoAuthConfig | None, info: ValidationInfo):
        """Checked here, after http_scheme and allow_insecure_auth, so the error names auth."""
        insecure = info.data.get("http_scheme") == "http"
        if auth is not None and insecure and not info.data.get("allow_insecure_auth"):
            raise ValueError(
                f"type {auth.type} needs http_scheme: https (Trino takes passwords and "
                "tokens only over TLS), or allow_insecure_auth: true where TLS ends below HTTP"
            )
        return auth


class RbacConfig(_Section):
    resources: list[Path] = Field(default_factory=list)


class DuckDBConfig(_Section):
    memory_limit: str = "2GB"
    threads: int = Field(default=2, ge=1, le=1024)
    timeout_seconds: float = Field(default=300.0, gt=0, le=_MAX_TIMEOUT, allow_inf_nan=False)
    cache: bool = True

    @field_validator("memory_limit")
    @classmethod
    def _memory_size(cls, value: str) -> str:
        """A size DuckDB reads the same way, checked here so a typo names its key and line
        instead of failing later as DuckDB's ParserException; no "unlimited" (-1)."""
        m = _MEMORY.fullmatch(value.strip())
        if not m:
            raise PydanticCustomError(
                "memory_size",
                "'{value}' is not a memory size: give a number and a unit, like 2GB or 512MiB",
                {"value": value},
            )
        size = float(m.group(1)) * _MEMORY_UNITS[m.group(2).lower()]
        if size < _MIN_MEMORY:
            raise PydanticCustomError(
                "memory_size",
                "'{value}' is too small: DuckDB needs at least 32MB",
                {"value": value},
            )
        return value.strip()


class AlertsConfig(_Section):
    """Automated response: where alerts go and whether actions really run."""

    apply: bool = False
    alert_log: Path = Path("data/alerts.jsonl")
    state_file: Path = Path("data/alert-state.json")
    webhook_url: str | None = None
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_retries: int = Field(default=3, ge=0)
    tctl: str = "tctl"


class ReportConfig(_Section):
    """Reports as worklists: drill-down depth, freshness, suppressions, the run summary's hook."""

    #: the underlying events kept per finding in the results and the HTML
    events_per_finding: int = Field(default=50, ge=0)
    #: the newest event older than this (hours before the run) marks the report stale
    max_lag_hours: float = Field(default=24.0, gt=0)
    #: the longest a suppression may last (expires - created)
    suppression_max_days: int = Field(default=90, ge=1)
    #: where `report run --notify` posts its summary (Slack-compatible); unset: alerts.webhook_url
    webhook_url: str | None = None


class IdentityConfig(_Section):
    """Where the analyst's name comes from: `any` (--user, ACCESSMON_USER, JUPYTERHUB_USER,
    the login), `os` (this process's OS account), or `jupyterhub` (the user the hub at
    jupyterhub_api_url confirms for this server's API token). Unset: `os` under a system
    configuration, `any` otherwise."""

    source: Literal["any", "os", "jupyterhub"] | None = None
    jupyterhub_api_url: str | None = None

    @model_validator(mode="after")
    def _hub_url(self) -> IdentityConfig:
        if self.source == "jupyterhub" and not self.jupyterhub_api_url:
            raise ValueError(
                "source jupyterhub needs jupyterhub_api_url (e.g. http://127.0.0.1:8081/hub/api)"
            )
        return self


class Config(_Section):
    """Everything accessmon can be told. Paths in a file are relative to that file."""

    store: Path = Path("data/audit")
    engine: EngineName = "duckdb"
    user: str | None = None
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    athena: AthenaConfig = Field(default_factory=AthenaConfig)
    duckdb: DuckDBConfig = Field(default_factory=DuckDBConfig)
    trino: TrinoConfig = Field(default_factory=TrinoConfig)
    rbac: RbacConfig = Field(default_factory=RbacConfig)
    audit_log: Path = Path("data/accessmon-audit.jsonl")
    queries_dir: Path = Path("queries")
    reports_dir: Path = Path("reports/definitions")
    rules_dir: Path = Path("rules")
    output_dir: Path = Path("reports")
    exports_dir: Path = Path("exports")
    suppressions_dir: Path = Path("suppressions")
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    source: Path | None = Field(default=None, exclude=True)
    #: the system configuration in force, if any, and where a requested `user` came from
    system: Path | None = Field(default=None, exclude=True)
    user_source: str | None = Field(default=None, exclude=True)
    #: where `store` came from, for the message of a missing store ("from ACCESSMON_STORE")
    store_source: str | None = Field(default=None, exclude=True)


_PATH_KEYS = (
    "store", "audit_log", "queries_dir", "reports_dir", "rules_dir", "output_dir", "exports_dir",
    "suppressions_dir",
)  # fmt: skip
_ALERT_PATH_KEYS = ("alert_log", "state_file")


def find_config(start: str | Path | None = None) -> Path | None:
    """`accessmon.yaml` in `start` (the working directory) or its nearest parent, as ruff,
    pytest and git find theirs: a kernel started in `notebooks/` finds the project's file."""
    folder = Path.cwd() if start is None else Path(start).absolute()
    for candidate in (folder, *folder.parents):
        path = candidate / DEFAULT_CONFIG
        if path.is_file():
            return path
    return None


def _project_defaults(data: dict[str, Any], root: Path) -> dict[str, Any]:
    """The default paths that `data` leaves unset, under the project root (the folder of the
    config file), so every folder of the project shares one store, audit trail and exports."""
    out = dict(data)
    for key in _PATH_KEYS:
        if key not in out:
            out[key] = str(root / Config.model_fields[key].default)
    alerts = out.get("alerts", {})
    if isinstance(alerts, Mapping):
        defaults = AlertsConfig.model_fields
        out["alerts"] = {
            **{k: str(root / defaults[k].default) for k in _ALERT_PATH_KEYS},
            **alerts,
        }
    return out


def _read_file(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from e
    data, node = load_document_node(text, path)
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return data, node


def _rebase(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Resolve relative paths given in a file against the file's folder."""
    out = dict(data)
    for key in _PATH_KEYS:
        if isinstance(out.get(key), str) and not Path(out[key]).is_absolute():
            out[key] = str(base / out[key])
    alerts = out.get("alerts")
    if isinstance(alerts, dict):
        out["alerts"] = {
            k: str(base / v)
            if k in _ALERT_PATH_KEYS and isinstance(v, str) and not Path(v).is_absolute()
            else v
            for k, v in alerts.items()
        }
    rbac = out.get("rbac")
    if isinstance(rbac, dict) and isinstance(rbac.get("resources"), list):
        rbac = dict(rbac)
        rbac["resources"] = [
            str(base / r) if isinstance(r, str) and not Path(r).is_absolute() else r
            for r in rbac["resources"]
        ]
        out["rbac"] = rbac
    return out


def from_teleport(path: str | Path) -> dict[str, Any]:
    """Settings derived from Teleport's own teleport.yaml: the Athena audit backend's URI and
    `auth_service.access_monitoring`, which wins where both say something."""
    path = Path(path)
    raw, _ = _read_file(path)
    auth = raw.get("auth_service") or {}
    uris = auth.get("audit_events_uri") or []
    uris = [uris] if isinstance(uris, str) else list(uris)
    athena_uri = next((u for u in uris if str(u).startswith("athena://")), None)
    monitoring = auth.get("access_monitoring") or {}
    if athena_uri is None and not monitoring:
        raise ConfigError(
            f"{path}: no athena:// entry in auth_service.audit_events_uri and no "
            "auth_service.access_monitoring section"
        )
    athena: dict[str, Any] = {}
    if athena_uri:
        parsed = urlsplit(athena_uri)
        database, _, table = parsed.netloc.partition(".")
        params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        athena.update(
            database=database or None,
            table=table or None,
            workgroup=params.get("workgroup"),
            query_results=params.get("queryResultsS3"),
            region=params.get("region"),
        )
    for key in ("role_arn", "role_tags", "report_results", "workgroup", "data_limit",
                "database", "table", "query_results"):  # fmt: skip
        if monitoring.get(key) is not None:
            athena[key] = monitoring[key]
    return {"engine": "athena", "athena": {k: v for k, v in athena.items() if v is not None}}


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def system_config_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """SYSTEM_CONFIG where it exists (even unreadable: then loading fails, it never falls
    back to personal mode); else ACCESSMON_SYSTEM_CONFIG if set; else None."""
    environ = os.environ if environ is None else environ
    try:
        SYSTEM_CONFIG.stat()
        return SYSTEM_CONFIG
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError:
        return SYSTEM_CONFIG
    override = environ.get(SYSTEM_CONFIG_ENV)
    return Path(override) if override else None


def _check_admin_owned(path: Path, what: str, owner: bool = True) -> None:
    """A file that the analyst (or anyone but its owner) can change is no administrator's.
    `owner=False` for ACCESSMON_SYSTEM_CONFIG: honoured only where no administrator installed
    one, it is the analyst's own file by design."""
    try:
        st = path.stat()
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}") from e
    if st.st_mode & 0o022:
        raise ConfigError(
            f"{what} {path} is writable by group or others (mode {st.st_mode & 0o777:o}): "
            f"an administrator must own it alone (chmod go-w {path})"
        )
    if owner and st.st_uid != 0 and st.st_uid == os.geteuid():
        raise ConfigError(
            f"{what} {path} is owned by you (uid {st.st_uid}), so it binds no one: "
            f"an administrator must own it (chown root {path})"
        )


def _validate(
    data: dict[str, Any], path: Path | None, node: yaml.Node | None, **extra: Any
) -> Config:
    source = path or "settings"
    for key in extra:  # set by the loader only, never by a file
        if key in data:
            raise ConfigError(f"{where(source, node, (key,))}: {key}: unknown field")
    try:
        return Config(**data, **extra)
    except ValidationError as e:
        raise validation_error(e, source, node, Config) from None


def _load_system(path: Path) -> dict[str, Any]:
    """The system configuration's settings, checked: owned by an administrator, valid."""
    owner = path == SYSTEM_CONFIG
    _check_admin_owned(path, "system configuration", owner)
    raw, node = _read_file(path)
    data = _rebase(raw, path.parent)
    config = _validate(data, path, node, source=path)
    for resource in config.rbac.resources:
        if resource.exists():
            _check_admin_owned(resource, f"rbac resource file of {path}", owner)
    return data


def _lock(system: Path, sys_data: dict[str, Any], data: dict[str, Any], origins: dict) -> None:
    """Put back what only the system configuration may say; name what was ignored."""
    for key in LOCKED_KEYS:
        if key in data and data[key] != sys_data.get(key):
            log.warning("notice: %s from %s is ignored: %s sets it for this machine",
                        key, origins.get(key, "your settings"), system)  # fmt: skip
        data.pop(key, None)
        if key in sys_data:
            data[key] = sys_data[key]
    for section, key in LOCKED_NESTED:
        if not isinstance(data.get(section) or {}, Mapping):
            continue  # not a mapping: validation names it
        mine = dict(data.get(section) or {})
        theirs = (sys_data.get(section) or {}).get(key)
        if mine.get(key, theirs) != theirs:
            log.warning("notice: %s.%s from your settings is ignored: %s sets it",
                        section, key, system)  # fmt: skip
        mine.pop(key, None)
        if theirs is not None:
            mine[key] = theirs
        if mine or section in data:
            data[section] = mine


def load_config(
    config_file: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    teleport_config: str | Path | None = None,
    start: str | Path | None = None,
) -> Config:
    """Build the Config: teleport.yaml (if given), then the file (explicit, ACCESSMON_CONFIG or
    the nearest accessmon.yaml from `start`, by default the working directory, up), then the
    environment, then flags; later ones win. The file's folder is the project root: its
    relative paths and the default ones are under it. Relative paths from the environment or
    flags stay relative to the working directory, as users expect of those."""
    environ = os.environ if environ is None else environ
    system = system_config_path(environ)
    sys_data = _load_system(system) if system is not None else {}
    path = config_path(config_file, environ, start)
    data: dict[str, Any] = from_teleport(teleport_config) if teleport_config else {}
    origins: dict[str, str] = dict.fromkeys(data, f"--teleport-config {teleport_config}")
    node = None
    raw: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        raw, node = _read_file(path)
        data = _merge(data, _rebase(raw, path.parent))
        origins.update(dict.fromkeys(raw, str(path)))
    for var, key in ENV_KEYS.items():
        if environ.get(var):
            data[key] = environ[var]
            origins[key] = var
    for key, value in (flags or {}).items():
        if value is not None:
            data[key] = value
            origins[key] = (
                f"--{key}" if key in ("store", "engine", "user") else f"the {key} argument"
            )
    if system is not None:
        _lock(system, sys_data, data, origins)
        data = _merge(sys_data, data)
        origins.update((k, str(system)) for k in sys_data if k not in origins)
    if path is not None:
        # under a system configuration, the locked keys' defaults stay as they always were
        keep = {k: data[k] for k in LOCKED_KEYS if k in data} if system is not None else {}
        data = _project_defaults(data, path.absolute().parent)
        if system is not None:
            data = {k: v for k, v in data.items() if k not in LOCKED_KEYS} | keep
    user_source = origins.get("user") or (str(system) if sys_data.get("user") else None)
    return _validate(data, path, node, source=path, system=system, user_source=user_source,
                     store_source=_store_source(origins.get("store"), path, start))  # fmt: skip


def config_path(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    start: str | Path | None = None,
) -> Path | None:
    """The config file in force: explicit, else ACCESSMON_CONFIG, else the nearest
    accessmon.yaml from `start` (the working directory) up; None when there is none."""
    environ = os.environ if environ is None else environ
    if config_file:
        return Path(config_file)
    if environ.get("ACCESSMON_CONFIG"):
        return Path(environ["ACCESSMON_CONFIG"])
    return find_config(start)


def _store_source(origin: str | None, path: Path | None, start: str | Path | None) -> str:
    """Where `store` came from, as a phrase: "from ACCESSMON_STORE", "the default ..."."""
    if origin:
        return f"from {origin}"
    if path is not None:
        return f"the default under the project root of {path.absolute()}"
    return f"the default: no accessmon.yaml found from {Path(start or '.').absolute()} upwards"


def fill_store_hint(config: Config) -> str:
    """The exact commands that fill the configured store, for the message of a missing one:
    plain `accessmon demo` in the project root where that finds the same store."""
    where = Path(config.store).absolute()
    source = config.source.absolute() if config.source else None
    from_flag = config.store_source in ("from ACCESSMON_STORE", "from --store")
    if source and not from_flag and find_config(source.parent) == source:
        return f"run `accessmon demo` (or `accessmon ingest LOG...`) in {source.parent}"
    return f"run `accessmon --store {where} demo` (or `accessmon --store {where} ingest LOG...`)"
