"""A report run as HTML: header, summary and one section per query, with its plotly chart.

The same pieces serve JupyterLab and the exported file: each chart goes out both as
plotly's mimetype and as a div, and plotly.js is sent once, inline, so the HTML works offline.
"""

from __future__ import annotations

from accessmon.text import html_table, human_bytes

import html
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from accessmon.reports.results import QueryOutcome, ReportRun

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
    more = (
        f"<p>… {len(rows) - limit} more rows in the results JSON</p>" if len(rows) > limit else ""
    )
    return html_table(columns, rows[:limit]) + more


def header_html(run: ReportRun) -> str:
    w = run.window
    window = f"{w['start']} to {w['end']}" + (f" (last {w['days']} days)" if w.get("days") else "")
    meta = [
        ("Window", window),
        ("Generated", run.generated_at),
        ("Run by", run.user),
        ("Engine", run.engine),
        ("Data scanned", human_bytes(run.data_scanned_bytes)),
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


def query_figure(q: QueryOutcome) -> Figure:
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
