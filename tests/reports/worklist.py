"""A real report run over a demo store, with its worklist fields filled in by hand.

The run itself is real (`run_report` over the demo store); its findings with identity, their
events, suppressions, data quality and provenance are filled here from its rows, the shapes
agreed for them, so the HTML can be checked before (and whatever) the code that computes them.
"""

from __future__ import annotations

from pathlib import Path

from accessmon.reports.results import Finding, ReportRun
from accessmon.reports.run import run_report
from accessmon.storage.store import partitions
from accessmon.window import Window

from ..conftest import session_for

EVENT_COLUMNS = ["time", "user", "login", "node", "client_ip", "session_id"]
#: The finding whose events are capped, and how many it had.
CAPPED_TOTAL = 312
SUPPRESSION = "bots-known"
EXPIRED = "old-exception"


def filled_run(store: Path, days: int = 7) -> ReportRun:
    """privilege_access_report over the last `days` of the store, its worklist filled."""
    session = session_for(store, audit_log=store.parent / "worklist-audit.jsonl")
    end = partitions(store)[-1]
    run = run_report(session, "privilege_access_report", Window.last_days(days, end))
    fill(run)
    return run


def fill(run: ReportRun) -> None:
    """Findings grouped from each query's rows by its chart key (join tokens: node and host;
    the last query as a custom one without a declared key), events made up to match."""
    for qi, q in enumerate(run.queries):
        if q.error or not q.rows:
            continue
        keys = [c for c in q.columns if c not in ("event_date", "count")]
        keys = keys if q.name == "instance_join_token_less_than_1d" else [q.chart["keys"]]
        q.key_columns, q.key_declared = keys, qi != len(run.queries) - 1
        q.event_columns = EVENT_COLUMNS
        groups: dict[tuple, list[list]] = {}
        for row in q.rows:
            groups.setdefault(tuple(row[q.columns.index(k)] for k in keys), []).append(row)
        items = []
        for n, (key, rows) in enumerate(sorted(groups.items(), key=lambda kv: str(kv[0]))):
            measure = sum(int(r[q.columns.index("count")]) for r in rows)
            dates = sorted(str(r[q.columns.index("event_date")]) for r in rows)
            new = n % 3 == 0
            f = Finding(
                key=dict(zip(keys, key, strict=True)),
                measure=measure,
                first_seen=dates[0] if new else "2026-01-02",
                last_seen=dates[-1],
                status="new" if new else "persisting",
                age_days=None if new else 30 + n,
            )
            total = CAPPED_TOTAL if (qi, n) == (0, 0) else measure
            f.events = [_event(key[0], i) for i in range(min(total, 50))]
            f.events_total = total
            items.append(f)
        if qi == 1 and len(items) > 2:
            items[1].suppression = SUPPRESSION
            items[2].suppression_expired = EXPIRED
        q.items = sorted(items, key=lambda f: f.status != "new")
        q.resolved = [
            Finding(
                key=dict.fromkeys(keys, "gone-user"),
                measure=4,
                first_seen="2026-01-01",
                last_seen="2026-01-05",
                status="resolved",
            )
        ]
    run.previous_run = f"{run.name}_7d_20260101T000000Z"
    run.run_id = f"{run.name}_7d_20260102T000000Z"
    run.suppressions = [
        {"name": SUPPRESSION, "report": run.name, "query": run.queries[1].name,
         "match": {"user": "bot-*"}, "owner": "alice", "reason": "CI <bots> use shared logins",
         "created": "2026-01-01", "expires": "2026-03-01", "days_left": 58,
         "ticket": "https://tickets.example/SEC-12", "matched": 1, "status": "active"},
        {"name": EXPIRED, "report": run.name, "query": run.queries[1].name,
         "match": {"user": "carol"}, "owner": "bob", "reason": "migration",
         "created": "2025-10-01", "expires": "2025-12-01", "days_left": 0, "ticket": None,
         "matched": 1, "status": "expired"},
        {"name": "nobody-matches", "report": run.name, "query": None, "match": {"user": "zed"},
         "owner": "bob", "reason": "left over", "created": "2026-01-01", "expires": "2026-02-01",
         "days_left": 30, "ticket": "SEC-13", "matched": 0, "status": "stale"},
    ]  # fmt: skip
    run.quality = {
        "now": "2026-01-02T10:00:00+00:00", "newest_event": "2026-01-01T02:00:00+00:00",
        "lag_hours": 32.0, "max_lag_hours": 24.0, "stale": True, "empty_days": ["2025-12-29"],
        "fields": [
            {"view": "session_start", "field": "login", "queries": ["session_start_root_user"],
             "rows": 900, "nulls": 9, "null_rate": 0.01, "always_null": False},
            {"view": "db_session_start", "field": "db_user", "queries": ["db_postgres_user"],
             "rows": 120, "nulls": 120, "null_rate": 1.0, "always_null": True},
        ],
        "warnings": ["db_session_start.db_user is null in all 120 rows"],
    }  # fmt: skip
    run.provenance = {
        "accessmon_version": "0.1.0", "engine": run.engine,
        "query_ids": {q.name: [] for q in run.queries}, "window": run.window,
        "started_at": "2026-01-02T10:00:00Z", "ended_at": "2026-01-02T10:00:04Z",
        "user": run.user, "role_decision": "allowed: use on security_report (editor)",
        "sql_sha256": {q.name: "a" * 64 for q in run.queries},
        "results_sha256": {q.name: "b" * 64 for q in run.queries},
        "store": {"location": "data/audit", "newest_event": "2026-01-01T02:00:00Z", "files": 90},
        "suppressions_applied": [SUPPRESSION],
        "rerun": f"accessmon report run {run.name} --from {run.window['start']} "
        f"--to {run.window['end']} --engine {run.engine}",
    }  # fmt: skip


def _event(user: object, i: int) -> list:
    return [f"2026-01-01 {i % 24:02d}:{i % 60:02d}:00.000", str(user), "root", f"node-{i % 7}",
            f"10.0.0.{i % 250}", f"sess-{i:04d}"]  # fmt: skip
