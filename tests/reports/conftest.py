"""What the report tests share: the built-in report's queries, a custom report, a demo workdir."""

from __future__ import annotations

from pathlib import Path

import pytest

from accessmon.demo import write_demo
from accessmon.reports.definitions import ReportDefinition, load_definitions

#: The built-in privilege_access_report's queries, in order: name, title, chart key.
ORDER = [
    ("database_sessions_with_weak_security", "Database sessions with weak security", "user"),
    ("ssh_sessions_with_weak_security", "SSH sessions with weak security", "user"),
    ("kube_access_with_weak_security", "Kubernetes API calls with weak security", "user"),
    ("db_postgres_user", "Privileged Postgres sessions", "user"),
    ("kube_execs", "Kube Execs", "user"),
    ("cert_expiration_more_than_1d", "Long lived certificates", "user"),
    ("instance_join_token_less_than_1d", "Long-lived join tokens", "node_name"),
    ("session_start_root_user", "Root SSH sessions", "user"),
    ("kube_system_api_calls", "System Kubernetes API calls", "user"),
]
#: A custom report: one good query and one that passes validation but fails when it runs.
BROKEN = """
kind: security_report
name: team_checks
title: Team checks
description: One good query and one that fails when it runs
version: 1.0.0
queries:
  - name: root_logins
    title: Root logins
    query: SELECT event_date, count(*) AS count, user FROM session_start WHERE login = 'root' GROUP BY event_date, user
    suggestion: Use personal logins.
  - name: broken
    title: Broken on purpose
    query: SELECT event_date, count(*) + 'x' AS count, user FROM exec GROUP BY event_date, user
    suggestion: None.
"""


def builtin() -> ReportDefinition:
    """The built-in privilege_access_report, with no user definitions around it."""
    found, errors = load_definitions(Path("/nonexistent"))
    assert not errors
    return found["privilege_access_report"]


@pytest.fixture(scope="package")
def workdir(tmp_path_factory):
    """A working directory as a user has it after `make demo`: ./data/audit and ./reports.

    Built once for all report tests: a 20,000-event demo takes a while."""
    root = tmp_path_factory.mktemp("reports")
    write_demo(root / "data" / "audit", events=20_000, days=20, seed=5)
    return root
