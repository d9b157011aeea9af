"""Fixtures of the Query Editor's tests: a store of SSH sessions and certificates, and editors."""

from __future__ import annotations

from pathlib import Path

import pytest

from accessmon.config import load_config
from accessmon.session import Session
from accessmon.storage import audit
from accessmon.ui.editor import Editor
from accessmon.ui.widgets import QueryEditor

from ..conftest import ROLES_FIXTURE, build_store, session_for

USERS = ("alice", "bob", "carol")
WINDOW = {"start": "2024-03-20", "end": "2024-03-21"}


def _events() -> list[dict]:
    """120 SSH sessions over two days, and a few certificates."""
    events = [
        {
            "event": "session.start",
            "code": "T2000I",
            "uid": f"s-{i:03d}",
            "time": f"2024-03-{20 + i % 2}T12:{i % 60:02d}:03.374Z",
            "user": USERS[i % 3],
            "login": "root" if i % 4 == 0 else "ubuntu",
            "proto": "ssh",
            "sid": f"sid-{i}",
        }
        for i in range(120)
    ]
    events += [
        {
            "event": "cert.create",
            "code": "TC000I",
            "uid": f"c-{i}",
            "time": f"2024-03-20T0{i}:00:00.000Z",
            "cert_type": "user",
            "identity": {"user": USERS[i % 3], "roles": ["access"], "client_ip": f"10.0.0.{i}"},
        }
        for i in range(6)
    ]
    return events


@pytest.fixture(autouse=True)
def _fresh_kernel():
    """Each test is a new kernel: no SQL remembered from another test's editor."""
    QueryEditor._last = None


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("editor"), _events())


@pytest.fixture
def editor(store, tmp_path) -> QueryEditor:
    session = session_for(store, audit_log=tmp_path / "audit.jsonl", queries_dir=tmp_path / "q")
    ed = QueryEditor(session)
    ed.set_window(**WINDOW)
    return ed


def rbac_session(store: Path, tmp_path: Path, user: str) -> Session:
    flags = {
        "store": store,
        "user": user,
        "rbac": {"resources": [ROLES_FIXTURE]},
        "audit_log": tmp_path / "audit.jsonl",
        "queries_dir": tmp_path / "queries",
    }
    return Session(load_config(flags=flags, environ={}, start=tmp_path))


def audit_lines(editor: Editor) -> list[dict]:
    path = Path(editor.session.config.audit_log)
    return [r for r in audit.read(path) if r["event"] == audit.QUERY_RUN[0]]
