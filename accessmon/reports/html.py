"""A report run as one worklist page: header, table of contents, summary, one section per query
(chart, findings, their events, resolved ones, every row), suppressions, data quality and
provenance.

The same pieces serve JupyterLab and the exported file. Charts go out both as plotly's
mimetype and as a div; plotly.js, DataTables and the page's style and script are sent once,
inline, so the HTML works offline. Every field a run may lack (a results file from before
findings had identity, a first run, a failed query) renders as a plain note.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

from accessmon.reports.assets import libraries_bundle, page_assets, plotlyjs_bundle
from accessmon.text import cell_text, html_table, human_bytes

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from accessmon.reports.results import Finding, QueryOutcome, ReportRun

__all__ = [
    "display_report",
    "figure_bundle",
    "header_html",
    "plotlyjs_bundle",
    "query_figure",
    "section_html",
    "summary_html",
]

#: Engines whose queries are measured in bytes scanned (Athena bills them; Trino reports them).
_SCANNING_ENGINES = ("athena", "trino")
_COUNTS = ("new", "persisting", "resolved", "suppressed", "open")


def _e(value: Any) -> str:
    return html.escape(cell_text(value))


def _plain(columns: list[str], rows: list[list[Any]]) -> str:
    return f"<div class='am-scroll'>{html_table(columns, rows, css_class='am-plain')}</div>"


def _badge(kind: str, text: str) -> str:
    return f"<span class='am-badge am-st-{kind}'>{html.escape(text)}</span>"


# -- what a run says about itself ---------------------------------------------------------------


def scans_bytes(run: ReportRun) -> bool:
    """Whether "Data scanned" means anything: on Athena always, on Trino when its statistics
    report bytes; DuckDB reads local files and scans nothing that is billed."""
    engines = {str(q.stats.get("engine") or run.engine) for q in run.queries} or {run.engine}
    if "athena" in engines:
        return True
    return bool(engines & set(_SCANNING_ENGINES)) and run.data_scanned_bytes > 0


def has_history(q: QueryOutcome) -> bool:
    """Whether the outcome carries findings with identity (not an old results file)."""
    return bool(q.items or q.resolved) or not q.findings


def query_state(q: QueryOutcome) -> tuple[str, str]:
    """(colour, label) of a query: error, new open findings, open findings, or none."""
    if q.error:
        return "error", "error"
    if not has_history(q):
        return "open", "findings"
    new = sum(1 for f in q.items if f.status == "new" and f.is_open)
    open_ = q.counts()["open"]
    if new:
        return "new", f"{new} new"
    if open_:
        return "open", f"{open_} open"
    return "none", "no open findings" if q.items else "no findings"


def quality_problems(run: ReportRun) -> list[str]:
    """What the top banner says: stale data, days without events, fields null everywhere."""
    quality = run.quality or {}
    problems: list[str] = []
    if quality.get("stale"):
        lag, limit = quality.get("lag_hours"), quality.get("max_lag_hours")
        newest = quality.get("newest_event") or "never"
        problems.append(
            f"Stale data: the newest event is from {newest}"
            + (f", {lag:.1f} hours before this run" if isinstance(lag, int | float) else "")
            + (f" (more than the {limit:g}-hour limit)." if isinstance(limit, int | float) else ".")
        )
    if quality.get("empty_days"):
        days = ", ".join(map(str, quality["empty_days"]))
        problems.append(f"Gaps: no events at all on {days}.")
    for f in quality.get("fields") or []:
        if f.get("always_null"):
            problems.append(
                f"{f.get('view')}.{f.get('field')} is null in every row of the window "
                f"(used by {', '.join(f.get('queries') or [])}): was it renamed upstream?"
            )
    if problems:
        problems += [w for w in quality.get("warnings") or [] if w not in problems]
    return problems


# -- header, banner, contents and summary -------------------------------------------------------


def header_html(run: ReportRun) -> str:
    w = run.window
    window = f"{w['start']} to {w['end']}" + (f" (last {w['days']} days)" if w.get("days") else "")
    meta = [
        ("Window", window),
        ("Generated", run.generated_at),
        ("Run by", run.user),
        ("Engine", run.engine),
    ]
    if scans_bytes(run):
        meta.append(("Data scanned", human_bytes(run.data_scanned_bytes)))
    meta += [("Query time", f"{run.elapsed_ms / 1000:.2f} s"), ("State", run.state)]
    if any(q.items or q.resolved for q in run.queries):
        meta.append(("Compared with", run.previous_run or "no earlier run: every finding is new"))
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{_e(v)}</td></tr>" for k, v in meta)
    return (
        f"<div class='am-report'><h1>{html.escape(run.title)}</h1>"
        f"<p>{html.escape(run.description)}</p><table class='am-meta am-plain'>{rows}</table>"
        f"{banner_html(run)}</div>"
    )


def banner_html(run: ReportRun) -> str:
    """Stale or incomplete data, said at the top of the report and not only in its panel."""
    problems = quality_problems(run)
    if not problems:
        return ""
    items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
    return (
        f"<div class='am-banner' role='alert'><b>Data quality:</b> the findings below may be "
        f"incomplete.<ul>{items}</ul><a href='#quality'>Data quality details</a></div>"
    )


def toc_html(run: ReportRun) -> str:
    links = [("summary", "Summary")]
    links += [(f"q-{q.name}", q.title) for q in run.queries]
    links += [("suppressed", "Suppressed findings"), ("quality", "Data quality"),
              ("provenance", "Provenance")]  # fmt: skip
    items = "".join(f"<li><a href='#{html.escape(a)}'>{html.escape(t)}</a></li>" for a, t in links)
    return f"<nav class='am-report am-toc' id='contents'><b>Contents</b><ol>{items}</ol></nav>"


def summary_html(run: ReportRun) -> str:
    """One row per query, linked to its section and coloured by its state; new first. The
    counts columns show when the run has findings with identity (not in old results files)."""
    counted = any(q.items or q.resolved for q in run.queries)
    counts_cols = [k.capitalize() for k in _COUNTS] if counted else []
    columns = ["Query", "Status", *counts_cols, "Findings", "Change vs previous window"]
    order = sorted(run.queries, key=lambda q: query_state(q)[0] != "new")
    rows = []
    for q in order:
        kind, label = query_state(q)
        change = q.change
        trend = "" if change is None else (f"+{change}" if change > 0 else str(change))
        counts = q.counts() if has_history(q) and not q.error else {}
        cells = [
            f"<a href='#q-{html.escape(q.name)}'>{html.escape(q.title)}</a>",
            _badge(kind, label),
            *[str(counts[k]) if k in counts else "" for k in _COUNTS if counted],
            "" if q.error else str(q.findings),
            trend,
        ]
        tds = "".join(
            f"<td data-label='{html.escape(c)}'{' class=am-num' if i > 1 else ''}>{v}</td>"
            for i, (c, v) in enumerate(zip(columns, cells, strict=True))
        )
        rows.append(f"<tr class='am-row-{kind}'>{tds}</tr>")
    head = "".join(f"<th{' class=am-num' if i > 1 else ''}>{html.escape(c)}</th>"
                   for i, c in enumerate(columns))  # fmt: skip
    table = (
        f"<table class='am-plain am-summary'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return (
        f"<div class='am-report' id='summary'><h2>Summary</h2>{table}{new_findings_html(run)}</div>"
    )


def new_findings_html(run: ReportRun, limit: int = 20) -> str:
    """The open new findings of every query, each a link to its events."""
    new = [(q, n, f) for q in run.queries for n, f in enumerate(q.items)
           if f.status == "new" and f.is_open]  # fmt: skip
    if not new:
        return ""
    items = "".join(
        f"<li><a class='am-drill' href='#{finding_anchor(q, n)}'>{html.escape(q.title)}: "
        f"{html.escape(key_text(f))}</a> ({f.measure})</li>"
        for q, n, f in new[:limit]
    )
    more = (
        f"<li>… and {len(new) - limit} more in the sections below</li>" if len(new) > limit else ""
    )
    return f"<h3>New findings ({len(new)})</h3><ul>{items}{more}</ul>"


# -- one query ----------------------------------------------------------------------------------


def finding_anchor(q: QueryOutcome, n: int) -> str:
    """The id of a finding's drill-down block: the query's name is `[A-Za-z0-9_.-]+`."""
    return f"f-{q.name}-{n}"


def key_text(f: Finding) -> str:
    return ", ".join(f"{k}={cell_text(v)}" for k, v in f.key.items())


def counts_html(q: QueryOutcome) -> str:
    if q.error or not has_history(q):
        return ""
    c = q.counts()
    items = "".join(f"<li>{c[k]} {k}</li>" for k in _COUNTS)
    return f"<ul class='am-counts'>{items}</ul>"


def section_html(q: QueryOutcome, run: ReportRun | None = None) -> tuple[str, str]:
    """(before the chart, after the chart) for one query."""
    kind, label = query_state(q)
    head = (
        f"<div class='am-report'><section id='q-{html.escape(q.name)}'>"
        f"<h2>{html.escape(q.title)} {_badge(kind, label)}</h2>"
        f"<p>{html.escape(q.description)}</p>{counts_html(q)}"
    )
    if not q.key_declared and q.key_columns:
        head += (
            "<p class='am-note'>This custom report declares no finding_key; findings are keyed "
            f"by all non-measure columns ({html.escape(', '.join(q.key_columns))}).</p>"
        )
    if q.error:
        error = f"<div class='am-error'>Query failed: {html.escape(q.error)}</div>"
        return head + error + "</section></div>", ""
    if not q.findings and not q.items:
        head += "<p class='am-none'>No findings in this window.</p>"
    elif not has_history(q):
        head += "<p class='am-note'>These results carry no finding history: which findings "
        head += "are new, persisting or resolved is not known.</p>"
    tail = f"<div class='am-suggestion'><b>Suggestion:</b> {html.escape(q.suggestion)}</div>"
    tail += findings_html(q, run) + resolved_html(q)
    if q.rows:
        tail += f"<h3>All {len(q.rows)} result rows</h3>"
        tail += datatable(f"t-{_slug(q.name)}-rows", q.columns, q.rows)
    tail += "<script>window.amReport && window.amReport.bindCharts(10)</script>"
    return head + "</section></div>", f"<div class='am-report'>{tail}</div>"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def _suppression_cell(f: Finding, run: ReportRun | None) -> str:
    if f.suppression:
        s = _suppression(run, f.suppression)
        left = f", {s['days_left']} days left" if s and s.get("days_left") is not None else ""
        owner = f" ({s['owner']}{left})" if s and s.get("owner") else ""
        return html.escape(f"{f.suppression}{owner}")
    if f.suppression_expired:
        return _badge("expired", "suppression expired") + " " + html.escape(f.suppression_expired)
    return ""


def _suppression(run: ReportRun | None, name: str) -> dict[str, Any] | None:
    return next((s for s in (run.suppressions if run else []) if s.get("name") == name), None)


def _status_cell(f: Finding) -> str:
    badge = _badge("new" if f.status == "new" else "open", f.status)
    if f.suppression:
        badge += " " + _badge("suppressed", "suppressed")
    return badge


def findings_html(q: QueryOutcome, run: ReportRun | None = None) -> str:
    """Every finding in a sortable, searchable table (new first), then each one's events."""
    if not q.items:
        return ""
    keys = q.key_columns or list(q.items[0].key)
    order = sorted(range(len(q.items)), key=lambda n: q.items[n].status != "new")
    rows = []
    for n in order:
        f = q.items[n]
        events = f"{f.events_total} events" if f.events_total else "details"
        rows.append([
            _status_cell(f),
            *[_e(f.key.get(k)) for k in keys],
            f.measure,
            _e(f.first_seen), _e(f.last_seen),
            "" if f.age_days is None else f.age_days,
            _suppression_cell(f, run),
            f"<a class='am-drill' href='#{finding_anchor(q, n)}'>{events}</a>",
        ])  # fmt: skip
    columns = ["status", *keys, "measure", "first seen", "last seen", "age (days)",
               "suppression", "events"]  # fmt: skip
    table = datatable(f"t-{_slug(q.name)}-findings", columns, rows, escaped=True)
    drills = "".join(drilldown_html(q, n, q.items[n]) for n in order)
    return (
        f"<h3>Findings ({len(q.items)})</h3>{table}"
        f"<h3>Events per finding</h3><div class='am-drills'>{drills}</div>"
    )


