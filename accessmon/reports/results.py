"""A report run's results: what each query found, and the JSON file that keeps it.

The results file is the one record of a run: the notebook renders it, `report get` prints
it, and the exported HTML is drawn from it, so they always agree.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accessmon._io import atomic_write_text
from accessmon.errors import AccessmonError
from accessmon.reports.state import own_files
from accessmon.storage import audit

if TYPE_CHECKING:
    from accessmon.session import Session

#: What follows `<report>_` in a results file name: the window, then a UTC stamp.
_RESULTS_SUFFIX = r"_(?:\d+d|\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2})_\d{8}T\d{6}Z\.json"


#: A finding's status against the previous successful run of the same report and window kind.
FINDING_STATUSES = ("new", "persisting", "resolved")


@dataclass
class Finding:
    """One finding: the values of its query's key columns, what it measures, where it stands.

    A finding is open unless an active suppression covers it; one whose suppression has
    expired is open again and says so (`suppression_expired`).
    """

    key: dict[str, Any]
    measure: int
    #: first event_date on which this key was a finding, over the report's history (ISO date)
    first_seen: str | None = None
    #: last event_date on which it was a finding in this run (ISO date)
    last_seen: str | None = None
    status: str = "new"
    #: persisting findings: days from first_seen to the end of this run's window
    age_days: int | None = None
    #: the active suppression that hides it
    suppression: str | None = None
    #: an expired suppression that matched it: the finding is open again
    suppression_expired: str | None = None
    #: the underlying events (QueryOutcome.event_columns), newest first, at most the cap
    events: list[list[Any]] = field(default_factory=list)
    events_total: int = 0

    @property
    def is_open(self) -> bool:
        return self.status != "resolved" and self.suppression is None


@dataclass
class QueryOutcome:
    """One query's rows and counts in the window, with the previous window's count for trends."""

    name: str
    title: str
    description: str
    suggestion: str
    chart: dict[str, Any]
    sql: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    findings: int = 0
    previous_findings: int | None = None
    distinct_users: int = 0
    error: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    #: the columns that identify one finding; `key_declared` False: none were declared and
    #: these are the fallback (every column but the measure and event_date)
    key_columns: list[str] = field(default_factory=list)
    key_declared: bool = True
    #: this run's findings (new and persisting, suppressed or not), new first
    items: list[Finding] = field(default_factory=list)
    #: findings of the previous successful run that this run no longer has
    resolved: list[Finding] = field(default_factory=list)
    #: the columns of each finding's drill-down events
    event_columns: list[str] = field(default_factory=list)
    #: the Athena or Trino query execution ids behind this query's rows
    query_ids: list[str] = field(default_factory=list)
    sql_sha256: str = ""
    results_sha256: str = ""
    #: the run_id the statuses compare against: the last run in which this query succeeded
    compared_with: str | None = None
    #: one-line remarks of the run about this query (no finding_key declared, no drill-down)
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        return "findings" if self.findings else "no findings"

    @property
    def change(self) -> int | None:
        if self.error or self.previous_findings is None:
            return None
        return self.findings - self.previous_findings

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)

    def counts(self) -> dict[str, int]:
        """new, persisting and resolved findings; suppressed ones; and the open ones."""
        return {
            "new": sum(1 for f in self.items if f.status == "new"),
            "persisting": sum(1 for f in self.items if f.status == "persisting"),
            "resolved": len(self.resolved),
            "suppressed": sum(1 for f in self.items if f.suppression),
            "open": sum(1 for f in self.items if f.is_open),
        }


@dataclass
class ReportRun:
    """A whole run, as saved to JSON: who ran what, over which window, on which engine."""

    name: str
    title: str
    description: str
    version: str
    window: dict[str, Any]
    previous_window: dict[str, Any]
    generated_at: str
    user: str
    engine: str
    queries: list[QueryOutcome]
    state: str = "SUCCESS"
    #: `<report>_<window label>_<UTC stamp>`, the results file's stem: what `--since` names
    run_id: str = ""
    started_at: str = ""
    ended_at: str = ""
    #: the run_id of the previous successful run the statuses compare against (None: first)
    previous_run: str | None = None
    #: version, engine, query ids, window, user and role decision, SQL and result hashes,
    #: the store's newest event and file count, the suppressions applied
    provenance: dict[str, Any] = field(default_factory=dict)
    #: freshness, empty days, null rates of the fields the queries depend on, warnings
    quality: dict[str, Any] = field(default_factory=dict)
    #: every suppression of this report: name, owner, reason, expires, days_left, ticket,
    #: matched (count) and status (active, expired or stale)
    suppressions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def data_scanned_bytes(self) -> int:
        return sum(int(q.stats.get("data_scanned_in_bytes") or 0) for q in self.queries)

    @property
    def elapsed_ms(self) -> int:
        return sum(int(q.stats.get("total_execution_time_in_millis") or 0) for q in self.queries)

    def to_json(self) -> str:
        doc = asdict(self)
        doc["totals"] = {
            "findings": sum(q.findings for q in self.queries),
            **{
                k: sum(q.counts()[k] for q in self.queries)
                for k in ("new", "persisting", "resolved", "suppressed", "open")
            },
            "data_scanned_in_bytes": self.data_scanned_bytes,
            "total_execution_time_in_millis": self.elapsed_ms,
            "failed_queries": sum(1 for q in self.queries if q.error),
        }
        return json.dumps(doc, indent=1, default=json_value)

    @classmethod
    def from_json(cls, text: str) -> ReportRun:
        doc = json.loads(text)
        doc.pop("totals", None)
        queries = []
        for q in doc["queries"]:
            q["items"] = [Finding(**f) for f in q.get("items", [])]
            q["resolved"] = [Finding(**f) for f in q.get("resolved", [])]
            queries.append(QueryOutcome(**q))
        doc["queries"] = queries
        return cls(**doc)


def json_value(value: Any) -> Any:
    """A row value as JSON keeps it, in the results file and the findings history alike, so a
    key read back from disk equals the key grouped now (dates as ISO text, durations as
    seconds, decimals as numbers)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value else None  # NaN has no JSON spelling
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def load_results(session: Session, path: str | Path) -> ReportRun:
    """A saved run, for the notebook in headless mode and `report get` (`read`, audited)."""
    with session.checked(audit.REPORT_GET, "read", "security_report", results=str(path)):
        return read_results(Path(path))


def read_results(path: Path) -> ReportRun:
    """A results file, or an error naming it: the folder may hold other JSON."""
    try:
        return ReportRun.from_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise AccessmonError(
            f"{path}: not a report results file ({type(e).__name__}: {e})"
        ) from None


def save_results(run: ReportRun, path: Path) -> Path:
    """Written whole or not at all: a reader never sees half a run."""
    atomic_write_text(run.to_json(), path)
    return path


def latest_results(output_dir: Path, name: str) -> Path | None:
    """The newest results file of report `name` in `output_dir`, for `report get`."""
    candidates = sorted(
        own_files(output_dir, name, _RESULTS_SUFFIX), key=lambda p: p.stat().st_mtime
    )
    return candidates[-1] if candidates else None
