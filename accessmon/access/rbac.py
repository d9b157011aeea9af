"""Teleport-style role checks: a data table of presets plus pure functions.

Roles and users come from the YAML `tctl get roles,users` prints. A matching deny
wins; rules with `where` fail closed, since accessmon cannot evaluate Teleport's
predicate language against resources.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from accessmon.errors import ConfigError, PermissionDenied
from accessmon.resources import load_documents, where

log = logging.getLogger("accessmon")

VERBS = ("list", "read", "create", "update", "delete", "use")
RESOURCES = (
    "audit_query", "security_report", "security_report_state", "access_monitoring_rule",
    "suppression",
)  # fmt: skip
_MIN_ROLE_VERSION = 5


@dataclass(frozen=True)
class Rule:
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    where: str | None = None
    origin: str = "preset"

    def matches(self, verb: str, resource: str) -> bool:
        return ("*" in self.resources or resource in self.resources) and (
            "*" in self.verbs or verb in self.verbs
        )


@dataclass(frozen=True)
class Role:
    name: str
    allow: tuple[Rule, ...] = ()
    deny: tuple[Rule, ...] = ()


_READER = ("list", "read", "use")
_EDITOR = ("list", "create", "read", "update", "delete", "use")
PRESETS: dict[str, Role] = {
    # Teleport's presets, plus access_monitoring_rule and suppression: auditors may see the
    # rules and suppressions, only editors run rules (a run can lock users and review
    # requests) and accept findings as known exceptions.
    "auditor": Role(
        "auditor",
        (
            Rule(("security_report", "audit_query"), _READER),
            Rule(("access_monitoring_rule", "suppression"), ("list", "read")),
        ),
    ),
    "editor": Role(
        "editor",
        (
            Rule(
                ("security_report", "audit_query", "access_monitoring_rule", "suppression"), _EDITOR
            ),
        ),
    ),
    "access": Role("access"),
}


@dataclass
class Policy:
    """Roles by name, each user's roles and traits; `configured` is False in single-user mode.

    `traits` is each user's `spec.traits` as Teleport holds them, name to a list of strings:
    what access monitoring rules read as `user.traits`."""

    roles: dict[str, Role] = field(default_factory=lambda: dict(PRESETS))
    users: dict[str, tuple[str, ...]] = field(default_factory=dict)
    traits: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    configured: bool = False

    def roles_of(self, user: str) -> tuple[str, ...]:
        if not self.configured:
            return ("editor",)
        return self.users.get(user, ())


def _strings(value: object, at: str, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{at}: {what} must be a list of strings")
    return tuple(value)


def _traits(value: object, at: str, user: str) -> dict[str, list[str]]:
    """Teleport's traits, name to a list of strings: a single value becomes a one-item list,
    nulls are dropped. Traits that are no mapping are ignored with a warning (`at` names
    their line), as the alerts loader did when it read these files itself."""
    if not value:
        return {}
    if not isinstance(value, dict):
        log.warning("%s: user %s: spec.traits is not a mapping; ignored", at, user)
        return {}
    return {
        str(k): [str(x) for x in (v if isinstance(v, list) else [v]) if x is not None]
        for k, v in value.items()
    }


def _rules(doc: dict, node: yaml.Node, kind: str, role: str, path: Path) -> tuple[Rule, ...]:
    rules = ((doc.get("spec") or {}).get(kind) or {}).get("rules") or []
    out = []
    for i, rule in enumerate(rules):
        at = where(path, node, ("spec", kind, "rules", i))
        if not isinstance(rule, dict):
            raise ConfigError(f"{at}: role {role}: each rule must be a mapping")
        resources = _strings(rule.get("resources", []), at, f"role {role} rule resources")
        verbs = _strings(rule.get("verbs", []), at, f"role {role} rule verbs")
        for verb in verbs:
            if verb != "*" and verb not in VERBS:
                log.warning("%s: role %s: verb %r is not one accessmon checks", at, role, verb)
        origin = f"role {role} {kind} rule #{i + 1} ({at})"
        out.append(Rule(resources, verbs, rule.get("where") or None, origin))
    return tuple(out)


def load_policy(paths: Sequence[str | Path]) -> Policy:
    """Read roles and users (with their traits) from Teleport resource YAML, the one parse of
    these files; errors name the file and line."""
    policy = Policy(configured=bool(paths))
    for raw in paths:
        path = Path(raw)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read rbac resource file {path}: {e.strerror}") from e
        for doc, node in load_documents(text, path):
            if doc is None:
                continue
            at = where(path, node)
            if not isinstance(doc, dict):
                raise ConfigError(f"{at}: expected a Teleport resource (kind, metadata, spec)")
            kind = doc.get("kind")
            name = (doc.get("metadata") or {}).get("name")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{at}: {kind or 'resource'} without metadata.name")
            if kind == "role":
                version = str(doc.get("version", ""))
                if not version.startswith("v") or not version[1:].isdigit():
                    raise ConfigError(f"{at}: role {name}: version must be v5 or later")
                if int(version[1:]) < _MIN_ROLE_VERSION:
                    raise ConfigError(f"{at}: role {name}: version {version} is too old (v5+)")
                policy.roles[name] = Role(
                    name,
                    _rules(doc, node, "allow", name, path),
                    _rules(doc, node, "deny", name, path),
                )
            elif kind == "user":
                spec = doc.get("spec") or {}
                policy.users[name] = _strings(
                    spec.get("roles") or [], at, f"user {name} spec.roles"
                )
                policy.traits[name] = _traits(
                    spec.get("traits"), where(path, node, ("spec", "traits")), name
                )
            else:
                log.warning("%s: ignoring resource of kind %r", at, kind)
    return policy


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    warnings: tuple[str, ...] = ()


def decide(policy: Policy, user: str, verb: str, resource: str) -> Decision:
    """The pure decision: deny rules first (a `where` deny always denies), then allows."""
    roles = policy.roles_of(user)
    warnings: list[str] = []
    known = [policy.roles[r] for r in roles if r in policy.roles]
    for missing in (r for r in roles if r not in policy.roles):
        warnings.append(f"user {user} has role {missing}, which is not defined in rbac.resources")
    for role in known:
        for rule in role.deny:
            if rule.matches(verb, resource):
                if rule.where:
                    warnings.append(f"{rule.origin} has a where clause: it denies always")
                return Decision(False, f"denied by {rule.origin}", tuple(warnings))
    for role in known:
        for rule in role.allow:
            if rule.matches(verb, resource):
                if rule.where:
                    warnings.append(f"{rule.origin} has a where clause: it grants nothing")
                    continue
                return Decision(True, f"allowed by {rule.origin}", tuple(warnings))
    return Decision(False, "no role allows it", tuple(warnings))


_NOTICES: set[str] = set()


def _notice(message: str) -> None:
    if message not in _NOTICES:
        _NOTICES.add(message)
        log.warning(message)


def authorize(policy: Policy, user: str, verb: str, resource: str) -> None:
    """Raise PermissionDenied with one actionable line unless `user` may `verb` `resource`."""
    if not policy.configured:
        _notice(
            f"notice: no roles are configured (rbac.resources), so {user} acts with the "
            "editor preset"
        )
    decision = decide(policy, user, verb, resource)
    for warning in decision.warnings:
        _notice(f"warning: {warning}")
    if decision.allowed:
        return
    roles = ", ".join(policy.roles_of(user)) or "none"
    hint = f"grant it with a role rule {{resources: [{resource}], verbs: [{verb}]}}" + (
        ", as the preset auditor role does"
        if any(r.matches(verb, resource) for r in PRESETS["auditor"].allow)
        else ", as the preset editor role does"
        if any(r.matches(verb, resource) for r in PRESETS["editor"].allow)
        else ""
    )
    if decision.reason.startswith("denied by"):
        hint = decision.reason
    raise PermissionDenied(
        f'access denied: user "{user}" (roles: {roles}) may not {verb} {resource}; {hint}'
    )


def allowed_verbs(policy: Policy, user: str, resources: Iterable[str] = RESOURCES) -> dict:
    """What `accessmon whoami` shows: each resource and the verbs the user has on it."""
    return {r: [v for v in VERBS if decide(policy, user, v, r).allowed] for r in resources}
