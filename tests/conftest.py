"""Shared fixtures: real stores on disk, built through the same ingest users run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from accessmon.config import load_config
from accessmon.session import Session
from accessmon.storage.ingest import ingest

REPO = Path(__file__).resolve().parent.parent
# Copies of the facts in ../shared that tests check, so every test runs in any clone.
SPEC = REPO / "tests" / "fixtures" / "shared" / "spec"
#: Roles and users as `tctl get roles,users` prints them.
ROLES_FIXTURE = REPO / "tests" / "fixtures" / "rbac" / "tctl_get_roles_users.yaml"


def write_jsonl(path: Path, events: Iterable[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def build_store(tmp: Path, events: Iterable[dict], name: str = "store") -> Path:
    """A store holding exactly `events`, written by `accessmon ingest`'s code path."""
    store = tmp / name
    ingest([write_jsonl(tmp / f"{name}-input.jsonl", events)], store)
    return store


def session_for(store: Path, **flags) -> Session:
    """A session on `store` that ignores any accessmon.yaml or ACCESSMON_* of the machine
    (and the repo's own accessmon.yaml: the file is looked for from the store's folder up)."""
    flags = {"store": store, "audit_log": store.parent / "accessmon-audit.jsonl", **flags}
    return Session(load_config(flags=flags, environ={}, start=store.parent))


@pytest.fixture
def make_store(tmp_path):
    """make_store(events) -> a Session over a fresh store holding those events."""

    def factory(events: Iterable[dict], name: str = "store") -> Session:
        return session_for(build_store(tmp_path, events, name))

    return factory


#: One session.start event, for tests that need a row.
EVENT = {
    "event": "session.start",
    "uid": "u-1",
    "time": "2024-03-20T12:12:03.374Z",
    "user": "alice",
    "login": "root",
    "proto": "ssh",
    "sid": "s-1",
}


def run(args, cwd: Path, stdin: str | None = None, env: dict | None = None):
    """The console script as a user runs it: a real subprocess, no ACCESSMON_* of the machine."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSMON_")}
    clean.update(env or {})
    exe = shutil.which("accessmon", path=str(Path(sys.executable).parent))
    return subprocess.run(
        [exe, *args], cwd=cwd, input=stdin, capture_output=True, text=True, env=clean
    )


def roles_session(tmp_path: Path, user: str, store: Path | None = None) -> Session:
    """A session as `user` under the fixture's Teleport roles, on a store holding EVENT."""
    flags = {
        "store": store or build_store(tmp_path, [EVENT]),
        "user": user,
        "rbac": {"resources": [ROLES_FIXTURE]},
        "audit_log": tmp_path / "audit.jsonl",
        "queries_dir": tmp_path / "queries",
    }
    return Session(load_config(flags=flags, environ={}, start=tmp_path))


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """`make test` prints how much of the function corpus runs locally (issue 17)."""
    from tests.trino.corpus_time_text import summary

    terminalreporter.write_line(summary())
    _arrays_corpus_summary(terminalreporter, config)


# -- the arrays corpus's outcomes, gathered from the xdist workers (tests/sql) --------------

OUTCOMES = pytest.StashKey[dict[str, str]]()
_KEY = "function_corpus_arrays"


@pytest.fixture
def corpus_outcomes(request) -> dict[str, str]:
    """case name -> "local" (runs, or fails as Trino does) or "refused"."""
    return request.config.stash.setdefault(OUTCOMES, {})


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workeroutput"):  # an xdist worker
        session.config.workeroutput[_KEY] = json.dumps(session.config.stash.get(OUTCOMES, {}))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    sent = getattr(node, "workeroutput", {}).get(_KEY)
    if sent:
        node.config.stash.setdefault(OUTCOMES, {}).update(json.loads(sent))


def _arrays_corpus_summary(terminalreporter, config: pytest.Config) -> None:
    outcomes = config.stash.get(OUTCOMES, {})
    if outcomes:
        values = list(outcomes.values())
        terminalreporter.write_line(
            f"function corpus (arrays/aggregates): {len(values)} cases, "
            f"{values.count('local')} local, {values.count('refused')} refused"
        )
