"""Configuration has one home: this frozen model, built from file, then environment, then flags."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from .errors import ConfigError

DEFAULT_CONFIG = Path("accessmon.yaml")

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


class Config(_Section):
    """Everything accessmon can be told. Paths in a file are relative to that file."""

    store: Path = Path("data/audit")
    engine: Literal["duckdb", "athena"] = "duckdb"
    user: str | None = None
    athena: AthenaConfig = Field(default_factory=AthenaConfig)
    duckdb: DuckDBConfig = Field(default_factory=DuckDBConfig)
    rbac: RbacConfig = Field(default_factory=RbacConfig)
    audit_log: Path = Path("data/accessmon-audit.jsonl")
    queries_dir: Path = Path("queries")
    reports_dir: Path = Path("reports/definitions")
    rules_dir: Path = Path("rules")
    output_dir: Path = Path("reports")
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    source: Path | None = Field(default=None, exclude=True)


_PATH_KEYS = ("store", "audit_log", "queries_dir", "reports_dir", "rules_dir", "output_dir")


def node_line(node: yaml.Node | None, loc: tuple[Any, ...] | list[Any]) -> int | None:
    """The 1-based line of a key path in a composed YAML document, for error messages; for a
    missing key, the line of the mapping that lacks it."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(key):
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """node_line for YAML text holding one document."""
    try:
        return node_line(yaml.compose(text), loc)
    except yaml.YAMLError:
        return None


def _read_file(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from e
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(e, 'problem', e)}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return data, text


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
            if k in ("alert_log", "state_file") and isinstance(v, str) and not Path(v).is_absolute()
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


def load_config(
    config_file: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    teleport_config: str | Path | None = None,
) -> Config:
    """Build the Config: teleport.yaml (if given), then the file (explicit, ACCESSMON_CONFIG or
    ./accessmon.yaml), then the environment, then flags; later ones win."""
    environ = os.environ if environ is None else environ
    path: Path | None = None
    if config_file:
        path = Path(config_file)
    elif environ.get("ACCESSMON_CONFIG"):
        path = Path(environ["ACCESSMON_CONFIG"])
    elif DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    data: dict[str, Any] = from_teleport(teleport_config) if teleport_config else {}
    text = ""
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        raw, text = _read_file(path)
        data = _merge(data, _rebase(raw, path.parent))
    for var, key in ENV_KEYS.items():
        if environ.get(var):
            data[key] = environ[var]
    for key, value in (flags or {}).items():
        if value is not None:
            data[key] = value
    try:
        return Config(**data, source=path)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        where = str(path) if path else "settings"
        line = line_of(text, loc) if text else None
        if line:
            where += f":{line}"
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"{where}: unknown key '{key}'") from None
        raise ConfigError(f"{where}: {key}: {err['msg']}") from None
