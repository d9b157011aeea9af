"""What an alert does: a JSON line, a webhook, a Teleport lock, an access request review.

Every action returns an ActionResult instead of raising, so one failing webhook or a
missing `tctl` is recorded and the run goes on. Anything that changes Teleport (`tctl
create -f`, `tctl request review`) is a dry run that prints the command unless the
configuration says `alerts.apply: true`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from accessmon import webhook
from accessmon._io import atomic_write_text
from accessmon.storage import audit

TCTL_TIMEOUT_SECONDS = 60.0


@dataclass
class ActionResult:
    """The outcome of one action, as printed by `alert run` and kept in the audit trail."""

    action: str
    ok: bool
    detail: str
    key: str | None = None
    command: list[str] | None = None
    path: str | None = None
    dry_run: bool = False
    attempts: int | None = None
    #: a failure that no retry can fix (a refused request id): its alert keeps its cooldown
    permanent: bool | None = None

    def line(self) -> str:
        status = "ok" if self.ok else "FAILED"
        if self.dry_run and self.ok:
            status = "dry run"
        return f"{self.action}: {status}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


# -- alert_log --------------------------------------------------------------------------------


def alert_log(path: Path, record: dict[str, Any], *, dry_run: bool = False) -> ActionResult:
    """Append one JSON line per alert, under the same lock as the audit trail."""
    key = record.get("key")
    if dry_run:
        return ActionResult("alert_log", True, f"would append to {path}", key, dry_run=True)
    try:
        audit.append(path, record)
    except OSError as e:
        return ActionResult("alert_log", False, f"cannot append to {path}: {e.strerror}", key)
    return ActionResult("alert_log", True, f"appended to {path}", key, path=str(path))


# -- webhook ----------------------------------------------------------------------------------


def post_webhook(
    url: str,
    payload: dict[str, Any],
    *,
    timeout: float = 10.0,
    retries: int = 3,
    key: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    deadline_seconds: float | None = None,
) -> ActionResult:
    """POST JSON with `accessmon.webhook.post_json` (retries with back-off on 5xx, 429 and
    timeouts, a deadline over all attempts, no redirects); never raise."""
    done = webhook.post_json(url, payload, timeout=timeout, retries=retries, sleep=sleep,
                             deadline_seconds=deadline_seconds)  # fmt: skip
    return ActionResult("webhook", done.ok, done.detail, key, attempts=done.attempts or None)


def slack_text(
    title: str, lines: Sequence[str], recipients: Sequence[str] = (), limit: int = 20
) -> str:
    """Slack mrkdwn: a bold title, one bullet per alert, and who it is for."""
    out = [f"*{title}*"]
    out += [f"• {line}" for line in lines[:limit]]
    if len(lines) > limit:
        out.append(f"… and {len(lines) - limit} more")
    if recipients:
        out.append("For: " + ", ".join(recipients))
    return "\n".join(out)


# -- Teleport locks ---------------------------------------------------------------------------


def rfc3339(moment: dt.datetime) -> str:
    """UTC, second precision, `Z` suffix: what Teleport prints for `expires` (Teleport's
    format, kept apart from accessmon's own `_io.utc_timestamp`)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def lock_name(rule: str, target: str, value: str, moment: dt.datetime) -> str:
    """A readable lock name, unique per exact target: `alice.smith`, `alice-smith` and
    `Alice_Smith` share a slug, so a short hash of the exact rule, target and value follows."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{rule}-{target}-{value}".lower()).strip("-")[:80]
    exact = "\0".join((rule, target, value)).encode()
    digest = hashlib.sha256(exact).hexdigest()[:10]
    return f"accessmon-{slug}-{digest}-{moment.astimezone(dt.UTC):%Y%m%d%H%M%S}"


def lock_resource(
    target: str, value: str, message: str, expires: dt.datetime, name: str
) -> dict[str, Any]:
    """A `kind: lock` resource, as `tctl create -f` reads it."""
    if target not in ("user", "login"):
        raise ValueError(f"lock target must be user or login, not {target!r}")
    return {
        "kind": "lock",
        "version": "v2",
        "metadata": {"name": name},
        "spec": {"target": {target: value}, "message": message, "expires": rfc3339(expires)},
    }


def teleport_lock(
    resource: dict[str, Any],
    directory: Path,
    *,
    tctl: str,
    apply: bool,
    dry_run: bool = False,
    key: str | None = None,
) -> ActionResult:
    """Write the lock YAML, then `tctl create -f` it only when applying."""
    path = directory / f"{resource['metadata']['name']}.yaml"
    target = ", ".join(f"{k} {v}" for k, v in resource["spec"]["target"].items())
    command = [tctl, "create", "-f", "--", str(path)]
    if dry_run:
        return ActionResult(
            "teleport_lock",
            True,
            f"would lock {target}: write {path}, then {shlex.join(command)}",
            key,
            command=command,
            path=str(path),
            dry_run=True,
        )
    try:
        atomic_write_text(yaml.safe_dump(resource, sort_keys=False), path)
    except OSError as e:
        return ActionResult("teleport_lock", False, f"cannot write {path}: {e.strerror}", key)
    result = run_tctl(command, apply=apply, key=key, action="teleport_lock")
    result.path = str(path)
    result.detail = f"lock {target}: {result.detail}"
    return result


# -- tctl -------------------------------------------------------------------------------------


#: Teleport's access request ids are UUIDs; anything else is refused, never passed to tctl.
_REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def review_command(
    tctl: str, request_id: str, decision: str, reason: str, author: str
) -> list[str]:
    """`tctl request review --approve|--deny --author=<who> --reason=<why> -- <id>`.

    The id comes from the audit log, that is from whoever made the request: it must be a
    UUID and comes after `--`; values are joined to their flags, so none is read as a flag."""
    if decision not in ("APPROVED", "DENIED"):
        raise ValueError(f"decision must be APPROVED or DENIED, not {decision!r}")
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise ValueError(f"refusing request id {request_id!r}: Teleport's request ids are UUIDs")
    flag = "--approve" if decision == "APPROVED" else "--deny"
    return [tctl, "request", "review", flag, f"--author={author}", f"--reason={reason}", "--",
            request_id]  # fmt: skip


def run_tctl(
    command: list[str],
    *,
    apply: bool,
    dry_run: bool = False,
    key: str | None = None,
    action: str = "tctl",
    timeout: float = TCTL_TIMEOUT_SECONDS,
) -> ActionResult:
    """Print the command (dry run), or run it when `apply` and tctl is on PATH."""
    shown = shlex.join(command)
    if dry_run or not apply:
        why = "--dry-run" if dry_run else "alerts.apply is false"
        return ActionResult(
            action, True, f"would run: {shown} ({why})", key, command=command, dry_run=True
        )
    exe = shutil.which(command[0])
    if exe is None:
        return ActionResult(
            action,
            False,
            f"{command[0]} not found on PATH (alerts.tctl); not run: {shown}",
            key,
            command=command,
        )
    try:
        done = subprocess.run(
            [exe, *command[1:]], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return ActionResult(action, False, f"timed out after {timeout:.0f}s: {shown}", key,
                            command=command)  # fmt: skip
    except OSError as e:
        return ActionResult(action, False, f"cannot run {shown}: {e.strerror}", key,
                            command=command)  # fmt: skip
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        tail = f": {said[-1]}" if said else ""
        return ActionResult(
            action, False, f"ran {shown}: exit {done.returncode}{tail}", key, command=command
        )
    return ActionResult(action, True, f"ran {shown}", key, command=command)
