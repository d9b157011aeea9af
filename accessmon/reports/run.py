"""Security reports: Teleport's `security_report` resources, run as a set of audit queries.

The logic lives here so the notebook stays a few thin cells and pytest covers it:
load definitions, run them (role check, budget, audit line), keep results and state,
and display them as plotly charts with their suggestions.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
import re
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accessmon.storage import audit
from accessmon.resources import line_of
from accessmon.errors import AccessmonError, ConfigError
from accessmon.storage.locks import exclusive
from accessmon.names import NAME_PATTERN, check_name
from accessmon.resources import load_document
from accessmon.storage.store import atomic_write_text
from accessmon.sql.validate import check_query
from accessmon.names import did_you_mean
from accessmon.window import Window

if TYPE_CHECKING:
    import pyarrow as pa

    from accessmon.session import Session

STATES = ("RUNNING", "SUCCESS", "ERROR")
#: What `report state` says of a run whose process is gone (kill -9, a reboot).
INTERRUPTED = "interrupted"
_log = logging.getLogger("accessmon")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChartSpec(_Model):
    kind: Literal["bar", "line", "scatter", "pie"] = "bar"
    x: str = "event_date"
    y: str = "count"
    keys: str | None = "user"


class ReportQuery(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    title: str
    description: str = ""
    query: str
    suggestion: str = ""
    chart: ChartSpec = Field(default_factory=ChartSpec)


class ReportDefinition(_Model):
    kind: Literal["security_report"]
    name: str = Field(pattern=rf"^{NAME_PATTERN}$")  # pydantic's regex: `$` is the very end
    title: str
    description: str = ""
    version: str = "0.0.1"
    queries: list[ReportQuery] = Field(min_length=1)
    source: str = Field(default="built-in", exclude=True)


# -- definitions ------------------------------------------------------------------------------


def parse_definition(text: str, source: str) -> ReportDefinition:
    """One `kind: security_report` document; errors name the file, line and field."""
    doc = load_document(text, source)
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a kind: security_report mapping")
    try:
        report = ReportDefinition(**doc, source=source)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        field_name = ".".join(str(p) for p in loc)
        line = line_of(text, loc)
        where = f"{source}:{line}" if line else source
        raise ConfigError(f"{where}: {field_name}: {err['msg']}") from None
    for i, q in enumerate(report.queries):
        try:
            check_query(q.query)
        except AccessmonError as e:
            line = line_of(text, ("queries", i, "query"))
            where = f"{source}:{line}" if line else source
            raise ConfigError(f"{where}: queries.{i}.query ({q.name}): {e}") from None
    return report


def _builtin_texts() -> Iterator[tuple[str, str]]:
    folder = resources.files("accessmon") / "data" / "reports"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            yield f"built-in {entry.name}", entry.read_text(encoding="utf-8")


def load_definitions(reports_dir: Path) -> tuple[dict[str, ReportDefinition], list[str]]:
    """Built-in reports, then the user's from `reports_dir` (same name wins); and the errors
    of definitions that could not be loaded, so one bad file does not hide the others."""
    found: dict[str, ReportDefinition] = {}
    errors: list[str] = []
    texts = list(_builtin_texts())
    if reports_dir.is_dir():
        for path in sorted(reports_dir.glob("*.y*ml")):
            texts.append((str(path), path.read_text(encoding="utf-8")))
    for source, text in texts:
        try:
            report = parse_definition(text, source)
        except ConfigError as e:
            errors.append(str(e))
            continue
        found[report.name] = report
    return found, errors


def get_definition(reports_dir: Path, name: str) -> ReportDefinition:
    found, errors = load_definitions(reports_dir)
    if name in found:
        return found[name]
    for error in errors:
        if name in error:
            raise ConfigError(error)
    raise AccessmonError(f"no report {name}{did_you_mean(name, found)}")


# -- running ----------------------------------------------------------------------------------


@dataclass
class QueryOutcome:
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
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)


def _findings(table: pa.Table, y: str) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc

    if y in table.column_names and pa.types.is_integer(table.schema.field(y).type):
        return int(pc.sum(table.column(y)).as_py() or 0)
    return table.num_rows


def _split_by_date(table: pa.Table, window: Window) -> tuple[pa.Table, pa.Table] | None:
    """Current and previous window rows of one run over both, when rows carry event_date."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if "event_date" not in table.column_names:
        return None
    if not pa.types.is_date(table.schema.field("event_date").type):
        return None
    dates = table.column("event_date")
    current = pc.greater_equal(dates, pa.scalar(window.start, pa.date32()))
    return table.filter(current), table.filter(pc.invert(current))