def drilldown_html(q: QueryOutcome, n: int, f: Finding) -> str:
    """A finding's events in a closed block that its links and chart bars open."""
    shown = len(f.events)
    if f.events_total > shown:
        note = f"showing {shown} of {f.events_total} events"
    else:
        note = f"{shown} event{'s' if shown != 1 else ''}"
    body = (
        _plain(q.event_columns, f.events)
        if f.events and q.event_columns
        else "<p class='am-note'>No events recorded for this finding.</p>"
    )
    return (
        f"<details class='am-finding' id='{finding_anchor(q, n)}'><summary>"
        f"{_status_cell(f)} {html.escape(key_text(f))}: {html.escape(note)}</summary>{body}</details>"
    )


def resolved_html(q: QueryOutcome) -> str:
    if not q.resolved:
        return ""
    keys = q.key_columns or list(q.resolved[0].key)
    rows = [[*[f.key.get(k) for k in keys], f.measure, f.first_seen, f.last_seen]
            for f in q.resolved]  # fmt: skip
    return f"<h3>Resolved since the previous run ({len(q.resolved)})</h3>" + _plain(
        [*keys, "measure", "first seen", "last seen"], rows
    )


def datatable(
    table_id: str, columns: list[str], rows: list[list[Any]], escaped: bool = False
) -> str:
    """All rows in a sortable, searchable, paginated DataTable (itables), offline: the
    library itself comes once with `libraries_bundle`. Cells are escaped here unless
    `escaped` (the caller built them as HTML). Every cell goes as text: DataTables detects
    columns of numbers (empty cells allowed) and sorts them as numbers."""
    import pandas as pd
    from itables import to_html_datatable

    data: dict[str, list[str]] = {}
    for i, name in enumerate(columns):
        values = [r[i] if i < len(r) else None for r in rows]
        data[name] = [v if escaped and isinstance(v, str) else _e(v) for v in values]
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in data.items()})
    frame.columns = [html.escape(c) for c in columns]
    return to_html_datatable(
        frame, table_id=table_id, connected=False, allow_html=True, showIndex=False,
        maxBytes=0, maxRows=0, maxColumns=0, pageLength=10, lengthMenu=[10, 25, 100, -1],
        classes="display compact nowrap", scrollX=True, display_logo_when_loading=False,
    )  # fmt: skip


