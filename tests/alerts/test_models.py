"""The rule models: the shorthands an analyst writes read as one shape, durations, Rule."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from accessmon.alerts.models import (
    FIELD_NAMES,
    REQUEST_MEMORY,
    TELEPORT_WINDOW_DAYS,
    AccessMonitoringRule,
    Action,
    DetectionRule,
    Rule,
    parse_duration,
)

BASE = {"kind": "detection_rule", "name": "r", "severity": "low", "query": "SELECT 1",
        "condition": "any_row"}  # fmt: skip


def detection(**fields) -> DetectionRule:
    return DetectionRule.model_validate({**BASE, **fields})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30m", dt.timedelta(minutes=30)), ("24h", dt.timedelta(hours=24)),
     ("7d", dt.timedelta(days=7)), ("1h30m", dt.timedelta(hours=1, minutes=30)),
     ("0s", dt.timedelta(0)), (" 2d3s ", dt.timedelta(days=2, seconds=3))],
)  # fmt: skip
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "1w", "h", "1.5h", "-1h"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_shorthands_read_as_the_full_form():
    rule = detection(
        window="7d",
        condition={"threshold": {"column": "n", "value": 1, "per": "user"}},
        actions=["alert_log", {"webhook": None}, {"teleport_lock": {"ttl": "1h"}}],
    )
    assert rule.query.sql == "SELECT 1" and rule.window == 7 and rule.cooldown == "24h"
    assert rule.condition.threshold.per == ["user"]
    assert [a.name for a in rule.actions] == ["alert_log", "webhook", "teleport_lock"]
    assert detection().condition.any_row.key == []
    assert detection(condition={"any_row": {"key": "login"}}).condition.any_row.key == ["login"]
    assert detection(condition={"any_row": None}).condition.any_row is not None
    assert [a.name for a in detection().actions] == ["alert_log"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"window": "1w"}, "not a window like 1d"), ({"window": 0}, "greater than or equal to 1"),
     ({"cooldown": "soon"}, "is not a duration"),
     ({"actions": [{"teleport_lock": {"ttl": "0s"}}]}, "ttl must be longer than zero"),
     ({"actions": [{"alert_log": {}, "webhook": {}}]}, "exactly one of alert_log"),
     ({"query": {"saved": "a", "sql": "SELECT 1"}}, "give exactly one of sql"),
     ({"query": {"sql": "SELECT 1", "name": "x"}}, "name goes with report")],
)  # fmt: skip
def test_mistakes(fields, message):
    with pytest.raises(ValidationError, match=message):
        detection(**fields)


def test_field_names_cover_every_model():
    assert {"severity", "per", "teleport_lock", "automatic_review", "recipients"} <= FIELD_NAMES
    assert Action.model_fields.keys() <= FIELD_NAMES


def test_rule_properties_depend_on_the_kind():
    det = detection(window=3, cooldown="1h", enabled=False)
    rule = Rule("r", det.kind, "low", "", "built-in x.yaml", det)
    assert rule.builtin and not rule.enabled and rule.default_days == 3
    assert rule.cooldown == dt.timedelta(hours=1) and rule.action_names() == ["alert_log"]
    amr = AccessMonitoringRule.model_validate(
        {"kind": "access_monitoring_rule", "version": "v1", "metadata": {"name": "t"},
         "spec": {"subjects": ["access_request"], "condition": "true",
                  "notification": {"name": "slack"},
                  "automatic_review": {"decision": "DENIED"}}}
    )  # fmt: skip
    teleport = Rule("t", amr.kind, "medium", "", "rules/t.yaml:1", amr)
    assert not teleport.builtin and teleport.enabled
    assert teleport.default_days == TELEPORT_WINDOW_DAYS and teleport.cooldown == REQUEST_MEMORY
    assert teleport.action_names() == ["alert_log", "webhook (slack)", "tctl_review (DENIED)"]
