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
