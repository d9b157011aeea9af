"""`accessmon schema`, `whoami` and `doctor`."""

from __future__ import annotations

import json

from ...conftest import run


def test_schema_formats(tmp_path):
    out = run(["schema", "cert_create", "--format", "json"], tmp_path)
    doc = json.loads(out.stdout)
    assert doc["event_type"] == "cert.create"
    assert len(doc["columns"]) == 43
    assert doc["columns"][:2] == [
        {"name": "event_date", "type": "date", "path": None},
        {"name": "event_time", "type": "timestamp", "path": None},
    ]
    assert {
        "name": "identity_client_ip",
        "type": "varchar",
        "path": '$["identity"]["client_ip"]',
    } in doc["columns"]
    table = run(["schema", "exec"], tmp_path).stdout
    assert "exitCode" in table and "kubernetes_groups" in table and "array(varchar)" in table


def test_schema_lists_the_widened_columns(tmp_path):
    """Issue 17: real cgroup ids overflow Teleport's integer; accessmon says it widened them."""
    listing = run(["schema"], tmp_path).stdout
    assert "widened to bigint" in listing and "session_command.cgroup_id" in listing
    table = run(["schema", "session_command"], tmp_path).stdout
    line = next(ln for ln in table.splitlines() if ln.strip().startswith("cgroup_id"))
    assert "bigint" in line and "widened: integer in Teleport" in line
    doc = json.loads(run(["schema", "session_command", "--format", "json"], tmp_path).stdout)
    cgroup = next(c for c in doc["columns"] if c["name"] == "cgroup_id")
    assert cgroup == {
        "name": "cgroup_id",
        "type": "bigint",
        "path": '$["cgroup_id"]',
        "teleport_type": "integer",
    }
