"""Evaluating a rule over a window: from its query's rows to the alerts, one per key.

A Teleport rule is its condition, answered for each access request of the window; a detection
rule is its audit query's rows, grouped by key and compared with a threshold (or any row).
Nothing here acts or remembers: `dispatch` acts, `state` remembers.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from accessmon.alerts.models import DetectionRule, Rule
from accessmon.alerts.predicate import PredicateError
from accessmon.errors import AccessmonError
from accessmon.names import did_you_mean
from accessmon.window import Window

if TYPE_CHECKING:
    from accessmon.session import Session

#: Rows kept per alert in the alert log.
MAX_ROWS = 100
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


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
            "window": window_dict(window),
            "rows": self.rows[:MAX_ROWS],
            "rows_total": len(self.rows),
            "run_by": user,
        }


def window_dict(window: Window) -> dict[str, Any]:
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
    traits = session.policy.traits
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


def find_alerts(session: Session, rule: Rule, window: Window, stamp: str) -> list[Alert]:
    """Every alert `rule` raises over `window`, before the cooldown; `stamp` is their time."""
    if rule.kind == "access_monitoring_rule":
        return _teleport_alerts(session, rule, window, stamp)
    return _detection_alerts(session, rule, window, stamp)