# -- suppressions, data quality, provenance -----------------------------------------------------


def suppressed_html(run: ReportRun) -> str:
    """Suppressed findings with owner, reason, ticket and days left; expired and stale ones."""
    out = ["<div class='am-report'><section id='suppressed'><h2>Suppressed findings</h2>"]
    hidden = [(q, n, f) for q in run.queries for n, f in enumerate(q.items) if f.suppression]
    if hidden:
        rows = []
        for q, n, f in hidden:
            s = _suppression(run, f.suppression) or {}
            rows.append(
                f"<tr><td><a class='am-drill' href='#{finding_anchor(q, n)}'>"
                f"{html.escape(q.title)}: {html.escape(key_text(f))}</a></td>"
                f"<td>{f.measure}</td><td>{_e(f.suppression)}</td><td>{_e(s.get('owner'))}</td>"
                f"<td>{_e(s.get('reason'))}</td><td>{_ticket(s.get('ticket'))}</td>"
                f"<td>{_e(s.get('days_left'))}</td></tr>"
            )
        head = "".join(f"<th>{c}</th>" for c in ("finding", "measure", "suppression", "owner",
                                                  "reason", "ticket", "days left"))  # fmt: skip
        out.append(f"<div class='am-scroll'><table class='am-plain'><thead><tr>{head}</tr>"
                   f"</thead><tbody>{''.join(rows)}</tbody></table></div>")  # fmt: skip
    else:
        out.append("<p class='am-note'>No finding is suppressed in this run.</p>")
    expired = [(q, n, f) for q in run.queries for n, f in enumerate(q.items)
               if f.suppression_expired]  # fmt: skip
    if expired:
        links = "".join(
            f"<li><a class='am-drill' href='#{finding_anchor(q, n)}'>{html.escape(q.title)}: "
            f"{html.escape(key_text(f))}</a>: open again, suppression expired "
            f"({html.escape(f.suppression_expired or '')})</li>"
            for q, n, f in expired
        )
        out.append(f"<h3>Open again: suppression expired ({len(expired)})</h3><ul>{links}</ul>")
    if run.suppressions:
        rows = []
        for s in run.suppressions:
            status = str(s.get("status") or "active")
            flag = {"expired": "expired", "stale": "stale: matches nothing"}.get(status, status)
            match = ", ".join(f"{k}={v}" for k, v in (s.get("match") or {}).items())
            rows.append(
                f"<tr><td>{_e(s.get('name'))}</td><td>{_e(s.get('query') or s.get('report'))}"
                f"</td><td>{html.escape(match)}</td><td>{_e(s.get('owner'))}</td>"
                f"<td>{_e(s.get('reason'))}</td><td>{_ticket(s.get('ticket'))}</td>"
                f"<td>{_e(s.get('expires'))}</td><td>{_e(s.get('days_left'))}</td>"
                f"<td>{_e(s.get('matched'))}</td>"
                f"<td>{_badge(status if status in ('expired', 'stale') else 'suppressed', flag)}"
                "</td></tr>"
            )
        head = "".join(f"<th>{c}</th>" for c in ("suppression", "query", "match", "owner",
                                                  "reason", "ticket", "expires", "days left",
                                                  "matched", "status"))  # fmt: skip
        out.append(f"<h3>Suppressions of this report ({len(run.suppressions)})</h3>"
                   f"<div class='am-scroll'><table class='am-plain'><thead><tr>{head}</tr>"
                   f"</thead><tbody>{''.join(rows)}</tbody></table></div>")  # fmt: skip
    return "".join(out) + "</section></div>"