def run_query(session: Session, q: ReportQuery, window: Window) -> QueryOutcome:
    """One report query over the window and the one before it (one run when rows carry
    event_date, so Athena scans the data once)."""
    outcome = QueryOutcome(
        q.name, q.title, q.description, q.suggestion, q.chart.model_dump(), q.query
    )
    previous = window.previous()
    try:
        both = session._execute(q.query, Window(previous.start, window.end))
        parts = _split_by_date(both.table, window)
        stats = both.stats.as_dict()
        if parts is None:
            current_table = session._execute(q.query, window).table
            previous_table = session._execute(q.query, previous).table
        else:
            current_table, previous_table = parts
    except AccessmonError as e:
        outcome.error = str(e)
        return outcome
    outcome.columns = current_table.column_names
    outcome.rows = [list(r.values()) for r in current_table.to_pylist()]
    outcome.findings = _findings(current_table, q.chart.y)
    outcome.previous_findings = _findings(previous_table, q.chart.y)
    keys = q.chart.keys
    if keys and keys in current_table.column_names:
        outcome.distinct_users = len(set(current_table.column(keys).to_pylist()))
    outcome.stats = stats
    return outcome


def check_run(session: Session, name: str, window: Window) -> ReportDefinition:
    """`use` on security_report, a safe name and a known report, before any file work;
    a refusal is audited and raised, and leaves no file behind."""
    fields = {"name": name, "engine": session.config.engine, **window.describe()}
    try:
        session.authorize("use", "security_report")
        check_name(name, "report")
        return get_definition(Path(session.config.reports_dir), name)
    except AccessmonError as e:
        session.audit(audit.REPORT_RUN, success=False, error=str(e), state="ERROR", **fields)
        raise


def run_report(
    session: Session,
    name: str,
    days: int | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    progress: Callable[[int, int, QueryOutcome], None] | None = None,
) -> ReportRun:
    """Run every query of a report: `use` on security_report, one audit line for the run."""
    window = Window.resolve(days, start, end)
    fields = {"name": name, "engine": session.config.engine, **window.describe()}
    definition = check_run(session, name, window)
    outcomes = []
    for i, q in enumerate(definition.queries, start=1):
        outcome = run_query(session, q, window)
        outcomes.append(outcome)
        if progress:
            progress(i, len(definition.queries), outcome)
    run = ReportRun(
        name=definition.name,
        title=definition.title,
        description=definition.description,
        version=definition.version,
        window={
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "days": window.days,
        },
        previous_window={
            "start": window.previous().start.isoformat(),
            "end": window.previous().end.isoformat(),
        },
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        user=session.user,
        engine=session.config.engine,
        queries=outcomes,
        state="ERROR" if any(q.error for q in outcomes) else "SUCCESS",
    )
    failed = [q.name for q in outcomes if q.error]
    session.audit(
        audit.REPORT_RUN,
        success=not failed,
        error=f"failed queries: {', '.join(failed)}" if failed else None,
        state=run.state,
        data_scanned_in_bytes=run.data_scanned_bytes,
        total_execution_time_in_millis=run.elapsed_ms,
        queries=[
            {
                "name": q.name,
                "rows": len(q.rows),
                "data_scanned_in_bytes": q.stats.get("data_scanned_in_bytes", 0),
                "total_execution_time_in_millis": q.stats.get("total_execution_time_in_millis", 0),
                "error": q.error,
            }
            for q in outcomes
        ],
        **fields,
    )
    return run


# -- results and state ------------------------------------------------------------------------


def state_name(name: str, window: Window) -> str:
    """Teleport's `<report>_<days>_days`, or `<report>_<from>_<to>` for a date range."""
    check_name(name, "report")
    if window.days:
        return f"{name}_{window.days}_days"
    return f"{name}_{window.start}_{window.end}"


#: What follows `<report>_` in a state file and in a results file: the window, then a stamp.
_STATE_SUFFIX = r"_(?:\d+_days|\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2})\.json"
_RESULTS_SUFFIX = r"_(?:\d+d|\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2})_\d{8}T\d{6}Z\.json"


def _state_dir(output_dir: Path) -> Path:
    return output_dir / ".state"


def write_state(output_dir: Path, key: str, state: str, **extra: Any) -> None:
    check_name(key, "report state")
    doc = {"name": key, "state": state, "updated_at": dt.datetime.now(dt.UTC).isoformat(), **extra}
    atomic_write_text(json.dumps(doc, indent=1), _state_dir(output_dir) / f"{key}.json")


