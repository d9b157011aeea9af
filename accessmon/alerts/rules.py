"""Automated response: Teleport's access monitoring rules and SQL detection rules.

Two kinds of rule, one runner. `kind: access_monitoring_rule` (Teleport's resource, as
`tctl get access_monitoring_rules` prints it) is evaluated over the `access_request.create`
events of a window with Teleport's predicate language; `kind: detection_rule` (ours) runs
any audit query and alerts on rows or on a threshold per key. Both end in the actions of
`accessmon.alerts.actions`. Alerts are de-duplicated per rule and key within a cooldown, in a
state file that concurrent runs share safely (a lock, then an atomic write).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import operator
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from accessmon.alerts import actions
from accessmon.alerts.predicate import (
    DICT,
    SET,
    STRING,
    Predicate,
    PredicateError,
    compile_predicate,
)
from accessmon.errors import AccessmonError, ConfigError
from accessmon.names import did_you_mean
from accessmon.resources import load_documents, node_line
from accessmon.sql.validate import check_query
from accessmon.storage import audit
from accessmon.storage.locks import exclusive
from accessmon.storage.store import atomic_write_text
from accessmon.window import Window

if TYPE_CHECKING:
    from accessmon.config import Config
    from accessmon.session import Session

SEVERITIES = ("low", "medium", "high", "critical")
KINDS = ("access_monitoring_rule", "detection_rule")
#: Teleport rules look at the last two days by default, so a request made just before
#: midnight is still seen by the first run after it; request ids de-duplicate the overlap.
TELEPORT_WINDOW_DAYS = 2
#: A request is notified and reviewed once: its id stays in the state this long.
REQUEST_MEMORY = dt.timedelta(days=365)
TELEPORT_SEVERITY = "medium"
#: Rows kept per alert in the alert log and the webhook payload.
MAX_ROWS = 100
WEBHOOK_ROWS = 20
STATE_LOCK_WAIT_SECONDS = 30.0

#: The fields a Teleport condition may use, with their types. Teleport's names where the
#: audit event carries them; `reason`, `resource_ids` and `request_id` are accessmon's.
TELEPORT_FIELDS: dict[str, str] = {
    "access_request.spec.roles": SET,
    "access_request.spec.user": STRING,
    "access_request.spec.reason": STRING,
    "access_request.spec.request_reason": STRING,
    "access_request.spec.resource_ids": SET,
    "access_request.spec.request_id": STRING,
    "access_request.spec.state": STRING,
    "user.traits": DICT,
}
#: The columns of access_request_create that the conditions read.
REQUESTS_SQL = (
    "SELECT id, user, roles, reason, resource_ids, state, event_time "
    "FROM access_request_create ORDER BY event_time, id"
)
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$"
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def parse_duration(text: str) -> dt.timedelta:
    """`30m`, `24h`, `7d`, `1h30m`, `0s`: the cooldown and lock TTL format."""
    match = _DURATION.match(str(text).strip())
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like 30m, 24h, 7d or 1h30m")
    d, h, m, s = (int(g or 0) for g in match.groups())
    return dt.timedelta(days=d, hours=h, minutes=m, seconds=s)


# -- models: Teleport's access_monitoring_rule -------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Metadata(_Model):
    name: str = Field(pattern=_NAME)
    description: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    expires: str | None = None
    revision: str | None = None
    namespace: str | None = None


class Notification(_Model):
    name: str = Field(description="Teleport's plugin name: slack, email, webhook, ...")
    recipients: list[str] = Field(default_factory=list)


class AutomaticReview(_Model):
    integration: str = "builtin"
    decision: Literal["APPROVED", "DENIED"]


class MonitoringSpec(_Model):
    subjects: list[str] = Field(min_length=1)
    condition: str = Field(min_length=1)
    states: list[str] = Field(default_factory=list)
    desired_state: str | None = None
    notification: Notification | None = None
    automatic_review: AutomaticReview | None = None
    schedules: dict[str, Any] | None = None

    @field_validator("subjects")
    @classmethod
    def _access_requests(cls, value: list[str]) -> list[str]:
        if "access_request" not in value:
            raise ValueError(
                "accessmon evaluates access_request subjects only (the audit log's "
                "access_request.create events)"
            )
        return value


class AccessMonitoringRule(_Model):
    """Teleport's resource, field for field."""

    kind: Literal["access_monitoring_rule"]
    version: Literal["v1"]
    sub_kind: str | None = None
    metadata: Metadata
    spec: MonitoringSpec


# -- models: detection_rule -------------------------------------------------------------------


