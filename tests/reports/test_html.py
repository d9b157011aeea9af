"""A run as HTML: escaped text, the summary's trends, sections with or without findings, charts."""

from __future__ import annotations

import json

import pytest

from accessmon.reports import html
from accessmon.reports.html import (
    display_report,
    figure_bundle,
    header_html,
    plotlyjs_bundle,
    query_figure,
    section_html,
    summary_html,
)

from .test_results import outcome, report_run


def test_the_header_escapes_and_sums_the_run():
    page = header_html(
        report_run(outcome(), outcome("b", stats={"data_scanned_in_bytes": 3 << 20}))
    )
    assert "<h1>Team &lt;checks&gt;</h1>" in page and "Checks &amp; balances" in page
    assert "2024-03-15 to 2024-03-21 (last 7 days)" in page
    assert "<td>Data scanned</td><td>3.0 MB</td>" in page  # 2 KB + 3 MB
    assert "<td>Query time</td><td>1.50 s</td>" in page
    assert "<style>" in page


def test_the_summary_shows_each_query_trend_and_status():
    run = report_run(
        outcome("up"),
        outcome("down", title="Down", findings=1, previous_findings=4),
        outcome("new", title="New", previous_findings=None),
        outcome("failed", title="Failed", error="boom"),
    )
    summary = summary_html(run)
    rows = summary.split("<tr>")[2:]
    assert "<td>+3</td><td>findings</td>" in rows[0]
    assert "<td>-3</td>" in rows[1]
    assert "<td>2</td><td></td><td>findings</td>" in rows[2]  # no previous window, no trend
    assert "<td>Failed</td><td></td><td>2</td><td></td><td>error</td>" in rows[3]


def test_sections_with_findings_none_or_an_error():
    before, after = section_html(outcome(description="<b>who</b>"))
    assert "<h2>Root logins</h2>" in before and "&lt;b&gt;who&lt;/b&gt;" in before
    assert "<b>Suggestion:</b> Use personal logins." in after
    assert "<td>2024-03-20</td><td>2</td><td>alice</td>" in after
    before, after = section_html(outcome(findings=0, rows=[]))
    assert "No findings in this window." in before and "<table>" not in after
    before, after = section_html(outcome(error="Binder <error>"))
    assert "Query failed: Binder &lt;error&gt;" in before and after == ""


def test_long_tables_are_cut_with_a_pointer_to_the_results():
    rows = [[f"2024-03-{d:02d}", d, [f"u{d}", None]] for d in range(1, 16)]
    _, after = section_html(outcome(rows=rows, columns=["event_date", "count", "users"]))
    assert after.count("<tr>") == 11  # header and ten rows
    assert "<td>[u1, NULL]</td>" in after  # NULL in an array, as Athena prints it and "… 5 more rows in the results JSON" in after


def test_charts_go_out_as_plotly_json_and_an_offline_div():
    fig = query_figure(outcome())
    assert fig.layout.title.text == "Root logins" and fig.layout.barmode == "stack"
    bundle = figure_bundle(fig)
    spec = bundle["application/vnd.plotly.v1+json"]
    assert spec["config"] == {"displaylogo": False, "responsive": True}
    assert json.dumps(spec["data"])  # plain JSON for JupyterLab
    assert 'class="plotly-graph-div"' in bundle["text/html"]
    assert "<script src=" not in bundle["text/html"]
    assert plotlyjs_bundle()["text/html"].startswith('<script type="text/javascript">')


def test_display_sends_plotlyjs_once_then_each_section(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    display_report(report_run(outcome(), outcome("failed", error="boom"), outcome("none", rows=[])))
    bundles = [o for o in shown if isinstance(o, dict)]
    assert len(bundles) == 2  # plotly.js, then one chart: no chart for an error or no rows
    assert "<script" in bundles[0]["text/html"]
    assert sum(1 for o in shown if not isinstance(o, dict)) == 2 + 2 + 1 + 2
