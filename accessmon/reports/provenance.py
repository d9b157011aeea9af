"""A report run's provenance: enough for an auditor to re-run it and check the answer.

Per query (`stamp`): the engine's query execution ids (Athena, Trino; DuckDB has none), a
sha256 of the SQL as sent to the engine, and a sha256 of its results. Per run (`collect`):
the accessmon version, engine, window, start and end, user and role decision, the hashes,
the store's newest event and file count, and the command that re-runs it.

The hashes, so that anyone can recompute them:

- `sql_sha256`: sha256 of the UTF-8 SQL the engine ran for the rows shown, rendered for its
  dialect (the views as WITH clauses, over the previous window's start to the window's end,
  the span a report query runs over). On Athena and Trino it is the query text the engine
  keeps under the query id; on DuckDB it names the store and cache files read, so it is
  the same again over the same files. The query as written is the results' `sql`.
- `results_sha256`: sha256 of `results_digest_text(columns, rows)`: the JSON array
  `[columns, rows]`, rows in result order, values as the results JSON writes them
  (`json_value`: dates and times as ISO text, durations as seconds), no spaces after `,`
  and `:`, non-ASCII escaped. Read back from the results JSON and serialised the same way
  it gives the same text:

      q = json.load(open(results))["queries"][i]
      text = json.dumps([q["columns"], q["rows"]], separators=(",", ":"))
      hashlib.sha256(text.encode()).hexdigest() == q["results_sha256"]
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from accessmon.reports.results import json_value

if TYPE_CHECKING:
    from accessmon.access.rbac import Policy
    from accessmon.reports.results import QueryOutcome, ReportRun
    from accessmon.result import QueryResult
    from accessmon.session import Session
    from accessmon.window import Window


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def results_digest_text(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The canonical text `results_sha256` hashes (see the module's docstring)."""
    return json.dumps([list(columns), [list(r) for r in rows]], default=json_value,
                      separators=(",", ":"))  # fmt: skip


def stamp(
    outcome: QueryOutcome, executed: Sequence[QueryResult], shown: QueryResult
) -> QueryOutcome:
    """Fill a query's `query_ids` (every execution behind it, in order), `sql_sha256` (of the
    execution whose rows are shown) and `results_sha256` (of its columns and rows as kept)."""
    outcome.query_ids = [r.stats.query_execution_id for r in executed if r.stats.query_execution_id]
    outcome.sql_sha256 = sha256_text(shown.sql)
    outcome.results_sha256 = sha256_text(results_digest_text(outcome.columns, outcome.rows))
    return outcome


def role_decision(policy: Policy, user: str, verb: str = "use",
                  resource: str = "security_report") -> str:  # fmt: skip
    """What the role check decided for the run, and why, in one line."""
    from accessmon.access import rbac

    if not policy.configured:
        return (
            f"single-user mode: no roles configured (rbac.resources); {user} acts with the "
            f"editor preset, which allows {verb} on {resource}"
        )
    decision = rbac.decide(policy, user, verb, resource)
    roles = policy.roles_of(user)
    reason = decision.reason
    if reason == "allowed by preset":
        granting = next(
            (
                r
                for r in roles
                if r in policy.roles
                and any(
                    rule.matches(verb, resource) and not rule.where
                    for rule in policy.roles[r].allow
                )
            ),
            "?",
        )
        reason = f"allowed by the preset role {granting}"
    verdict = "allowed" if decision.allowed else "denied"
    return (
        f"{verdict}: {verb} on {resource} for {user} (roles: {', '.join(roles) or 'none'}); "
        f"{reason}"
    )


def accessmon_version() -> str:
    """The installed accessmon's version (the package metadata: `accessmon/__init__` is above
    the reports in the layers)."""
    from importlib import metadata

    try:
        return metadata.version("accessmon")
    except metadata.PackageNotFoundError:
        return "unknown"


def rerun_command(name: str, window: Window, engine: str) -> str:
    """The command that runs this report again over the same days, on the same engine."""
    return shlex.join(["accessmon", "report", "run", name, "--from", window.start.isoformat(),
                       "--to", window.end.isoformat(), "--engine", engine])  # fmt: skip


def collect(session: Session, run: ReportRun, window: Window) -> dict[str, Any]:
    """`run.provenance`, from the finished run (its queries stamped, `run.quality` filled).

    The store's facts come from `run.quality["store"]` when the quality step has run (one
    inventory per run), else from the engine; if neither can tell, they are None. The
    suppressions applied are left to the step that applies them."""
    store = (run.quality or {}).get("store") or _store(session, window)
    return {
        "accessmon_version": accessmon_version(),
        "engine": run.engine,
        "query_ids": {q.name: list(q.query_ids) for q in run.queries},
        "window": {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "days": (window.end - window.start).days + 1,  # also for --from/--to
        },
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "user": run.user,
        "role_decision": role_decision(session.policy, session.user),
        "sql_sha256": {q.name: q.sql_sha256 for q in run.queries},
        "results_sha256": {q.name: q.results_sha256 for q in run.queries},
        "store": store,
        "suppressions_applied": [],
        "rerun": rerun_command(run.name, window, run.engine),
    }


def _store(session: Session, window: Window) -> dict[str, Any]:
    from accessmon.reports import quality

    try:
        return quality.store_facts(quality.store_inventory(session, window))
    except Exception:  # provenance never fails the report; the quality panel says why
        return {"location": None, "newest_event": None, "files": None}
