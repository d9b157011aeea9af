"""Actions on their own: the webhook (retries, deadline, no redirects), tctl, locks, the log.

A real HTTP server on 127.0.0.1 for webhooks, a real stub `tctl` on PATH.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from accessmon.alerts import actions

from .conftest import calls, serve, webhook_server


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
    """Each attempt meets its timeout (the server answers after 1 s, the timeout is 0.2 s):
    two attempts, both "timed out", counted rather than timed."""
    with webhook_server(1.0, 1.0) as hook:
        result = actions.post_webhook(
            hook.url, {"text": "x"}, timeout=0.2, retries=1, sleep=lambda s: None
        )
    assert not result.ok and result.attempts == 2 and "timed out" in result.detail


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


def test_a_429_is_retried_and_a_spent_deadline_stops_the_retries():
    with webhook_server(429, 200) as hook:
        result = actions.post_webhook(hook.url, {}, retries=1, sleep=lambda s: None)
    assert result.ok and result.attempts == 2 and len(hook.requests) == 2
    with webhook_server(500, 500) as hook:
        result = actions.post_webhook(
            hook.url, {}, retries=3, deadline_seconds=0.1, sleep=lambda s: None
        )
    assert not result.ok and result.attempts == 1
    assert "HTTP 500" in result.detail and "no time left for a retry within 0.1s" in result.detail


def test_alert_log_appends_json_lines_and_a_dry_run_writes_nothing(tmp_path):
    path = tmp_path / "out" / "alerts.jsonl"
    dry = actions.alert_log(path, {"key": "k", "rule": "r"}, dry_run=True)
    assert dry.ok and dry.dry_run and dry.line() == f"alert_log: dry run: would append to {path}"
    assert not path.exists()
    for n in range(2):
        done = actions.alert_log(path, {"key": f"k{n}", "rule": "r"})
        assert done.ok and done.key == f"k{n}" and done.path == str(path)
    assert [json.loads(x)["key"] for x in path.read_text().splitlines()] == ["k0", "k1"]
    assert done.as_dict() == {"action": "alert_log", "ok": True, "detail": f"appended to {path}",
                              "key": "k1", "path": str(path), "dry_run": False}  # fmt: skip


def test_slack_text_lists_alerts_up_to_a_limit():
    text = actions.slack_text("Title", [f"a{n}" for n in range(5)], ["#soc"], limit=3)
    assert text.splitlines() == ["*Title*", "• a0", "• a1", "• a2", "… and 2 more", "For: #soc"]


def test_lock_names_are_unique_per_exact_target_and_resources_are_teleport_locks():
    moment = dt.datetime(2024, 3, 20, 18, 0, tzinfo=dt.UTC)
    names = {actions.lock_name("r", "user", u, moment) for u in ("a.b", "a-b", "A_B")}
    assert len(names) == 3
    assert all(re.fullmatch(r"accessmon-r-user-a-b-[0-9a-f]{10}-20240320180000", n) for n in names)
    lock = actions.lock_resource("login", "root", "why", moment, "n")
    assert lock == {"kind": "lock", "version": "v2", "metadata": {"name": "n"},
                    "spec": {"target": {"login": "root"}, "message": "why",
                             "expires": "2024-03-20T18:00:00Z"}}  # fmt: skip
    with pytest.raises(ValueError, match="user or login"):
        actions.lock_resource("role", "admin", "why", moment, "n")


def test_teleport_lock_writes_yaml_and_runs_tctl_only_when_applying(tmp_path, stub_tctl):
    lock = actions.lock_resource("user", "eve", "why", dt.datetime(2024, 3, 20, tzinfo=dt.UTC), "n")
    dry = actions.teleport_lock(lock, tmp_path / "locks", tctl="tctl", apply=True, dry_run=True)
    assert dry.ok and dry.dry_run and not (tmp_path / "locks").exists()
    kept = actions.teleport_lock(lock, tmp_path / "locks", tctl="tctl", apply=False, key="k")
    assert kept.ok and kept.dry_run and "alerts.apply is false" in kept.detail
    assert yaml.safe_load(Path(kept.path).read_text()) == lock and calls(stub_tctl) == []
    applied = actions.teleport_lock(lock, tmp_path / "locks", tctl="tctl", apply=True)
    assert applied.ok and not applied.dry_run and applied.detail.startswith("lock user eve: ran")
    assert calls(stub_tctl) == [["create", "-f", "--", kept.path]]


def test_review_commands_take_only_uuids_after_a_double_dash():
    uuid = "3f2b6c1e-5a4d-4c8e-9b7a-000000000001"
    command = actions.review_command("tctl", uuid, "APPROVED", "because", "alice")
    assert command == ["tctl", "request", "review", "--approve", "--author=alice",
                       "--reason=because", "--", uuid]  # fmt: skip
    assert actions.review_command("tctl", uuid, "DENIED", "r", "a")[3] == "--deny"
    for bad in ("--approve", "req-1", f"{uuid}\n", None):
        with pytest.raises(ValueError, match="refusing request id"):
            actions.review_command("tctl", bad, "DENIED", "r", "a")
    with pytest.raises(ValueError, match="APPROVED or DENIED"):
        actions.review_command("tctl", uuid, "MAYBE", "r", "a")


def test_run_tctl_prints_the_command_unless_applying(tmp_path, monkeypatch):
    shown = actions.run_tctl(["tctl", "get", "locks"], apply=False, key="k", action="x")
    assert (
        shown.ok
        and shown.dry_run
        and shown.detail == ("would run: tctl get locks (alerts.apply is false)")
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    missing = actions.run_tctl(["tctl", "get", "locks"], apply=True)
    assert not missing.ok and "tctl not found on PATH" in missing.detail


def test_rfc3339_is_utc_to_the_second():
    moment = dt.datetime(2024, 3, 20, 20, 0, 1, 999, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert actions.rfc3339(moment) == "2024-03-20T18:00:01Z"