def _own_files(folder: Path, name: str, suffix: str) -> list[Path]:
    """The files of report `name` in `folder` only: no glob, so neither a name nor a longer
    report's prefix (`team` and `team_checks`) reaches files that are not its own."""
    pattern = re.compile(re.escape(check_name(name, "report")) + suffix)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name) and p.is_file())


def _state_doc(path: Path) -> dict[str, Any] | None:
    """A state file's document, or None (with a warning) for anything else found there."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        _log.warning("warning: skipping %s: not a report state file (%s)", path, e)
        return None
    if not (
        isinstance(doc, dict)
        and all(isinstance(doc.get(k), str) for k in ("name", "state", "updated_at"))
    ):
        _log.warning("warning: skipping %s: not a report state file", path)
        return None
    return doc


def _host_pid(prefix: str, text: str) -> tuple[str, int] | None:
    host, _, rest = text.removeprefix(prefix).rpartition(".")
    return (host, int(rest)) if host and rest.isdigit() else None


def _gone(doc: dict[str, Any]) -> bool:
    """A RUNNING state written by a process of this host that no longer exists."""
    pid = doc.get("pid")
    if doc.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def read_states(output_dir: Path, name: str) -> list[dict[str, Any]]:
    """The report's state documents, newest first; a RUNNING run whose process is gone
    reads as ERROR (interrupted)."""
    docs = []
    for path in _own_files(_state_dir(output_dir), name, _STATE_SUFFIX):
        doc = _state_doc(path)
        if doc is None:
            continue
        if doc["state"] == "RUNNING" and _gone(doc):
            doc = {**doc, "state": "ERROR", "error": INTERRUPTED}
        docs.append(doc)
    return sorted(docs, key=lambda d: d["updated_at"], reverse=True)


def mark_interrupted(output_dir: Path, name: str) -> None:
    """Under the report's lock no run of it is in progress: a RUNNING state is a leftover."""
    for path in _own_files(_state_dir(output_dir), name, _STATE_SUFFIX):
        doc = _state_doc(path)
        if doc is not None and doc["state"] == "RUNNING":
            extra = {k: v for k, v in doc.items() if k not in ("name", "state", "updated_at")}
            write_state(output_dir, doc["name"], "ERROR", **{**extra, "error": INTERRUPTED})


RUN_PREFIX = ".run-"


def run_folder_prefix() -> str:
    """`.run-<host>.<pid>.`: the scratch folder of a headless run, named after its process."""
    return f"{RUN_PREFIX}{socket.gethostname()}.{os.getpid()}."


def remove_dead_run_folders(output_dir: Path) -> list[Path]:
    """The scratch folders of this user's runs on this host whose process is gone (kill -9),
    as the DuckDB engine does for its spill folders."""
    host, removed = socket.gethostname(), []
    if not output_dir.is_dir():
        return removed
    for entry in output_dir.iterdir():
        if not entry.name.startswith(RUN_PREFIX):
            continue
        found = _host_pid(RUN_PREFIX, entry.name.rsplit(".", 1)[0])
        if found is None or found[0] != host or _alive(found[1]):
            continue
        try:
            if entry.is_dir() and entry.stat().st_uid == os.getuid():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        except OSError:
            continue
    return removed


def latest_results(output_dir: Path, name: str) -> Path | None:
    candidates = sorted(
        _own_files(output_dir, name, _RESULTS_SUFFIX), key=lambda p: p.stat().st_mtime
    )
    return candidates[-1] if candidates else None


def report_lock(
    output_dir: Path, name: str, wait_seconds: float, session: Session | None = None, **fields: Any
):
    """Serialise runs of one report: an overlapping cron run waits, then gives up cleanly
    (and, given the session, the give-up is a failed run in the audit trail)."""
    path = _state_dir(output_dir) / f"{check_name(name, 'report')}.lock"

    def busy() -> ReportBusy:
        error = ReportBusy(f"another run of {name} is in progress (lock {path}); try again later")
        if session is not None:
            session.audit(audit.REPORT_RUN, success=False, error=str(error), name=name, **fields)
        return error

    return exclusive(path, wait_seconds, busy)


class ReportBusy(AccessmonError):
    """Another run of the same report holds its lock."""


# -- display ----------------------------------------------------------------------------------

