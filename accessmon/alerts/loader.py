"""Loading rules: built-in ones, then `rules_dir/*.yaml`, each error naming file, line and field.

One bad rule document does not hide the others: it becomes an error in the RuleSet, and the
rules that loaded still run. Teleport conditions are compiled here, so a typo in one fails when
the rules load, not when the rule runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from accessmon.access.rbac import Policy, load_policy
from accessmon.alerts.models import (
    FIELD_NAMES,
    KINDS,
    REQUESTS_SQL,
    TELEPORT_FIELDS,
    TELEPORT_SEVERITY,
    AccessMonitoringRule,
    DetectionRule,
    Rule,
)
from accessmon.alerts.predicate import PredicateError, compile_predicate
from accessmon.errors import AccessmonError, ConfigError
from accessmon.names import did_you_mean
from accessmon.resources import load_documents, node_line, validation_error, where
from accessmon.sql.validate import check_query

if TYPE_CHECKING:
    from accessmon.config import Config


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


def _prefix(name: Any) -> str:
    """`rule NAME: ` in a message about a rule whose name could be read."""
    return f"rule {name}: " if isinstance(name, str) and name else ""


def _parse_document(
    doc: dict[str, Any], node: yaml.Node | None, source: str, ctx: _Context
) -> Rule:
    kind = doc.get("kind")
    if kind not in KINDS:
        at = where(source, node, ("kind",))
        raise ConfigError(
            f"{at}: kind: expected access_monitoring_rule or detection_rule, not {kind!r}"
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
            raise validation_error(e, source, node, FIELD_NAMES, _prefix(name)) from None
        return _teleport_rule(resource, node, source, ctx)
    try:
        resource = DetectionRule.model_validate(doc)
    except ValidationError as e:
        raise validation_error(e, source, node, FIELD_NAMES, _prefix(doc.get("name"))) from None
    return _detection_rule(resource, node, source, ctx)


def _teleport_rule(
    resource: AccessMonitoringRule, node: yaml.Node | None, source: str, ctx: _Context
) -> Rule:
    name, spec = resource.metadata.name, resource.spec
    try:
        predicate = compile_predicate(spec.condition, TELEPORT_FIELDS)
    except PredicateError as e:
        at = where(source, node, ("spec", "condition"))
        raise ConfigError(f"{at}: spec.condition: rule {name}: {e}") from None
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
        at = where(source, node, ("query", key))
        raise ConfigError(f"{at}: query.{key}: rule {resource.name}: {e}") from None
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
    text: str,
    source: str,
    config: Config | None = None,
    policy: Policy | None = None,
    *,
    _ctx: _Context | None = None,
) -> tuple[list[Rule], list[str]]:
    """Every rule document in `text` (multi-document YAML allowed), and the errors of the
    documents that did not load, so one bad rule does not hide the others."""
    ctx = _ctx or _Context(config, _users_configured(config, policy))
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
            errors.append(f"{where(source, node)}: expected a rule mapping with a kind")
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


def _users_configured(config: Config | None, policy: Policy | None) -> bool:
    """Whether any `kind: user` resource is configured, for the `user.traits` warning; the
    policy is read from rbac.resources only when the caller has none (a Session has one)."""
    if policy is None:
        policy = load_policy(config.rbac.resources) if config else Policy()
    return bool(policy.users)


def load_rules(config: Config, policy: Policy | None = None) -> RuleSet:
    """Built-in rules, then `rules_dir/*.yaml` (a user rule of the same name replaces a
    built-in one); invalid rules become errors naming file, line and field. `policy` is
    the session's (`session.policy`), so rbac.resources are not read again."""
    ctx = _Context(config, _users_configured(config, policy))
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
