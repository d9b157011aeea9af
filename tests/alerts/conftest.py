"""Shared fixtures of the alert tests: the fixture store, sessions, a local webhook, a stub tctl.

Real stores, a real HTTP server on 127.0.0.1 for webhooks, a real stub `tctl` on PATH.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from accessmon.storage import audit
from accessmon.window import Window

from ..conftest import build_store, session_for

FIXTURES = Path(__file__).parent.parent / "fixtures" / "alerts"
ROLES = FIXTURES / "roles.yaml"
RULES = FIXTURES / "rules"
EVENTS = [json.loads(line) for line in (FIXTURES / "events.jsonl").read_text().splitlines()]
DAY = Window.between("2024-03-20", "2024-03-20")
NOW = dt.datetime(2024, 3, 20, 18, 0, tzinfo=dt.UTC)
#: The fixture's access request ids: UUIDs, as Teleport's are (req-1 ... req-5).
REQ = {n: f"3f2b6c1e-5a4d-4c8e-9b7a-00000000000{n}" for n in range(1, 6)}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

ROOT_RULE = """
kind: detection_rule
name: root-logins
description: Repeated SSH sessions as root
severity: high
query: |
  SELECT user, login, count(*) AS count FROM session_start
  WHERE login = 'root' GROUP BY user, login
window: 1d
condition: {threshold: {column: count, op: ">=", value: 2, per: user}}
cooldown: 24h
actions:
  - alert_log
  - teleport_lock: {target: user, ttl: 1h, message: "root sessions: {value}"}
"""

DET = """kind: detection_rule
name: bad
severity: high
query: SELECT user, count(*) AS count FROM session_start GROUP BY user
condition: {threshold: {column: count, value: 1, per: user}}
"""


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Webhook tests talk to 127.0.0.1 directly, whatever proxy the machine has."""
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(scope="session")
def store(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("alerts"), EVENTS)


@pytest.fixture
def make_session(store, tmp_path):
    """A session as `user` over the fixture store, with alert files under tmp_path."""

    def factory(user: str = "analyst", rules_dir: Path = RULES, roles: bool = True, **alert_cfg):
        cfg = {
            "alert_log": tmp_path / "alerts.jsonl",
            "state_file": tmp_path / "state.json",
            **alert_cfg,
        }
        flags = {"user": user, "rules_dir": rules_dir, "alerts": cfg,
                 "audit_log": tmp_path / "audit.jsonl"}  # fmt: skip
        if roles:
            flags["rbac"] = {"resources": [ROLES]}
        return session_for(store, **flags)

    return factory


def write_rules(folder: Path, text: str, name: str = "rules.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


class Hook:
    """What the local webhook received, and what it answers next."""

    def __init__(self, url: str, responses: list) -> None:
        self.url = url
        self.responses = responses
        self.requests: list[dict] = []


@contextmanager
def webhook_server(*responses) -> Iterator[Hook]:
    """ThreadingHTTPServer on 127.0.0.1:0; each response is a status code or a delay (s)."""
    queue = list(responses)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hook.requests.append(
                {"path": self.path, "type": self.headers["Content-Type"], "json": json.loads(body)}
            )
            answer = queue.pop(0) if queue else 200
            if isinstance(answer, float):
                time.sleep(answer)
                answer = 200
            self.send_response(answer)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook = Hook(f"http://127.0.0.1:{server.server_address[1]}/hook", queue)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stub_tctl(tmp_path, monkeypatch) -> Path:
    """A real `tctl` executable first on PATH that records its arguments, one JSON line each."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "tctl-calls.jsonl"
    script = bindir / "tctl"
    script.write_text(
        "#!/bin/sh\n"
        f'exec python3 -c \'import json, sys; open("{record}", "a").write(json.dumps(sys.argv[1:]) + "\\n")\' "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bindir}:{__import__('os').environ['PATH']}")
    return record


def calls(record: Path) -> list[list[str]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def audit_events(session) -> list[dict]:
    return [
        e for e in audit.read(Path(session.config.audit_log)) if e["event"] == audit.ALERT_RUN[0]
    ]


def flags_of(session) -> dict:
    c = session.config
    return {"user": c.user, "rules_dir": c.rules_dir, "audit_log": c.audit_log,
            "alerts": c.alerts.model_dump(), "rbac": {"resources": c.rbac.resources}}  # fmt: skip


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
