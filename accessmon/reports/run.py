"""Running a report: the role check, then each query over the window and the one before it.

One audit line records the whole run (allowed, refused or failed), with what each query
scanned; a failing query is kept as an error in the results, not raised, so the others show.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from accessmon._io import file_stamp, utc_now, utc_timestamp
from accessmon.errors import AccessmonError
from accessmon.names import check_name
from accessmon.reports import provenance, quality
from accessmon.reports.definitions import ReportDefinition, ReportQuery, get_definition
from accessmon.reports.drilldown import attach_events
from accessmon.reports.findings import fill_findings
from accessmon.reports.history import assign_statuses, read_history, run_path
from accessmon.reports.results import QueryOutcome, ReportRun
from accessmon.reports.suppressions import applied, apply_suppressions, load_suppressions
from accessmon.storage import audit
from accessmon.window import Window

if TYPE_CHECKING:
    import pyarrow as pa

    from accessmon.session import Session


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
        executed = shown = [both]  # the engine's runs behind the rows, for the provenance
        if parts is None:
            shown = [session._execute(q.query, window), session._execute(q.query, previous)]
            executed = [both, *shown]
            current_table, previous_table = shown[0].table, shown[1].table
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
    provenance.stamp(outcome, executed, shown[0])
    fill_findings(outcome, q, current_table)
    drilled = attach_events(session, outcome, window, session.config.report.events_per_finding)
    if drilled:  # the drill-down's scan counts toward the run's (and the Athena budget's)
        outcome.stats = {**stats, "drilldown": drilled}
        for k in ("data_scanned_in_bytes", "total_execution_time_in_millis"):
            outcome.stats[k] = int(stats.get(k) or 0) + int(drilled.get(k) or 0)
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
    window: Window,
    progress: Callable[[int, int, QueryOutcome], None] | None = None,
    out_dir: Path | None = None,
) -> ReportRun:
    """Run every query of a report: `use` on security_report, one audit line for the run.

    Given the output folder, each finding is new or persisting and the fixed ones resolved,
    against the report's findings history there (`history.py`); the caller saves the run,
    then appends it to that history (`history.append_run`)."""
    fields = {"name": name, "engine": session.config.engine, **window.describe()}
    started_at = utc_timestamp()
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
        generated_at=utc_timestamp(),
        user=session.user,
        engine=session.config.engine,
        queries=outcomes,
        state="ERROR" if any(q.error for q in outcomes) else "SUCCESS",
        run_id=f"{definition.name}_{window.label()}_{file_stamp()}",
        started_at=started_at,
    )
    now = utc_now()
    if out_dir is not None:
        assign_statuses(run, read_history(run_path(out_dir, run)))
    run.quality = quality.collect(session, definition, window, now)
    unreadable: list[str] = []
    apply_suppressions(run, load_suppressions(session, report=name, errors=unreadable), now)
    run.quality.setdefault("warnings", []).extend(
        f"a suppression was left out: {error}" for error in unreadable
    )
    run.ended_at = utc_timestamp()
    run.provenance = provenance.collect(session, run, window)
    run.provenance["suppressions_applied"] = applied(run)
    failed = [q.name for q in outcomes if q.error]
    session.audit(
        audit.REPORT_RUN,
        success=not failed,
        error=f"failed queries: {', '.join(failed)}" if failed else None,
        state=run.state,
        data_scanned_in_bytes=run.data_scanned_bytes + quality.scanned_bytes(run.quality),
        quality_checks=run.quality.get("checks"),  # the data-quality queries' ids and bytes
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