def _ticket(url: Any) -> str:
    if not url:
        return ""
    text = html.escape(str(url))
    if str(url).startswith(("https://", "http://")):
        return f"<a href='{text}' rel='noopener noreferrer'>{text}</a>"
    return text


def quality_html(run: ReportRun) -> str:
    """Freshness against its limit, days without events, null rates of the fields used."""
    q = run.quality or {}
    out = ["<div class='am-report'><section id='quality'><h2>Data quality</h2>"]
    if not q:
        out.append("<p class='am-note'>This results file has no data-quality checks.</p>")
        return "".join(out) + "</section></div>"
    lag, limit = q.get("lag_hours"), q.get("max_lag_hours")
    fresh = _badge("open", "stale") if q.get("stale") else _badge("none", "fresh")
    lag_text = f"{lag:.1f} h" if isinstance(lag, int | float) else "unknown"
    limit_text = f"{limit:g} h" if isinstance(limit, int | float) else "not set"
    out.append(
        f"<p><b>Freshness</b> {fresh}: newest event {_e(q.get('newest_event') or 'none')}, "
        f"checked at {_e(q.get('now'))}; lag {lag_text} (limit {limit_text}).</p>"
    )
    empty = q.get("empty_days") or []
    out.append(
        f"<p><b>Days without events:</b> {html.escape(', '.join(map(str, empty)))}</p>"
        if empty
        else "<p><b>Days without events:</b> none.</p>"
    )
    fields = q.get("fields") or []
    if fields:
        rows = []
        for f in fields:
            rate = f.get("null_rate")
            warn = _badge("open", "null everywhere") if f.get("always_null") else ""
            rows.append([f.get("view"), f.get("field"), ", ".join(f.get("queries") or []),
                         f.get("rows"), f.get("nulls"),
                         f"{rate * 100:.1f} %" if isinstance(rate, int | float) else "", warn])  # fmt: skip
        body = "".join(
            "<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r[:-1]) + f"<td>{r[-1]}</td></tr>"
            for r in rows
        )
        head = "".join(f"<th>{c}</th>" for c in ("view", "field", "queries", "rows", "nulls",
                                                  "null rate", "warning"))  # fmt: skip
        out.append(f"<h3>Null rates of the fields the queries use</h3><div class='am-scroll'>"
                   f"<table class='am-plain'><thead><tr>{head}</tr></thead><tbody>{body}"
                   "</tbody></table></div>")  # fmt: skip
    warnings = q.get("warnings") or []
    if warnings:
        items = "".join(f"<li>{html.escape(str(w))}</li>" for w in warnings)
        out.append(f"<h3>Warnings</h3><ul>{items}</ul>")
    return "".join(out) + "</section></div>"


