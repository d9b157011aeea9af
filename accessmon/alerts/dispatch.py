"""Dispatch: what a rule's alerts do, as its resource says, through `actions`.

A Teleport rule logs each alert, notifies through the webhook and, when its desired state is
`reviewed`, reviews the request with tctl; a detection rule runs its own list of actions. A
webhook delivery that fails is kept in the state for the next run.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accessmon.alerts import actions
from accessmon.alerts.evaluate import Alert, window_dict
from accessmon.alerts.models import AccessMonitoringRule, LockAction, Rule, parse_duration
from accessmon.alerts.state import keep_delivery, take_deliveries
from accessmon.window import Window

if TYPE_CHECKING:
    from accessmon.session import Session

#: Rows kept per alert in the webhook payload.
WEBHOOK_ROWS = 20


def _describe_alert(alert: Alert) -> str:
    if alert.kind == "access_monitoring_rule":
        row = alert.rows[0]
        roles = ", ".join(row.get("roles") or []) or "resources"
        reason = f" ({row['reason']})" if row.get("reason") else ""
        return f"request {alert.key}: {row.get('user') or '?'} requested {roles}{reason}"
    return f"{alert.label}: {alert.value}"


def webhook_payload(
    rule: Rule, alerts: Sequence[Alert], window: Window, recipients: Sequence[str], user: str
) -> dict[str, Any]:
    """The JSON a webhook receives: Slack's `text`, plus the alerts for machines."""
    n = len(alerts)
    title = (
        f"[{rule.severity.upper()}] accessmon rule {rule.name}: {n} alert{'s' * (n != 1)} "
        f"({window.start} to {window.end})"
    )
    lines = [_describe_alert(a) for a in alerts]
    payload: dict[str, Any] = {
        "text": actions.slack_text(title, lines, recipients),
        "source": "accessmon",
        "rule": rule.name,
        "kind": rule.kind,
        "severity": rule.severity,
        "description": rule.description,
        "recipients": list(recipients),
        "window": window_dict(window),
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
            for a in alerts
        ],
    }
    if isinstance(rule.resource, AccessMonitoringRule):
        payload["request_ids"] = [a.key for a in alerts]
        if rule.resource.spec.notification:
            payload["notification"] = rule.resource.spec.notification.name
    return payload


def _webhook(
    session: Session,
    rule: Rule,
    alerts: Sequence[Alert],
    window: Window,
    url: str | None,
    recipients: Sequence[str],
    dry_run: bool,
) -> actions.ActionResult:
    config = session.config.alerts
    url = url or config.webhook_url
    if not url:
        return actions.ActionResult(
            "webhook", False, f"rule {rule.name} notifies, but alerts.webhook_url is not set"
        )
    if dry_run:
        to = f" for {', '.join(recipients)}" if recipients else ""
        return actions.ActionResult(
            "webhook", True, f"would POST {len(alerts)} alerts{to} to {url}", dry_run=True
        )
    payload = webhook_payload(rule, alerts, window, recipients, session.user)
    result = _post(session, url, payload)
    if not result.ok:
        keep_delivery(Path(config.state_file), rule.name, {"url": url, "payload": payload})
        result.detail += "; kept for the next run"
    return result


def _post(session: Session, url: str, payload: dict[str, Any]) -> actions.ActionResult:
    config = session.config.alerts
    return actions.post_webhook(
        url, payload, timeout=config.webhook_timeout_seconds, retries=config.webhook_retries
    )


def redeliver(session: Session, rule: Rule) -> list[actions.ActionResult]:
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


def act(
    session: Session,
    rule: Rule,
    alerts: Sequence[Alert],
    window: Window,
    now: dt.datetime,
    dry_run: bool,
) -> list[actions.ActionResult]:
    """Every action of `rule` for `alerts`, in the order the rule gives; none raises."""
    config = session.config.alerts
    log_path = Path(config.alert_log)
    results: list[actions.ActionResult] = []

    def log_all() -> None:
        for alert in alerts:
            record = alert.record(window, session.user)
            results.append(actions.alert_log(log_path, record, dry_run=dry_run))

    resource = rule.resource
    if isinstance(resource, AccessMonitoringRule):
        spec = resource.spec
        log_all()
        if spec.notification:
            results.append(
                _webhook(session, rule, alerts, window, None, spec.notification.recipients, dry_run)
            )
        review = spec.automatic_review
        if review and spec.desired_state == "reviewed" and review.integration == "builtin":
            reason = f"accessmon: access monitoring rule {rule.name} ({review.decision.lower()})"
            for alert in alerts:
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
            results.append(
                _webhook(session, rule, alerts, window, hook.url, hook.recipients, dry_run)
            )
        elif action.teleport_lock is not None:
            for alert in alerts:
                results += _locks(session, rule, alert, action.teleport_lock, now, dry_run)
    return results
