"""POSTing JSON to a webhook (Slack-compatible), with retries, back-off and a deadline.

Shared by the alerts' webhook action and `report run --notify`, so both retry the same way:
never raising, always ending, never following a redirect (it would turn the POST into a GET).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import tenacity

#: Back-off before retry n (0-based) is BACKOFF_SECONDS * 2**n, capped at BACKOFF_CAP_SECONDS.
BACKOFF_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 5.0
_RETRY_STATUS = {408, 425, 429}


@dataclass
class Delivery:
    """How one POST went: delivered or not, why, after how many attempts."""

    ok: bool
    detail: str
    attempts: int
    status: int | None = None


def url_host(url: str) -> str:
    """The host (and port) of a webhook URL, for the audit trail: its path and query may hold
    a secret token (Slack's do), so they are never written down."""
    try:
        return urlsplit(url).netloc.rpartition("@")[2] or "?"
    except ValueError:
        return "?"


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


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    timeout: float = 10.0,
    retries: int = 3,
    sleep: Callable[[float], None] = time.sleep,
    deadline_seconds: float | None = None,
) -> Delivery:
    """POST JSON; retry with exponential back-off on 5xx, 429 and timeouts; never raise.

    At most `retries + 1` attempts, each bounded by `timeout`, and all of them together by
    `deadline_seconds` [default: timeout × attempts + the back-offs], so a run always ends.
    A redirect is a failure: following it would turn the POST into a GET.
    """
    if not re.match(r"^https?://", url, re.IGNORECASE):
        return Delivery(False, f"refusing webhook URL {url!r}: use http(s)://", 0)
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
        return Delivery(True, f"POST {url} -> {status}", attempts, status)
    return Delivery(
        False,
        f"POST {url} gave up after {attempts} attempt{'s' * (attempts != 1)}: {last}",
        attempts,
    )