#: The agreed order of provenance keys; any others follow in their own order.
_PROVENANCE = ("rerun", "accessmon_version", "engine", "query_ids", "window", "started_at",
               "ended_at", "user", "role_decision", "sql_sha256", "results_sha256", "store",
               "suppressions_applied")  # fmt: skip


def _value_html(value: Any) -> str:
    if isinstance(value, dict):
        if not value:
            return ""
        rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{_value_html(v)}</td></tr>"
                       for k, v in value.items())  # fmt: skip
        return f"<table class='am-plain'>{rows}</table>"
    if isinstance(value, list | tuple):
        return ", ".join(_value_html(v) for v in value) or "none"
    return _e(value)


def provenance_html(run: ReportRun) -> str:
    """Everything an auditor needs to re-run exactly this report, in a compact table."""
    p = dict(run.provenance or {})
    out = ["<footer class='am-report am-footer'><section id='provenance'><h2>Provenance</h2>"]
    if not p:
        out.append("<p class='am-note'>This results file has no provenance record.</p>")
        return "".join(out) + "</section></footer>"
    keys = [k for k in _PROVENANCE if k in p] + [k for k in p if k not in _PROVENANCE]
    rows = []
    for k in keys:
        v = p[k]
        cell = f"<code>{_e(v)}</code>" if k == "rerun" else _value_html(v)
        rows.append(f"<tr><td>{html.escape(k)}</td><td>{cell}</td></tr>")
    if run.run_id:
        rows.append(f"<tr><td>run_id</td><td>{_e(run.run_id)}</td></tr>")
    out.append(
        f"<div class='am-scroll'><table class='am-plain am-meta'>{''.join(rows)}</table></div>"
    )
    return "".join(out) + "</section></footer>"


