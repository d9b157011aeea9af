"""The workbench's own audit trail: one JSON line per decision (query, report, rule, resource),
shaped as Teleport emits them.

The file is a Teleport-style JSON-lines log, so `accessmon ingest` reads it back and
the auditors' own activity becomes queryable.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import uuid
from pathlib import Path
from typing import Any

from accessmon._io import utc_timestamp

# Teleport's own two events for what Teleport also does ...
QUERY_RUN = ("secreports.audit.query.run", "SRE001")
REPORT_RUN = ("secreports.report.run", "SRE002")
# ... and accessmon's, for every other decision, allowed or denied: one line each.
ALERT_RUN = ("accessmon.alert.run", "AMA001")
ALERT_LIST = ("accessmon.alert.list", "AMA002")
SUPPRESSION_CREATE = ("accessmon.suppression.create", "AMS001")
SUPPRESSION_DELETE = ("accessmon.suppression.delete", "AMS002")
SUPPRESSION_LIST = ("accessmon.suppression.list", "AMS003")
SUPPRESSION_UPDATE = ("accessmon.suppression.update", "AMS004")  # add --force over one
QUERY_CREATE = ("accessmon.audit_query.create", "AMQ001")
QUERY_UPDATE = ("accessmon.audit_query.update", "AMQ002")
QUERY_DELETE = ("accessmon.audit_query.delete", "AMQ003")
QUERY_LIST = ("accessmon.audit_query.list", "AMQ004")
QUERY_GET = ("accessmon.audit_query.get", "AMQ005")
QUERY_PREPARE = ("accessmon.audit_query.prepare", "AMQ006")  # --show-sql
SCHEMA = ("accessmon.schema.list", "AMQ007")
REPORT_LIST = ("accessmon.security_report.list", "AMR001")
REPORT_GET = ("accessmon.security_report.get", "AMR002")
REPORT_STATE = ("accessmon.security_report_state.get", "AMR003")
REPORT_DIFF = ("accessmon.security_report.diff", "AMR004")
#: `report run --notify`: the summary posted to the webhook, or not
REPORT_NOTIFY = ("accessmon.security_report.notify", "AMR005")


def event(kind: tuple[str, str], *, user: str, success: bool, **fields: Any) -> dict[str, Any]:
    """An event shaped like Teleport's: I code when it ran, W when denied or failed."""
    name, code = kind
    now = dt.datetime.now(dt.UTC)
    out: dict[str, Any] = {
        "event": name,
        "code": code + ("I" if success else "W"),
        "uid": str(uuid.uuid4()),
        "time": utc_timestamp(now),
        "user": user,
        "success": success,
    }
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


def append(path: Path, record: dict[str, Any]) -> None:
    """Append one line under an exclusive lock, so concurrent runs never interleave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
    finally:
        os.close(fd)


def read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def bytes_scanned_on(path: Path, user: str, day: dt.date, engine: str = "athena") -> int:
    """What `user` has made `engine` scan on a UTC day: the input of the cost guard."""
    prefix = day.isoformat()
    return sum(
        int(r.get("data_scanned_in_bytes") or 0)
        for r in read(path)
        if r.get("user") == user
        and r.get("engine") == engine
        and str(r.get("time", "")).startswith(prefix)
    )