_CSS = """
<style>
.am-report { font-family: system-ui, sans-serif; max-width: 1100px; }
.am-report table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
.am-report th, .am-report td { border: 1px solid #ddd; padding: 4px 8px; text-align: left !important; }
.am-report th { background: #f4f5f7; }
.am-suggestion { border-left: 4px solid #512fc9; background: #f3f0ff; padding: 8px 12px;
  margin: 8px 0; }
.am-error { border-left: 4px solid #c62828; background: #fdecea; padding: 8px 12px; }
.am-none { color: #2e7d32; font-weight: 600; }
.am-meta td:first-child { font-weight: 600; }
</style>
"""


def _table(columns: list[str], rows: list[list[Any]], limit: int = 10) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
        for row in rows[:limit]
    )
    more = (
        f"<p>… {len(rows) - limit} more rows in the results JSON</p>" if len(rows) > limit else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return str(value)


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def header_html(run: ReportRun) -> str:
    w = run.window
    window = f"{w['start']} to {w['end']}" + (f" (last {w['days']} days)" if w.get("days") else "")
    meta = [
        ("Window", window),
        ("Generated", run.generated_at),
        ("Run by", run.user),
        ("Engine", run.engine),
        ("Data scanned", _bytes(run.data_scanned_bytes)),
        ("Query time", f"{run.elapsed_ms / 1000:.2f} s"),
        ("State", run.state),
    ]
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in meta
    )
    return (
        f"{_CSS}<div class='am-report'><h1>{html.escape(run.title)}</h1>"
        f"<p>{html.escape(run.description)}</p><table class='am-meta'>{rows}</table></div>"
    )


def summary_html(run: ReportRun) -> str:
    rows = []
    for q in run.queries:
        change = q.change
        trend = "" if change is None else (f"+{change}" if change > 0 else str(change))
        rows.append([q.title, q.findings if not q.error else "", q.distinct_users or "",
                     trend, q.status])  # fmt: skip
    columns = ["Query", "Findings", "Distinct users", "Change vs previous window", "Status"]
    return f"<div class='am-report'><h2>Summary</h2>{_table(columns, rows, limit=100)}</div>"


def section_html(q: QueryOutcome) -> tuple[str, str]:
    """(before the chart, after the chart) for one query."""
    head = (
        f"<div class='am-report'><h2>{html.escape(q.title)}</h2><p>{html.escape(q.description)}</p>"
    )
    if q.error:
        return head + f"<div class='am-error'>Query failed: {html.escape(q.error)}</div></div>", ""
    if not q.findings:
        head += "<p class='am-none'>No findings in this window.</p>"
    tail = f"<div class='am-suggestion'><b>Suggestion:</b> {html.escape(q.suggestion)}</div>"
    if q.rows:
        tail += _table(q.columns, q.rows)
    return head + "</div>", f"<div class='am-report'>{tail}</div>"


def query_figure(q: QueryOutcome):
    """The report's chart for one query: a stacked bar of count per event_date by key."""
    from accessmon.reports.charts import figure

    c = q.chart
    return figure(q.frame(), c["kind"], c["x"], c["y"], c.get("keys"), title=q.title)


def plotlyjs_bundle() -> dict[str, str]:
    """plotly.js, once per notebook, inline: exported HTML then draws its charts offline.

    plotly's own renderers either need a CDN (`notebook_connected`), render nothing
    headless (`plotly_mimetype`), or add a MathJax CDN script to every chart (`notebook`).
    """
    from plotly.offline import get_plotlyjs

    return {"text/html": f'<script type="text/javascript">{get_plotlyjs()}</script>'}


def figure_bundle(fig) -> dict[str, Any]:
    """One chart: plotly's mimetype for JupyterLab, and a div for the exported HTML."""
    spec = json.loads(fig.to_json())
    spec["config"] = {"displaylogo": False, "responsive": True}
    div = fig.to_html(
        full_html=False, include_plotlyjs=False, include_mathjax=False, default_width="100%",
        config=spec["config"],
    )  # fmt: skip
    return {"application/vnd.plotly.v1+json": spec, "text/html": div}


def display_report(run: ReportRun) -> None:
    """Render a run in a notebook: header, summary, then a chart and suggestion per query."""
    from IPython.display import HTML, display

    display(plotlyjs_bundle(), raw=True)
    display(HTML(header_html(run)))
    display(HTML(summary_html(run)))
    for q in run.queries:
        before, after = section_html(q)
        display(HTML(before))
        if q.rows and not q.error:
            display(figure_bundle(query_figure(q)), raw=True)
        if after:
            display(HTML(after))


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
    atomic_write_text(run.to_json(), path)
    return path
