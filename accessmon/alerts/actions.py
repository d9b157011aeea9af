"""What an alert does: a JSON line, a webhook, a Teleport lock, an access request review.

Every action returns an ActionResult instead of raising, so one failing webhook or a
missing `tctl` is recorded and the run goes on. Anything that changes Teleport (`tctl
create -f`, `tctl request review`) is a dry run that prints the command unless the
configuration says `alerts.apply: true`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import json
import re
import shlex
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import tenacity
import yaml

from accessmon._io import atomic_write_text
from accessmon.storage import audit

#: Back-off before retry n (0-based) is BACKOFF_SECONDS * 2**n, capped at BACKOFF_CAP_SECONDS.
BACKOFF_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 5.0
TCTL_TIMEOUT_SECONDS = 60.0
_RETRY_STATUS = {408, 425, 429}


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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx to a POST is an answer, not a hop: urllib would turn it into a GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class _Tracked(list):
    """The connections urllib opens for one attempt, so a deadline can shut them."""

    def factory(self, connection_class: type) -> Callable[..., http.client.HTTPConnection]:
        def make(*args: Any, **kwargs: Any) -> http.client.HTTPConnection:
            conn = connection_class(*args, **kwargs)
            self.append(conn)
            return conn

        return make

    def shut(self) -> None:
        for conn in self:
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            conn.close()


def _opener(tracked: _Tracked) -> urllib.request.OpenerDirector:
    class Http(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(tracked.factory(http.client.HTTPConnection), req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(
                tracked.factory(http.client.HTTPSConnection), req, context=self._context
            )

    return urllib.request.build_opener(Http, Https, _NoRedirect)


def _attempt(request: urllib.request.Request, timeout: float, deadline: float) -> int:
    """One POST in a worker thread: `timeout` bounds each socket wait, `deadline` the whole
    attempt, so a server that trickles its headers a byte at a time cannot hold us."""
    tracked = _Tracked()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            with _opener(tracked).open(request, timeout=timeout) as response:
                response.read()
                outcome["status"] = response.status
        except BaseException as e:  # handed to the caller's thread
            outcome["error"] = e

    worker = threading.Thread(target=work, name="accessmon-webhook", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        tracked.shut()
        worker.join(1.0)
        raise _DeadlineReached
    if "error" in outcome:
        raise outcome["error"]
    return int(outcome["status"])


class _DeadlineReached(Exception):
    pass


#: What a POST may fail with: urllib's errors, timeouts and refused connections are OSErrors.
_FAILURES = (OSError, http.client.HTTPException)


def _retryable(error: BaseException) -> bool:
    """5xx, 408, 425, 429, timeouts and connection errors are worth another attempt; a
    redirect, another 4xx or the spent deadline are not."""
    if isinstance(error, urllib.error.HTTPError):
        return error.code >= 500 or error.code in _RETRY_STATUS
    return isinstance(error, _FAILURES)


def _failure(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        said = f"HTTP {error.code} {error.reason}"
        if 300 <= error.code < 400:
            where = error.headers.get("Location") if error.headers else None
            said += f": redirects are not followed for a POST (to {where})"
        return said
    reason = getattr(error, "reason", error)
    return "timed out" if isinstance(reason, TimeoutError) else f"{reason}"


class _Budget:
    """Tenacity's stop condition: no attempt past the last, and no back-off that would end
    past the deadline (`out_of_time` then says why the retries stopped)."""

    def __init__(self, attempts: int, deadline: float, wait: tenacity.wait.wait_base) -> None:
        self.attempts = attempts
        self.deadline = deadline
        self.wait = wait
        self.out_of_time = False

    def __call__(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self.attempts:
            return True
        self.out_of_time = time.monotonic() + self.wait(state) >= self.deadline
        return self.out_of_time


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
    """POST JSON; retry with exponential back-off on 5xx, 429 and timeouts; never raise.

    At most `retries + 1` attempts, each bounded by `timeout`, and all of them together by
    `deadline_seconds` [default: timeout × attempts + the back-offs], so a run always ends.
    A redirect is a failure: following it would turn the POST into a GET.
    """
    if not re.match(r"^https?://", url, re.IGNORECASE):
        return ActionResult("webhook", False, f"refusing webhook URL {url!r}: use http(s)://", key)
    if deadline_seconds is None:
        backoffs = sum(min(BACKOFF_SECONDS * 2**n, BACKOFF_CAP_SECONDS) for n in range(retries))
        deadline_seconds = timeout * (retries + 1) + backoffs
    deadline = time.monotonic() + deadline_seconds
    body = json.dumps(payload, default=str).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "accessmon"}
    attempts = 0

    def attempt() -> int:
        nonlocal attempts
        attempts += 1
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        return _attempt(request, timeout, deadline)

    wait = tenacity.wait_exponential(multiplier=BACKOFF_SECONDS, max=BACKOFF_CAP_SECONDS)
    budget = _Budget(retries + 1, deadline, wait)
    retrying = tenacity.Retrying(
        stop=budget,
        wait=wait,
        retry=tenacity.retry_if_exception(_retryable),
        sleep=sleep,
        reraise=True,
    )
    try:
        status = retrying(attempt)
    except _DeadlineReached:
        last = f"no answer within the deadline of {deadline_seconds:g}s"
    except _FAILURES as e:
        last = _failure(e)
        if budget.out_of_time:
            last += f"; no time left for a retry within {deadline_seconds:g}s"
    else:
        return ActionResult("webhook", True, f"POST {url} -> {status}", key, attempts=attempts)
    return ActionResult(
        "webhook",
        False,
        f"POST {url} gave up after {attempts} attempt{'s' * (attempts != 1)}: {last}",
        key,
        attempts=attempts,
    )


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
