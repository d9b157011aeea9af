"""Actions on their own: the webhook (retries, deadline, no redirects), tctl, locks, the log.

A real HTTP server on 127.0.0.1 for webhooks, a real stub `tctl` on PATH.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

from accessmon.alerts import actions

from .conftest import (
    serve,
    webhook_server,
)


def test_webhook_retries_after_a_500_with_backoff():
    delays: list[float] = []
    with webhook_server(500, 200) as hook:
        result = actions.post_webhook(hook.url, {"text": "hi"}, retries=3, sleep=delays.append)
    assert result.ok and result.attempts == 2, result.detail
    assert [r["json"] for r in hook.requests] == [{"text": "hi"}, {"text": "hi"}]
    assert delays == [0.2]


def test_webhook_gives_up_cleanly():
    delays: list[float] = []
    with webhook_server(503, 502, 500, 500) as hook:
        result = actions.post_webhook(hook.url, {"text": "x"}, retries=2, sleep=delays.append)
    assert not result.ok and result.attempts == 3 and len(hook.requests) == 3
    assert "gave up after 3 attempts: HTTP 500" in result.detail
    assert delays == [0.2, 0.4]
    # a 4xx is not retried
    with webhook_server(404) as hook:
        result = actions.post_webhook(hook.url, {"text": "x"}, retries=3, sleep=delays.append)
    assert not result.ok and result.attempts == 1 and "HTTP 404" in result.detail


def test_webhook_timeouts_are_retried_and_bounded():
    with webhook_server(1.0, 1.0) as hook:
        started = time.monotonic()
        result = actions.post_webhook(
            hook.url, {"text": "x"}, timeout=0.2, retries=1, sleep=lambda s: None
        )
        elapsed = time.monotonic() - started
    assert not result.ok and result.attempts == 2 and "timed out" in result.detail
    assert elapsed < 1.5


def test_webhook_to_a_closed_port_or_a_file_url_fails_cleanly():
    with webhook_server() as hook:
        url = hook.url
    result = actions.post_webhook(url, {"text": "x"}, retries=1, sleep=lambda s: None)
    assert not result.ok and result.attempts == 2
    assert not actions.post_webhook("file:///etc/passwd", {}).ok


class _Trickle(BaseHTTPRequestHandler):
    """Answers a POST with a status line, then one header byte every 50 ms."""

    total = 200
    sent = 0
    cut = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(self.total):
                self.wfile.write(b"x")
                self.wfile.flush()
                type(self).sent += 1
                time.sleep(0.05)
            self.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            type(self).cut.set()

    def log_message(self, *args) -> None:
        pass


def test_a_server_that_trickles_headers_meets_the_total_deadline():
    with serve(_Trickle) as url:
        result = actions.post_webhook(url, {"text": "x"}, timeout=0.5, retries=1)
        assert _Trickle.cut.wait(30), "the server never saw the client leave"
    assert not result.ok and "deadline" in result.detail, result.detail
    assert result.attempts == 1 and _Trickle.sent < _Trickle.total


class _Redirect(BaseHTTPRequestHandler):
    gets: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(302)
        self.send_header("Location", "/landing")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        type(self).gets.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_redirect_to_a_post_is_a_failure_not_a_get():
    with serve(_Redirect) as url:
        result = actions.post_webhook(url, {"text": "x"}, retries=3, sleep=lambda s: None)
    assert not result.ok and result.attempts == 1
    assert "HTTP 302" in result.detail and "redirects are not followed" in result.detail
    assert _Redirect.gets == []


def test_failing_tctl_is_recorded(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "tctl").write_text("#!/bin/sh\necho 'ERROR: access denied' >&2\nexit 3\n")
    (bindir / "tctl").chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    result = actions.run_tctl(["tctl", "create", "-f", "x.yaml"], apply=True)
    assert not result.ok and "exit 3: ERROR: access denied" in result.detail