def _list_of_str(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class QueryRef(_Model):
    """Inline SQL, a saved audit_query by name, or one query of a security report."""

    sql: str | None = None
    saved: str | None = None
    report: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _one(self) -> QueryRef:
        given = [k for k in ("sql", "saved", "report") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of sql, saved (an audit_query name) or report + name"
            )
        if self.report and not self.name:
            raise ValueError("report needs name: the report query's name")
        if self.name and not self.report:
            raise ValueError("name goes with report")
        return self


class Threshold(_Model):
    column: str
    op: Literal[">", ">=", "<", "<=", "==", "!="] = ">"
    value: float
    per: list[str] = Field(default_factory=list)

    @field_validator("per", mode="before")
    @classmethod
    def _per(cls, value: Any) -> Any:
        return _list_of_str(value)


class AnyRow(_Model):
    key: list[str] = Field(default_factory=list)

    @field_validator("key", mode="before")
    @classmethod
    def _key(cls, value: Any) -> Any:
        return _list_of_str(value)


class Condition(_Model):
    any_row: AnyRow | None = None
    threshold: Threshold | None = None

    @model_validator(mode="before")
    @classmethod
    def _shortcut(cls, value: Any) -> Any:
        if value == "any_row":
            return {"any_row": {}}
        if isinstance(value, dict) and "any_row" in value and value["any_row"] is None:
            return {**value, "any_row": {}}
        return value

    @model_validator(mode="after")
    def _one(self) -> Condition:
        if (self.any_row is None) == (self.threshold is None):
            raise ValueError("give exactly one of any_row or threshold")
        return self


class AlertLogAction(_Model):
    pass


class WebhookAction(_Model):
    url: str | None = Field(default=None, pattern=r"^https?://")
    recipients: list[str] = Field(default_factory=list)


class LockAction(_Model):
    target: Literal["user", "login"] = "user"
    column: str | None = Field(default=None, description="column holding the value [target]")
    message: str | None = None
    ttl: str = "24h"

    @field_validator("ttl")
    @classmethod
    def _ttl(cls, value: str) -> str:
        if parse_duration(value) <= dt.timedelta(0):
            raise ValueError("ttl must be longer than zero")
        return value


class Action(_Model):
    alert_log: AlertLogAction | None = None
    webhook: WebhookAction | None = None
    teleport_lock: LockAction | None = None

    @model_validator(mode="before")
    @classmethod
    def _shortcut(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {value: {}}
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _one(self) -> Action:
        if sum(x is not None for x in (self.alert_log, self.webhook, self.teleport_lock)) != 1:
            raise ValueError("each action is exactly one of alert_log, webhook, teleport_lock")
        return self

    @property
    def name(self) -> str:
        return next(k for k in ("alert_log", "webhook", "teleport_lock") if getattr(self, k))


class DetectionRule(_Model):
    """Ours: an audit query, a condition over its rows, a cooldown, and actions."""

    kind: Literal["detection_rule"]
    name: str = Field(pattern=_NAME)
    description: str = ""
    severity: Literal["low", "medium", "high", "critical"]
    query: QueryRef
    window: int = Field(default=1, ge=1, description="days, today included")
    condition: Condition
    cooldown: str = "24h"
    actions: list[Action] = Field(default_factory=lambda: [Action(alert_log=AlertLogAction())])
    enabled: bool = True

    @field_validator("query", mode="before")
    @classmethod
    def _inline(cls, value: Any) -> Any:
        return {"sql": value} if isinstance(value, str) else value

    @field_validator("window", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if isinstance(value, str) and re.fullmatch(r"\d+d", value.strip()):
            return int(value.strip()[:-1])
        if isinstance(value, str):
            raise ValueError(f"{value!r} is not a window like 1d or 7d (whole days)")
        return value

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, value: str) -> str:
        parse_duration(value)
        return value


_ALL_FIELDS = {
    name
    for model in (
        AccessMonitoringRule,
        Metadata,
        Notification,
        AutomaticReview,
        MonitoringSpec,
        DetectionRule,
        QueryRef,
        Threshold,
        AnyRow,
        Condition,
        WebhookAction,
        LockAction,
        Action,
    )
    for name in model.model_fields
}


# -- loaded rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One loaded, validated rule of either kind, with where it came from."""

    name: str
    kind: str
    severity: str
    description: str
    source: str
    resource: AccessMonitoringRule | DetectionRule
    predicate: Predicate | None = None
    sql: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def builtin(self) -> bool:
        return self.source.startswith("built-in")

    @property
    def enabled(self) -> bool:
        return not isinstance(self.resource, DetectionRule) or self.resource.enabled

    @property
    def default_days(self) -> int:
        if isinstance(self.resource, DetectionRule):
            return self.resource.window
        return TELEPORT_WINDOW_DAYS

    @property
    def cooldown(self) -> dt.timedelta:
        if isinstance(self.resource, DetectionRule):
            return parse_duration(self.resource.cooldown)
        return REQUEST_MEMORY

    def action_names(self) -> list[str]:
        if isinstance(self.resource, DetectionRule):
            return [a.name for a in self.resource.actions]
        spec = self.resource.spec
        names = ["alert_log"]
        if spec.notification:
            names.append(f"webhook ({spec.notification.name})")
        if spec.automatic_review:
            names.append(f"tctl_review ({spec.automatic_review.decision})")
        return names


@dataclass
class RuleSet:
    """The rules that loaded, and one `file:line: field: message` per one that did not."""

    rules: dict[str, Rule] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def get(self, name: str) -> Rule:
        if name in self.rules:
            return self.rules[name]
        for error in self.errors:
            if re.search(rf"\b{re.escape(name)}\b", error):
                raise ConfigError(error)
        raise AccessmonError(f"no rule {name}{did_you_mean(name, self.rules)}")


def _where(source: str, node: yaml.Node | None, loc: Sequence[Any]) -> str:
    line = node_line(node, loc)
    return f"{source}:{line}" if line else source


def _validation_error(
    e: ValidationError, source: str, node: yaml.Node | None, name: Any = None
) -> ConfigError:
    # An unknown field first: a typo also makes the real field look missing.
    err = sorted(e.errors(), key=lambda x: x["type"] != "extra_forbidden")[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
    path = ".".join(str(p) for p in loc) or "document"
    where = _where(source, node, loc)
    rule = f"rule {name}: " if isinstance(name, str) and name else ""
    if err["type"] == "extra_forbidden":
        last = str(loc[-1]) if loc else ""
        hint = did_you_mean(last, _ALL_FIELDS)
        return ConfigError(f"{where}: {path}: {rule}unknown field{hint}")
    message = err["msg"].removeprefix("Value error, ")
    return ConfigError(f"{where}: {path}: {rule}{message}")


@dataclass
class _Context:
    """What rule loading needs besides the text: reports and saved queries, read once."""

    config: Config | None
    users_configured: bool = False
    _reports: dict[str, Any] | None = None

    def report_query(self, report: str, name: str) -> str:
        from accessmon.reports.definitions import load_definitions

        if self._reports is None:
            reports_dir = Path(self.config.reports_dir) if self.config else Path(os.devnull)
            self._reports = load_definitions(reports_dir)[0]
        if report not in self._reports:
            raise AccessmonError(f"no report {report}{did_you_mean(report, self._reports)}")
        queries = {q.name: q for q in self._reports[report].queries}
        if name not in queries:
            raise AccessmonError(
                f"report {report} has no query {name}{did_you_mean(name, queries)}"
            )
        return queries[name].query

    def saved_query(self, name: str) -> str:
        from accessmon.access import saved

        if self.config is None:
            raise AccessmonError(f"saved query {name}: no configuration to find queries_dir in")
        return saved.get(Path(self.config.queries_dir), name).query


def _parse_document(
    doc: dict[str, Any], node: yaml.Node | None, source: str, ctx: _Context
) -> Rule:
    kind = doc.get("kind")
    if kind not in KINDS:
        where = _where(source, node, ("kind",))
        raise ConfigError(
            f"{where}: kind: expected access_monitoring_rule or detection_rule, not {kind!r}"
        )
    if kind == "access_monitoring_rule":
        try:
            resource: Any = AccessMonitoringRule.model_validate(doc)
        except ValidationError as e:
            name = (
                (doc.get("metadata") or {}).get("name")
                if isinstance(doc.get("metadata"), dict)
                else None
            )
            raise _validation_error(e, source, node, name) from None
        return _teleport_rule(resource, node, source, ctx)
    try:
        resource = DetectionRule.model_validate(doc)
    except ValidationError as e:
        raise _validation_error(e, source, node, doc.get("name")) from None
    return _detection_rule(resource, node, source, ctx)


def _teleport_rule(
    resource: AccessMonitoringRule, node: yaml.Node | None, source: str, ctx: _Context
) -> Rule:
    name, spec = resource.metadata.name, resource.spec
    try:
        predicate = compile_predicate(spec.condition, TELEPORT_FIELDS)
    except PredicateError as e:
        where = _where(source, node, ("spec", "condition"))
        raise ConfigError(f"{where}: spec.condition: rule {name}: {e}") from None
    warnings = []
    if "user.traits" in predicate.variables and not ctx.users_configured:
        warnings.append(
            f"rule {name} reads user.traits, but no user resources are configured "
            "(rbac.resources): traits are empty"
        )
    review = spec.automatic_review
    if review and spec.desired_state != "reviewed":
        warnings.append(
            f"rule {name}: automatic_review is ignored unless desired_state is reviewed, "
            "as in Teleport"
        )
    if review and review.integration != "builtin":
        warnings.append(
            f"rule {name}: integration {review.integration} is not evaluated by accessmon; "
            "only builtin reviews run"
        )
    return Rule(
        name=name,
        kind=resource.kind,
        severity=TELEPORT_SEVERITY,
        description=resource.metadata.description,
        source=f"{source}:{node_line(node, ())}",
        resource=resource,
        predicate=predicate,
        sql=REQUESTS_SQL,
        warnings=tuple(warnings),
    )


def _detection_rule(
    resource: DetectionRule, node: yaml.Node | None, source: str, ctx: _Context
) -> Rule:
    ref = resource.query
    try:
        if ref.sql:
            sql: str | None = ref.sql
            check_query(ref.sql)
        elif ref.report:
            sql = ctx.report_query(ref.report, ref.name or "")
        else:
            ctx.saved_query(ref.saved or "")
            sql = None  # read at run time, through the session's role check
    except AccessmonError as e:
        key = "sql" if ref.sql else "report" if ref.report else "saved"
        where = _where(source, node, ("query", key))
        raise ConfigError(f"{where}: query.{key}: rule {resource.name}: {e}") from None
    return Rule(
        name=resource.name,
        kind=resource.kind,
        severity=resource.severity,
        description=resource.description,
        source=f"{source}:{node_line(node, ())}",
        resource=resource,
        sql=sql,
    )


def parse_rules(
    text: str, source: str, config: Config | None = None, *, _ctx: _Context | None = None
) -> tuple[list[Rule], list[str]]:
    """Every rule document in `text` (multi-document YAML allowed), and the errors of the
    documents that did not load, so one bad rule does not hide the others."""
    ctx = _ctx or _Context(config, _users_configured(config))
    try:
        documents = load_documents(text, source)
    except ConfigError as e:
        return [], [str(e)]
    rules: list[Rule] = []
    errors: list[str] = []
    for doc, node in documents:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            errors.append(f"{_where(source, node, ())}: expected a rule mapping with a kind")
            continue
        try:
            rules.append(_parse_document(doc, node, source, ctx))
        except ConfigError as e:
            errors.append(str(e))
    return rules, errors


def _builtin_texts() -> Iterator[tuple[str, str]]:
    folder = resources.files("accessmon") / "data" / "rules"
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            yield f"built-in {entry.name}", entry.read_text(encoding="utf-8")


def _users_configured(config: Config | None) -> bool:
    return bool(config and user_traits(config.rbac.resources))


def load_rules(config: Config) -> RuleSet:
    """Built-in rules, then `rules_dir/*.yaml` (a user rule of the same name replaces a
    built-in one); invalid rules become errors naming file, line and field."""
    ctx = _Context(config, _users_configured(config))
    texts = list(_builtin_texts())
    unreadable: list[str] = []
    rules_dir = Path(config.rules_dir)
    if rules_dir.is_dir():
        for path in sorted([*rules_dir.glob("*.yaml"), *rules_dir.glob("*.yml")]):
            try:
                texts.append((str(path), path.read_text(encoding="utf-8")))
            except OSError as e:
                unreadable.append(f"{path}: cannot read: {e.strerror}")
    out = RuleSet(errors=unreadable)
    for source, text in texts:
        rules, errors = parse_rules(text, source, config, _ctx=ctx)
        out.errors += errors
        for rule in rules:
            previous = out.rules.get(rule.name)
            if previous is not None and not previous.builtin:
                out.errors.append(
                    f"{rule.source}: name: rule {rule.name} is already defined at {previous.source}"
                )
                continue
            out.rules[rule.name] = rule
    return out


def user_traits(paths: Sequence[str | Path]) -> dict[str, dict[str, list[str]]]:
    """`spec.traits` of the `kind: user` resources in rbac.resources, for `user.traits`."""
    out: dict[str, dict[str, list[str]]] = {}
    for raw in paths:
        try:
            documents = load_documents(Path(raw).read_text(encoding="utf-8"), raw)
        except (OSError, ConfigError):
            continue  # load_policy reports these, naming the file and line
        for doc, _node in documents:
            if not isinstance(doc, dict) or doc.get("kind") != "user":
                continue
            name = (doc.get("metadata") or {}).get("name")
            traits = (doc.get("spec") or {}).get("traits") or {}
            if isinstance(name, str) and isinstance(traits, dict):
                out[name] = {
                    str(k): [str(x) for x in (v if isinstance(v, list) else [v]) if x is not None]
                    for k, v in traits.items()
                }
    return out


# -- de-duplication state ---------------------------------------------------------------------


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AlertStateError(AccessmonError):
    """The de-duplication state file is busy or unreadable."""


def _state_lock(state_file: Path, wait_seconds: float):
    path = state_file.with_name(state_file.name + ".lock")
    return exclusive(
        path,
        wait_seconds,
        lambda: AlertStateError(f"another alert run holds {path}; try again later"),
    )


def read_state(state_file: Path) -> dict[str, dict[str, str]]:
    """rule -> key -> when it last alerted (RFC 3339, UTC)."""
    if not state_file.is_file():
        return {}
    try:
        data = json.loads(state_file.read_text(encoding="utf-8") or "{}")
    except (OSError, json.JSONDecodeError) as e:
        raise AlertStateError(
            f"alert state {state_file} is unreadable ({e}); fix it or delete it to start afresh"
        ) from None
    if not isinstance(data, dict):
        raise AlertStateError(f"alert state {state_file} is not a JSON object; delete it")
    return {str(r): dict(v) for r, v in data.items() if isinstance(v, dict)}


def _within(stamp: str | None, now: dt.datetime, cooldown: dt.timedelta) -> bool:
    """Whether an alert recorded at `stamp` still holds back a new one."""
    if not isinstance(stamp, str):
        return False
    try:
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    return now - when < cooldown


def claim(
    state_file: Path,
    rule: str,
    keys: Sequence[str],
    cooldown: dt.timedelta,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    wait_seconds: float = STATE_LOCK_WAIT_SECONDS,
) -> set[str]:
    """The keys that may alert now, recorded as alerted (unless dry run) in one locked
    read-modify-write, so two overlapping runs never both alert on the same key."""
    with _state_lock(state_file, wait_seconds):
        state = read_state(state_file)
        seen = state.get(rule, {})
        fresh = {k for k in keys if not _within(seen.get(k), now, cooldown)}
        if fresh and not dry_run:
            kept = {k: v for k, v in seen.items() if _within(v, now, cooldown)}
            kept.update({k: _stamp(now) for k in fresh})
            state[rule] = kept
            atomic_write_text(json.dumps(state, indent=1, sort_keys=True), state_file)
        return fresh


def release(
    state_file: Path,
    rule: str,
    keys: Iterable[str],
    now: dt.datetime,
    *,
    wait_seconds: float = STATE_LOCK_WAIT_SECONDS,
) -> None:
    """Undo `claim` for keys whose actions failed, so the next run alerts on them again:
    the cooldown is kept only for alerts that were acted on."""
    with _state_lock(state_file, wait_seconds):
        state = read_state(state_file)
        seen = state.get(rule, {})
        mine = _stamp(now)
        dropped = {k for k in keys if seen.get(k) == mine}
        if dropped:
            state[rule] = {k: v for k, v in seen.items() if k not in dropped}
            atomic_write_text(json.dumps(state, indent=1, sort_keys=True), state_file)


#: Where the state file keeps failed webhook deliveries, per rule (rule names never start
#: with `_`), and how many it keeps per rule: the oldest go first.
PENDING = "_pending_deliveries"
MAX_PENDING = 50


def keep_delivery(
    state_file: Path,
    rule: str,
    delivery: dict[str, Any],
    *,
    wait_seconds: float = STATE_LOCK_WAIT_SECONDS,
) -> None:
    """Keep a failed webhook delivery (url and payload) for the next run of `rule`."""
    delivery = {"failed_at": _stamp(dt.datetime.now(dt.UTC)), **delivery}
    with _state_lock(state_file, wait_seconds):
        state = read_state(state_file)
        pending = state.get(PENDING, {})
        kept = [d for d in pending.get(rule, []) if isinstance(d, dict)] + [delivery]
        pending[rule] = kept[-MAX_PENDING:]
        state[PENDING] = pending
        atomic_write_text(json.dumps(state, indent=1, sort_keys=True), state_file)


def take_deliveries(
    state_file: Path, rule: str, *, wait_seconds: float = STATE_LOCK_WAIT_SECONDS
) -> list[dict[str, Any]]:
    """The failed deliveries kept for `rule`, removed from the state in the same locked step,
    so two overlapping runs never both send one."""
    with _state_lock(state_file, wait_seconds):
        state = read_state(state_file)
        pending = state.get(PENDING, {})
        taken = pending.pop(rule, None)
        if not taken:
            return []
        state[PENDING] = pending
        atomic_write_text(json.dumps(state, indent=1, sort_keys=True), state_file)
    return [d for d in taken if isinstance(d, dict) and d.get("url") and "payload" in d]


# -- running ----------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


@dataclass
class Alert:
    """One rule firing for one key (a user, a login, a request id, ...)."""

    rule: str
    kind: str
    severity: str
    key: str
    value: float | int
    rows: list[dict[str, Any]]
    key_columns: tuple[str, ...] = ()
    time: str = ""

    @property
    def label(self) -> str:
        if not self.key_columns:
            return self.key
        values = self.key.split("/") if len(self.key_columns) > 1 else [self.key]
        return ", ".join(f"{c}={v}" for c, v in zip(self.key_columns, values, strict=False))

    def record(self, window: Window, user: str) -> dict[str, Any]:
        """The alert log line."""
        return {
            "time": self.time,
            "rule": self.rule,
            "kind": self.kind,
            "severity": self.severity,
            "key": self.key,
            "key_columns": list(self.key_columns),
            "value": self.value,
            "window": _window_dict(window),
            "rows": self.rows[:MAX_ROWS],
            "rows_total": len(self.rows),
            "run_by": user,
        }


@dataclass
class RuleRun:
    """What one rule did in one run: its alerts, how many the cooldown held back, actions."""

    rule: str
    kind: str
    severity: str
    window: Window
    dry_run: bool = False
    alerts: list[Alert] = field(default_factory=list)
    suppressed: int = 0
    actions: list[actions.ActionResult] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(a.ok for a in self.actions)


def _window_dict(window: Window) -> dict[str, Any]:
    out: dict[str, Any] = {"start": window.start.isoformat(), "end": window.end.isoformat()}
    if window.days:
        out["days"] = window.days
    return out


def resource_id(item: Any) -> str:
    """Teleport's string form of a requested resource: /cluster/kind/name[/sub_resource]."""
    if not isinstance(item, dict):
        return str(item)
    parts = [item.get("cluster") or "", item.get("kind") or "", item.get("name") or ""]
    if item.get("sub_resource"):
        parts.append(item["sub_resource"])
    return "/" + "/".join(parts)


def request_context(row: dict[str, Any], traits: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
    """One access_request_create row as the variables of a Teleport condition."""
    user = row.get("user") or ""
    return {
        "access_request.spec.roles": row.get("roles") or [],
        "access_request.spec.user": user,
        "access_request.spec.reason": row.get("reason") or "",
        "access_request.spec.request_reason": row.get("reason") or "",
        "access_request.spec.resource_ids": [resource_id(r) for r in row.get("resource_ids") or []],
        "access_request.spec.request_id": row.get("id") or "",
        "access_request.spec.state": row.get("state") or "",
        "user.traits": traits.get(user, {}),
    }


def _rows(session: Session, sql: str, window: Window) -> tuple[list[str], list[dict[str, Any]]]:
    """The result's column names (known even without rows) and its rows as JSON values."""
    table = session._execute(sql, window).table
    return table.column_names, [_jsonable(r) for r in table.to_pylist()]


def _teleport_alerts(session: Session, rule: Rule, window: Window, stamp: str) -> list[Alert]:
    if rule.predicate is None or rule.sql is None:
        raise AccessmonError(f"rule {rule.name} was not loaded through load_rules")
    traits = user_traits(session.config.rbac.resources)
    requests: dict[str, dict[str, Any]] = {}
    for row in _rows(session, rule.sql, window)[1]:
        if row.get("id"):
            requests.setdefault(str(row["id"]), row)
    alerts = []
    for request_id, row in requests.items():
        try:
            matched = rule.predicate.evaluate(request_context(row, traits))
        except PredicateError as e:
            raise AccessmonError(f"rule {rule.name}: spec.condition: {e}") from None
        if matched:
            alerts.append(
                Alert(rule.name, rule.kind, rule.severity, request_id, 1, [row], ("id",), stamp)
            )
    return alerts


def _number(value: Any, column: str) -> float:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AccessmonError(f"column {column} is not numeric (got {value!r})")
    return value


def _detection_alerts(session: Session, rule: Rule, window: Window, stamp: str) -> list[Alert]:
    resource = rule.resource
    if not isinstance(resource, DetectionRule):
        raise AccessmonError(f"rule {rule.name} is not a detection rule")
    sql = (
        rule.sql if rule.sql is not None else session.saved_query(resource.query.saved or "").query
    )
    columns, rows = _rows(session, sql, window)
    cond = resource.condition
    if cond.threshold is not None:
        key_columns = tuple(cond.threshold.per)
    else:
        key_columns = tuple(cond.any_row.key) if cond.any_row else ()
    needed = [*key_columns, *([cond.threshold.column] if cond.threshold else [])]
    for column in needed:
        if column not in columns:
            raise AccessmonError(
                f"rule {rule.name}: column {column} is not in the query's results "
                f"(columns: {', '.join(columns)}){did_you_mean(column, columns)}"
            )

    def key_of(row: dict[str, Any]) -> str:
        if key_columns:
            return "/".join("" if row[c] is None else str(row[c]) for c in key_columns)
        if cond.threshold:
            return "*"
        digest = hashlib.sha1(
            json.dumps(row, sort_keys=True, default=str).encode(), usedforsecurity=False
        )
        return digest.hexdigest()[:12]

    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(key_of(row), []).append(row)
    alerts = []
    for key, group in groups.items():
        if cond.threshold:
            t = cond.threshold
            total = sum(_number(r[t.column], t.column) for r in group)
            if not _OPS[t.op](total, t.value):
                continue
            value: float | int = int(total) if float(total).is_integer() else total
        else:
            value = len(group)
        alerts.append(
            Alert(rule.name, rule.kind, rule.severity, key, value, group, key_columns, stamp)
        )
    return sorted(alerts, key=lambda a: a.key)


def _describe_alert(alert: Alert) -> str:
    if alert.kind == "access_monitoring_rule":
        row = alert.rows[0]
        roles = ", ".join(row.get("roles") or []) or "resources"
        reason = f" ({row['reason']})" if row.get("reason") else ""
        return f"request {alert.key}: {row.get('user') or '?'} requested {roles}{reason}"
    return f"{alert.label}: {alert.value}"


def webhook_payload(
    rule: Rule, run: RuleRun, recipients: Sequence[str], user: str
) -> dict[str, Any]:
    """The JSON a webhook receives: Slack's `text`, plus the alerts for machines."""
    n = len(run.alerts)
    title = (
        f"[{rule.severity.upper()}] accessmon rule {rule.name}: {n} alert{'s' * (n != 1)} "
        f"({run.window.start} to {run.window.end})"
    )
    lines = [_describe_alert(a) for a in run.alerts]
    payload: dict[str, Any] = {
        "text": actions.slack_text(title, lines, recipients),
        "source": "accessmon",
        "rule": rule.name,
        "kind": rule.kind,
        "severity": rule.severity,
        "description": rule.description,
        "recipients": list(recipients),
        "window": _window_dict(run.window),
        "run_by": user,
        "alerts": [
            {
                "key": a.key,
                "key_columns": list(a.key_columns),
                "value": a.value,
                "time": a.time,
                "rows": a.rows[:WEBHOOK_ROWS],
                "rows_total": len(a.rows),
            }
            for a in run.alerts
        ],
    }
    if isinstance(rule.resource, AccessMonitoringRule):
        payload["request_ids"] = [a.key for a in run.alerts]
        if rule.resource.spec.notification:
            payload["notification"] = rule.resource.spec.notification.name
    return payload


def _webhook(
    session: Session,
    rule: Rule,
    run: RuleRun,
    url: str | None,
    recipients: Sequence[str],
    dry_run: bool,
) -> actions.ActionResult:
    alerts = session.config.alerts
    url = url or alerts.webhook_url
    if not url:
        return actions.ActionResult(
            "webhook", False, f"rule {rule.name} notifies, but alerts.webhook_url is not set"
        )
    if dry_run:
        to = f" for {', '.join(recipients)}" if recipients else ""
        return actions.ActionResult(
            "webhook", True, f"would POST {len(run.alerts)} alerts{to} to {url}", dry_run=True
        )
    payload = webhook_payload(rule, run, recipients, session.user)
    result = _post(session, url, payload)
    if not result.ok:
        keep_delivery(Path(alerts.state_file), rule.name, {"url": url, "payload": payload})
        result.detail += "; kept for the next run"
    return result


def _post(session: Session, url: str, payload: dict[str, Any]) -> actions.ActionResult:
    alerts = session.config.alerts
    return actions.post_webhook(
        url, payload, timeout=alerts.webhook_timeout_seconds, retries=alerts.webhook_retries
    )


def _redeliver(session: Session, rule: Rule) -> list[actions.ActionResult]:
    """The webhook deliveries of earlier runs of `rule` that failed, tried once more; those
    that fail again are kept for the run after."""
    state_file = Path(session.config.alerts.state_file)
    results = []
    for delivery in take_deliveries(state_file, rule.name):
        result = _post(session, delivery["url"], delivery["payload"])
        result.detail = f"delivery kept from {delivery.get('failed_at', '?')}: {result.detail}"
        if not result.ok:
            keep_delivery(state_file, rule.name, delivery)
            result.detail += "; kept for the next run"
        results.append(result)
    return results


def _lock_message(template: str | None, rule: Rule, alert: Alert, value: str) -> str:
    if template is None:
        what = rule.description or f"accessmon rule {rule.name}"
        return f"Locked by accessmon rule {rule.name} ({alert.label}, {alert.value}): {what}"
    fields = {"rule": rule.name, "key": alert.key, "value": str(alert.value), "target": value}
    return re.sub(r"\{(\w+)\}", lambda m: fields.get(m.group(1), m.group(0)), template)


def _locks(
    session: Session, rule: Rule, alert: Alert, spec: LockAction, now: dt.datetime, dry_run: bool
) -> list[actions.ActionResult]:
    column = spec.column or spec.target
    if not any(column in row for row in alert.rows):
        return [
            actions.ActionResult(
                "teleport_lock",
                False,
                f"rule {rule.name}: column {column} is not in the query's results; set column:",
                alert.key,
            )
        ]
    values = sorted({str(r[column]) for r in alert.rows if r.get(column) not in (None, "")})
    config = session.config.alerts
    directory = Path(config.alert_log).parent / "locks"
    out = []
    for value in values:
        resource = actions.lock_resource(
            spec.target,
            value,
            _lock_message(spec.message, rule, alert, value),
            now + parse_duration(spec.ttl),
            actions.lock_name(rule.name, spec.target, value, now),
        )
        out.append(
            actions.teleport_lock(
                resource,
                directory,
                tctl=config.tctl,
                apply=config.apply,
                dry_run=dry_run,
                key=alert.key,
            )
        )
    return out


def _act(
    session: Session, rule: Rule, run: RuleRun, now: dt.datetime, dry_run: bool
) -> list[actions.ActionResult]:
    config = session.config.alerts
    log_path = Path(config.alert_log)
    results: list[actions.ActionResult] = []

    def log_all() -> None:
        for alert in run.alerts:
            record = alert.record(run.window, session.user)
            results.append(actions.alert_log(log_path, record, dry_run=dry_run))

    resource = rule.resource
    if isinstance(resource, AccessMonitoringRule):
        spec = resource.spec
        log_all()
        if spec.notification:
            results.append(
                _webhook(session, rule, run, None, spec.notification.recipients, dry_run)
            )
        review = spec.automatic_review
        if review and spec.desired_state == "reviewed" and review.integration == "builtin":
            reason = f"accessmon: access monitoring rule {rule.name} ({review.decision.lower()})"
            for alert in run.alerts:
                try:
                    command = actions.review_command(
                        config.tctl, alert.key, review.decision, reason, session.user
                    )
                except ValueError as e:
                    refused = actions.ActionResult("tctl_review", False, str(e), alert.key)
                    refused.permanent = True
                    results.append(refused)
                    continue
                results.append(
                    actions.run_tctl(
                        command,
                        apply=config.apply,
                        dry_run=dry_run,
                        key=alert.key,
                        action="tctl_review",
                    )
                )
        return results
    for action in resource.actions:
        if action.alert_log is not None:
            log_all()
        elif action.webhook is not None:
            hook = action.webhook
            results.append(_webhook(session, rule, run, hook.url, hook.recipients, dry_run))
        elif action.teleport_lock is not None:
            for alert in run.alerts:
                results += _locks(session, rule, alert, action.teleport_lock, now, dry_run)
    return results


def authorize_run(session: Session) -> None:
    """Running a rule needs `use` on access_monitoring_rule and on audit_query."""
    session.authorize("use", "access_monitoring_rule")
    session.authorize("use", "audit_query")


def run_rule(
    session: Session,
    rule: Rule,
    days: int | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> RuleRun:
    """Evaluate one rule over its window (or the one given), de-duplicate, act, audit.

    Query failures and failed actions are recorded in the returned RuleRun, not raised;
    a denied role check is audited and raised.
    """
    now = now or dt.datetime.now(dt.UTC)
    given = days is not None or start is not None or end is not None
    window = Window.resolve(days, start, end) if given else Window.last_days(rule.default_days)
    fields = {
        "name": rule.name,
        "rule_kind": rule.kind,
        "engine": session.config.engine,
        "dry_run": dry_run,
        **window.describe(),
    }
    try:
        authorize_run(session)
    except AccessmonError as e:
        session.audit(audit.ALERT_RUN, success=False, error=str(e), alerts=0, **fields)
        raise
    run = RuleRun(rule.name, rule.kind, rule.severity, window, dry_run)
    stamp = actions.rfc3339(now)
    try:
        if not dry_run:
            run.actions = _redeliver(session, rule)
        if rule.kind == "access_monitoring_rule":
            found = _teleport_alerts(session, rule, window, stamp)
        else:
            found = _detection_alerts(session, rule, window, stamp)
        fresh = claim(
            Path(session.config.alerts.state_file),
            rule.name,
            [a.key for a in found],
            rule.cooldown,
            now,
            dry_run=dry_run,
        )
        run.alerts = [a for a in found if a.key in fresh]
        run.suppressed = len(found) - len(run.alerts)
        if run.alerts:
            acted = _act(session, rule, run, now, dry_run)
            run.actions += acted
            failed_keys = {a.key for a in acted if not (a.ok or a.permanent) and a.key}
            if failed_keys and not dry_run:  # the cooldown holds only what was done
                release(Path(session.config.alerts.state_file), rule.name, failed_keys, now)
    except AccessmonError as e:
        run.error = str(e)
    failed = [a.detail for a in run.actions if not a.ok]
    session.audit(
        audit.ALERT_RUN,
        success=run.ok,
        error=run.error or ("; ".join(failed) if failed else None),
        alerts=len(run.alerts),
        suppressed=run.suppressed,
        applied=session.config.alerts.apply and not dry_run,
        actions=[a.as_dict() for a in run.actions],
        **fields,
    )
    return run


def list_rules(session: Session) -> RuleSet:
    """The rules the analyst may see (`list` on access_monitoring_rule)."""
    with session.checked(audit.ALERT_LIST, "list", "access_monitoring_rule") as extra:
        ruleset = load_rules(session.config)
        extra.update(rules=len(ruleset.rules), errors=len(ruleset.errors) or None)
        return ruleset


def run_rules(
    session: Session,
    name: str | None = None,
    days: int | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    progress: Callable[[RuleRun], None] | None = None,
) -> tuple[list[RuleRun], list[str]]:
    """Run one rule by name, or every enabled rule when `name` is None; returns the runs
    and the errors of rules that could not be loaded (the others still run)."""
    try:
        authorize_run(session)
    except AccessmonError as e:
        window = Window.resolve(days, start, end) if (days or start or end) else None
        session.audit(
            audit.ALERT_RUN,
            success=False,
            error=str(e),
            name=name or "*",
            alerts=0,
            dry_run=dry_run,
            **(window.describe() if window else {}),
        )
        raise
    ruleset = load_rules(session.config)
    if name is not None:
        selected = [ruleset.get(name)]
        errors: list[str] = []
    else:
        selected = [r for r in ruleset.rules.values() if r.enabled]
        errors = ruleset.errors
    runs = []
    for rule in selected:
        run = run_rule(session, rule, days, start, end, dry_run=dry_run, now=now)
        runs.append(run)
        if progress:
            progress(run)
    return runs, errors


__all__ = [
    "SEVERITIES",
    "TELEPORT_FIELDS",
    "AccessMonitoringRule",
    "Alert",
    "AlertStateError",
    "DetectionRule",
    "Rule",
    "RuleRun",
    "RuleSet",
    "claim",
    "list_rules",
    "load_rules",
    "parse_duration",
    "parse_rules",
    "read_state",
    "request_context",
    "run_rule",
    "run_rules",
    "user_traits",
    "webhook_payload",
]