# -- charts and the notebook --------------------------------------------------------------------


def chart_anchors(q: QueryOutcome) -> list[str]:
    """For each result row, the anchor of the finding whose key its values carry ("" if none)."""
    if not q.items:
        return [""] * len(q.rows)
    keys = q.key_columns or list(q.items[0].key)
    if not all(k in q.columns for k in keys):
        return [""] * len(q.rows)
    where = [q.columns.index(k) for k in keys]
    index = {
        tuple(cell_text(f.key.get(k)) for k in keys): finding_anchor(q, n)
        for n, f in enumerate(q.items)
    }
    return [index.get(tuple(cell_text(r[i]) for i in where), "") for r in q.rows]


def query_figure(q: QueryOutcome) -> Figure:
    """The report's chart for one query: a stacked bar of count per event_date by key. Each
    bar carries its finding's anchor (customdata) for the drill-down; the legend sits below the
    plot, horizontal, so it covers nothing on a phone."""
    from accessmon.reports.charts import figure

    c = q.chart
    frame = q.frame()
    frame["_finding"] = chart_anchors(q)
    fig = figure(frame, c["kind"], c["x"], c["y"], c.get("keys"), title=q.title,
                 custom_data=["_finding"])  # fmt: skip
    fig.update_layout(
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0, "xanchor": "left"},
        margin={"t": 50, "l": 50, "r": 20},
        height=480,
    )
    if c["x"] == "event_date":  # dates need no axis title; the legend takes its place
        fig.update_xaxes(title_text=None)
    return fig


def figure_bundle(fig: Figure) -> dict[str, Any]:
    """One chart: plotly's mimetype for JupyterLab, and a div for the exported HTML."""
    spec = json.loads(fig.to_json())
    spec["config"] = {"displaylogo": False, "responsive": True}
    div = fig.to_html(
        full_html=False, include_plotlyjs=False, include_mathjax=False, default_width="100%",
        config=spec["config"],
    )  # fmt: skip
    return {"application/vnd.plotly.v1+json": spec, "text/html": div}


def display_report(run: ReportRun) -> None:
    """Render a run in a notebook: header, contents and summary; plotly.js and DataTables
    once; a chart, findings and their events per query; suppressions, quality, provenance."""
    from IPython.display import HTML, display

    display(HTML(page_assets() + header_html(run) + toc_html(run) + summary_html(run)))
    display(libraries_bundle(), raw=True)
    for q in run.queries:
        before, after = section_html(q, run)
        display(HTML(before))
        if q.rows and not q.error:
            display(figure_bundle(query_figure(q)), raw=True)
        if after:
            display(HTML(after))
    display(HTML(suppressed_html(run) + quality_html(run) + provenance_html(run)))
