"""A report run's results: what each query found, and the JSON file that keeps it.

The results file is the one record of a run: the notebook renders it, `report get` prints
it, and the exported HTML is drawn from it, so they always agree.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accessmon.errors import AccessmonError
from accessmon.reports.state import own_files
from accessmon.storage import audit
from accessmon._io import atomic_write_text

if TYPE_CHECKING:
    from accessmon.session import Session

#: What follows `<report>_` in a results file name: the window, then a UTC stamp.
_RESULTS_SUFFIX = r"_(?:\d+d|\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2})_\d{8}T\d{6}Z\.json"


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
            "data_scanned_in_bytes": self.data_scanned_bytes,
            "total_execution_time_in_millis": self.elapsed_ms,
            "failed_queries": sum(1 for q in self.queries if q.error),
        }
        return json.dumps(doc, indent=1, default=_json_value)

    @classmethod
    def from_json(cls, text: str) -> ReportRun:
        doc = json.loads(text)
        doc.pop("totals", None)
        doc["queries"] = [QueryOutcome(**q) for q in doc["queries"]]
        return cls(**doc)


def _json_value(value: Any) -> Any:
    """Row values JSON does not know: dates as ISO text, durations as seconds."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
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
