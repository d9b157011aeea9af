"""The rule resources, as pydantic models: Teleport's access_monitoring_rule and our detection_rule.

`kind: access_monitoring_rule` is Teleport's resource field for field, as `tctl get
access_monitoring_rules` prints it; `kind: detection_rule` is ours: an audit query, a condition
over its rows, a cooldown and actions. The shorthands an analyst writes (`per: user`,
`window: 7d`, `- alert_log`, `query: SELECT ...`) are read by validators here, so the rest of
the package sees one shape. `Rule` is a validated resource once loaded, with where it came from.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from accessmon.alerts.predicate import DICT, SET, STRING, Predicate

SEVERITIES = ("low", "medium", "high", "critical")
KINDS = ("access_monitoring_rule", "detection_rule")
#: Teleport rules look at the last two days by default, so a request made just before
#: midnight is still seen by the first run after it; request ids de-duplicate the overlap.
TELEPORT_WINDOW_DAYS = 2
#: A request is notified and reviewed once: its id stays in the state this long.
REQUEST_MEMORY = dt.timedelta(days=365)
TELEPORT_SEVERITY = "medium"

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


def parse_duration(text: str) -> dt.timedelta:
    """`30m`, `24h`, `7d`, `1h30m`, `0s`: the cooldown and lock TTL format."""
    match = _DURATION.match(str(text).strip())
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like 30m, 24h, 7d or 1h30m")
    d, h, m, s = (int(g or 0) for g in match.groups())
    return dt.timedelta(days=d, hours=h, minutes=m, seconds=s)


# -- field types: the shorthands, read by validators -------------------------------------------


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _duration(value: str) -> str:
    parse_duration(value)
    return value


def _positive_duration(value: str) -> str:
    if parse_duration(value) <= dt.timedelta(0):
        raise ValueError("ttl must be longer than zero")
    return value


def _whole_days(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"\d+d", value.strip()):
        return int(value.strip()[:-1])
    if isinstance(value, str):
        raise ValueError(f"{value!r} is not a window like 1d or 7d (whole days)")
    return value


#: `per: user` is `per: [user]`.
Columns = Annotated[list[str], BeforeValidator(_one_or_many)]
#: `30m`, `24h`, `7d`, `1h30m`: kept as written, checked when the rule loads.
Duration = Annotated[str, AfterValidator(_duration)]
PositiveDuration = Annotated[str, AfterValidator(_positive_duration)]
#: `7d` or 7.
Days = Annotated[int, BeforeValidator(_whole_days)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- Teleport's access_monitoring_rule ----------------------------------------------------------


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


# -- detection_rule ---------------------------------------------------------------------------


class QueryRef(_Model):
    """Inline SQL, a saved audit_query by name, or one query of a security report."""

    sql: str | None = None
    saved: str | None = None
    report: str | None = None
    name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _inline(cls, value: Any) -> Any:
        return {"sql": value} if isinstance(value, str) else value

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
    per: Columns = Field(default_factory=list)


class AnyRow(_Model):
    key: Columns = Field(default_factory=list)


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
    ttl: PositiveDuration = "24h"


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
    window: Days = Field(default=1, ge=1, description="days, today included")
    condition: Condition
    cooldown: Duration = "24h"
    actions: list[Action] = Field(default_factory=lambda: [Action(alert_log=AlertLogAction())])
    enabled: bool = True


#: Every field name of the rule models: the candidates of "did you mean" for an unknown one.
FIELD_NAMES = frozenset(name for model in _Model.__subclasses__() for name in model.model_fields)


# -- a loaded rule ----------------------------------------------------------------------------


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
