"""Running rules: the role check, the window, evaluation, the cooldown, actions and the audit.

`run_rules` is what `accessmon alert run` and cron call; `run_rule` runs one loaded rule.
Query failures and failed actions are recorded in the RuleRun, not raised, so one broken rule
does not stop the others; a denied role check is audited and raised.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from accessmon.alerts import actions
from accessmon.alerts.dispatch import act, redeliver
from accessmon.alerts.evaluate import Alert, find_alerts
from accessmon.alerts.loader import RuleSet, load_rules
from accessmon.alerts.models import Rule
from accessmon.alerts.state import claim, release
from accessmon.errors import AccessmonError
from accessmon.storage import audit
from accessmon.window import Window

if TYPE_CHECKING:
    from accessmon.session import Session


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


def authorize_run(session: Session) -> None:
    """Running a rule needs `use` on access_monitoring_rule and on audit_query."""
    session.authorize("use", "access_monitoring_rule")
    session.authorize("use", "audit_query")


def run_rule(
    session: Session,
    rule: Rule,
    window: Window | None = None,
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> RuleRun:
    """Evaluate one rule over `window`, or its own (`default_days`) when None; de-duplicate,
    act, audit.

    Query failures and failed actions are recorded in the returned RuleRun, not raised;
    a denied role check is audited and raised.
    """
    now = now or dt.datetime.now(dt.UTC)
    window = window or Window.last_days(rule.default_days)
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
            run.actions = redeliver(session, rule)
        found = find_alerts(session, rule, window, stamp)
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
            acted = act(session, rule, run.alerts, window, now, dry_run)
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
        ruleset = load_rules(session.config, session.policy)
        extra.update(rules=len(ruleset.rules), errors=len(ruleset.errors) or None)
        return ruleset


def run_rules(
    session: Session,
    name: str | None = None,
    window: Window | None = None,
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    progress: Callable[[RuleRun], None] | None = None,
) -> tuple[list[RuleRun], list[str]]:
    """Run one rule by name, or every enabled rule when `name` is None; returns the runs
    and the errors of rules that could not be loaded (the others still run). With no
    `window`, each rule reads its own."""
    try:
        authorize_run(session)
    except AccessmonError as e:
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
    ruleset = load_rules(session.config, session.policy)
    if name is not None:
        selected = [ruleset.get(name)]
        errors: list[str] = []
    else:
        selected = [r for r in ruleset.rules.values() if r.enabled]
        errors = ruleset.errors
    runs = []
    for rule in selected:
        run = run_rule(session, rule, window, dry_run=dry_run, now=now)
        runs.append(run)
        if progress:
            progress(run)
    return runs, errors
