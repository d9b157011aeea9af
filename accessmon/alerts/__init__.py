"""Automated response: Teleport's access monitoring rules and SQL detection rules.

Two kinds of rule, one runner. `kind: access_monitoring_rule` (Teleport's resource, as
`tctl get access_monitoring_rules` prints it) is evaluated over the `access_request.create`
events of a window with Teleport's predicate language; `kind: detection_rule` (ours) runs
any audit query and alerts on rows or on a threshold per key. Both end in the actions of
`accessmon.alerts.actions`. Alerts are de-duplicated per rule and key within a cooldown, in a
state file that concurrent runs share safely (a lock, then an atomic write).

The modules, in the order they depend on each other: `predicate` (Teleport's condition
language), `models` (the rule resources), `loader` (files to rules), `state` (cooldowns),
`evaluate` (rows to alerts), `actions` (log, webhook, lock, review), `dispatch` (a rule's
actions for its alerts) and `runner` (all of it, with the role check and the audit).
"""

from accessmon.alerts.evaluate import Alert
from accessmon.alerts.loader import RuleSet, load_rules, parse_rules
from accessmon.alerts.models import Rule
from accessmon.alerts.runner import RuleRun, list_rules, run_rule, run_rules

__all__ = [
    "Alert",
    "Rule",
    "RuleRun",
    "RuleSet",
    "list_rules",
    "load_rules",
    "parse_rules",
    "run_rule",
    "run_rules",
]
