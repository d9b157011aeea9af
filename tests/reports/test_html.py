"""A run as HTML: the pieces (escaping, header, summary, sections), then a real run rendered
through the notebook and exported, read back as a worklist: contents, every row, each
finding's events, suppressions, data quality, provenance, one copy of each library."""

from __future__ import annotations

import html as html_module
import json
import re
from pathlib import Path

import pytest

from accessmon.reports.html import (
    display_report,
    figure_bundle,
    header_html,
    plotlyjs_bundle,
    provenance_html,
    quality_html,
    query_figure,
    scans_bytes,
    section_html,
    summary_html,
    suppressed_html,
)
from accessmon.reports.notebook import execute_notebook, export_html
from accessmon.reports.results import Finding, save_results

from .test_results import outcome, report_run
from .worklist import CAPPED_TOTAL, EXPIRED, SUPPRESSION, filled_run


def test_the_header_escapes_and_sums_the_run():
    page = header_html(
        report_run(outcome(), outcome("b", stats={"data_scanned_in_bytes": 3 << 20}))
    )
    assert "<h1>Team &lt;checks&gt;</h1>" in page and "Checks &amp; balances" in page
    assert "2024-03-15 to 2024-03-21 (last 7 days)" in page
    assert "<td>Query time</td><td>1.50 s</td>" in page
    assert "am-banner" not in page and "Compared with" not in page  # no quality, no history


def test_data_scanned_shows_only_where_the_engine_scans_bytes():
    duck = report_run(outcome(stats={"engine": "duckdb", "data_scanned_in_bytes": 0}))
    assert not scans_bytes(duck) and "Data scanned" not in header_html(duck)
    athena = report_run(outcome(stats={"engine": "athena", "data_scanned_in_bytes": 3 << 20}))
    athena.engine = "athena"
    assert "<td>Data scanned</td><td>3.0 MB</td>" in header_html(athena)
    trino = report_run(outcome(stats={"engine": "trino", "data_scanned_in_bytes": 0}))
    trino.engine = "trino"
    assert "Data scanned" not in header_html(trino)  # Trino reported no bytes
    trino.queries[0].stats["data_scanned_in_bytes"] = 2048
    assert "<td>Data scanned</td><td>2.0 KB</td>" in header_html(trino)


def test_the_summary_links_colours_and_trends_each_query():
    new = outcome("newish", title="Newish", items=[Finding({"user": "a"}, 2, status="new")])
    run = report_run(
        outcome("up"),
        outcome("down", title="Down", findings=1, previous_findings=4),
        outcome("none", title="None", findings=0, rows=[]),
        outcome("failed", title="Failed", error="boom"),
        new,
    )
    summary = summary_html(run)
    rows = summary.split("<tr")[2:]
    assert "href='#q-newish'" in rows[0] and "am-row-new" in rows[0]  # new findings first
    assert "1 new" in rows[0] and "data-label='New'" in rows[0]
    assert "am-row-open" in rows[1] and "+3" in rows[1]  # an old results file: findings
    assert "am-row-open" in rows[2] and "-3" in rows[2]
    assert "am-row-none" in rows[3] and "no findings" in rows[3]
    assert "am-row-error" in rows[4] and ">error<" in rows[4]
    assert "New findings (1)" in summary and "href='#f-newish-0'" in summary


def test_sections_with_findings_none_or_an_error():
    before, after = section_html(outcome(description="<b>who</b>"))
    assert "<section id='q-root_logins'>" in before and "&lt;b&gt;who&lt;/b&gt;" in before
    assert "carry no finding history" in before  # findings, but an old results file
    assert "<b>Suggestion:</b> Use personal logins." in after
    assert "All 2 result rows" in after and "alice" in after
    before, after = section_html(outcome(findings=0, rows=[]))
    assert "No findings in this window." in before and "dataTable" not in after
    before, after = section_html(outcome(error="Binder <error>"))
    assert "Query failed: Binder &lt;error&gt;" in before and after == ""


def test_every_row_goes_into_the_table_escaped():
    rows = [[f"2024-03-{d:02d}", d, [f"<u{d}>", None]] for d in range(1, 31)]
    _, after = section_html(outcome(rows=rows, columns=["event_date", "count", "users"]))
    data = tables(after)["t-root_logins-rows"]
    assert len(data) == 30 and data[0] == ["2024-03-01", "1", "[&lt;u1&gt;, NULL]"]
    assert "more rows in the results JSON" not in after


def test_a_custom_report_without_a_key_says_so():
    q = outcome(key_columns=["user"], key_declared=False)
    assert (
        "declares no finding_key; findings are keyed by all non-measure columns"
        in (section_html(q)[0])
    )


def test_empty_worklist_fields_render_as_notes():
    run = report_run(outcome())
    assert "has no data-quality checks" in quality_html(run)
    assert "has no provenance record" in provenance_html(run)
    assert "No finding is suppressed" in suppressed_html(run)
    assert "Persisting" not in summary_html(run)  # no counts where they are not known


def test_charts_go_out_as_plotly_json_and_an_offline_div():
    q = outcome(key_columns=["user"], items=[Finding({"user": "bob"}, 3)])
    fig = query_figure(q)
    assert fig.layout.title.text == "Root logins" and fig.layout.barmode == "stack"
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0  # below the plot
    anchors = [c[0] for trace in fig.data for c in trace.customdata]
    assert sorted(anchors) == ["", "f-root_logins-0"]  # alice's bar has no finding
    bundle = figure_bundle(fig)
    spec = bundle["application/vnd.plotly.v1+json"]
    assert spec["config"] == {"displaylogo": False, "responsive": True}
    assert json.dumps(spec["data"])  # plain JSON for JupyterLab
    assert 'class="plotly-graph-div"' in bundle["text/html"]
    assert "<script src=" not in bundle["text/html"]
    assert plotlyjs_bundle()["text/html"].startswith('<script type="text/javascript">')


def test_display_sends_the_libraries_once_then_each_section(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    display_report(report_run(outcome(), outcome("failed", error="boom"), outcome("none", rows=[])))
    bundles = [o for o in shown if isinstance(o, dict)]
    assert len(bundles) == 2  # the libraries, then one chart: none for an error or no rows
    assert bundles[0]["text/html"].count("window._itables_") >= 1
    assert "plotly" in bundles[0]["text/html"][:200]
    # head, then two parts per section with rows and one for the error, then the footer
    assert sum(1 for o in shown if not isinstance(o, dict)) == 1 + 2 + 1 + 2 + 1


# -- a real run, filled, through the notebook and nbconvert ------------------------------------


def has(page: str, text: str) -> bool:
    """`text` in the page, its attributes in either quotes (nbconvert rewrites the HTML it
    exports with double quotes; DataTables' cells keep ours)."""
    return text in page or text.replace("'", '"') in page


def index(page: str, text: str) -> int:
    return page.index(text if text in page else text.replace("'", '"'))


def tables(page: str) -> dict[str, list[list]]:
    """Every DataTable of a page: its id and the rows its script carries."""
    found = {}
    for m in re.finditer(r'querySelectorAll\("#([\w-]+):not\(\.dataTable\)"\).*?'
                         r"let dt_args = (\{.*?\});\n", page, re.S):  # fmt: skip
        found[m.group(1)] = json.loads(json.loads(m.group(2))["data_json"])
    return found


def render_results(results: Path, store: Path, out: Path) -> str:
    """A results file through the report notebook and the export, as `report run` does it,
    with a configuration of its own (the audit trail stays out of the checkout)."""
    config = out / "accessmon.yaml"
    config.write_text(f"store: {store}\naudit_log: {out / 'audit.jsonl'}\n")
    parameters = {"report": "privilege_access_report", "results": str(results), "user": "alice",
                  "engine": "duckdb", "store": str(store), "config": str(config)}  # fmt: skip
    execute_notebook(parameters, out / "executed.ipynb")
    return export_html(out / "executed.ipynb", "Privileged Access Report")


@pytest.fixture(scope="module")
def rendered(workdir, tmp_path_factory):
    """The filled run saved, rendered by the report notebook and exported as the CLI does."""
    tmp = tmp_path_factory.mktemp("worklist")
    store = workdir / "data" / "audit"
    run = filled_run(store)
    results = save_results(run, tmp / "privilege_access_report_7d_20260102T000000Z.json")
    page = render_results(results, store, tmp)
    (tmp / "report.html").write_text(page)
    return run, page, store


def test_the_page_is_lean_offline_and_has_each_library_once(rendered):
    page = rendered[1]
    assert len(page.encode()) < 4_000_000
    assert page.count("plotly.js (basic - minified)") == 1
    assert page.count('injectModule("') == 1  # DataTables, once for all the tables
    assert not re.search(r"<(script|link)\b[^>]*\b(src|href)=[\"']?(https?:)?//", page, re.I)
    styles = re.findall(r"<style[^>]*>(.*?)</style>", page, re.S)
    assert max(map(len, styles)) < 20_000  # JupyterLab's 260 KB of CSS is gone
    assert re.search(r"<meta [^>]*name=\"viewport\"", page)
    assert "report = " not in page  # code cells are hidden


def test_contents_and_summary_link_to_every_section(rendered):
    run, page, _ = rendered
    for anchor in ["summary", "suppressed", "quality", "provenance"] + [
        f"q-{q.name}" for q in run.queries
    ]:
        assert has(page, f"href='#{anchor}'") and has(page, f"id='{anchor}'")
    summary = page[index(page, "id='summary'") : page.index("New findings (")]
    assert summary.count("am-row-new") == len(run.queries)
    assert page.count('class="plotly-graph-div"') == len(run.queries)


def test_every_finding_and_row_is_in_a_table_with_its_events_one_click_away(rendered):
    run, page, _ = rendered
    found = tables(page)
    for q in run.queries:
        rows = found[f"t-{q.name}-rows"]
        assert len(rows) == len(q.rows)
        findings = found[f"t-{q.name}-findings"]
        assert len(findings) == len(q.items)
        assert [r[0].count("am-st-new") for r in findings] == sorted(
            (f.status == "new" for f in q.items), reverse=True
        )  # new first
        for n in range(len(q.items)):
            anchor = f"f-{q.name}-{n}"
            assert has(page, f"href='#{anchor}'")
            assert has(page, f"<details class='am-finding' id='{anchor}'>")
        assert f'"customdata":[["f-{q.name}-' in page.replace(" ", "")  # the chart's bars
    first = run.queries[0]
    assert f"showing 50 of {CAPPED_TOTAL} events" in page
    assert found[f"t-{first.name}-findings"][0][-1].endswith(f"{CAPPED_TOTAL} events</a>")
    assert "Resolved since the previous run (1)" in page and "gone-user" in page
    assert "declares no finding_key" in page  # the last query plays a custom one


def test_suppressions_quality_and_provenance(rendered):
    run, page, _ = rendered
    text = html_module.unescape(page)
    suppressed = page[index(page, "id='suppressed'") : index(page, "id='quality'")]
    assert SUPPRESSION in suppressed and "CI &lt;bots&gt; use shared logins" in suppressed
    assert has(suppressed, "<a href='https://tickets.example/SEC-12'") and "58" in suppressed
    assert "stale: matches nothing" in suppressed and "expired" in suppressed
    assert f"suppression expired</span> {EXPIRED}" in page  # open again in its section
    banner = page[index(page, "class='am-banner'") : index(page, "id='contents'")]
    assert "Stale data" in banner and "2025-12-29" in banner and "db_user" in banner
    quality = page[index(page, "id='quality'") : index(page, "id='provenance'")]
    assert "32.0 h (limit 24 h)" in quality and "100.0 %" in quality
    assert "null everywhere" in quality
    for key in run.provenance:
        assert f"<td>{key}</td>" in page
    assert run.provenance["rerun"] in text and "a" * 64 in page
    assert "Data scanned" not in page  # DuckDB scans no billed bytes


def test_an_old_results_file_still_renders(rendered, tmp_path):
    """A run saved before findings had identity: no counts, no banner, notes instead."""
    run = rendered[0]
    doc = json.loads(run.to_json())
    for key in ("previous_run", "provenance", "quality", "suppressions", "run_id"):
        doc.pop(key)
    for q in doc["queries"]:
        for key in ("items", "resolved", "key_columns", "key_declared", "event_columns"):
            q.pop(key)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    page = render_results(old, rendered[2], tmp_path)
    assert not has(page, "class='am-banner'") and "carry no finding history" in page
    assert "has no provenance record" in page and page.count('class="plotly-graph-div"') == 9


def test_the_bundled_plotly_basic_is_the_version_plotly_draws_with():
    """Else the report falls back to plotly's full bundle (4.8 MB): `make plotly-basic`."""
    from plotly.offline import get_plotlyjs_version

    from accessmon.reports.assets import plotlyjs_source

    head = plotlyjs_source()[:200]
    assert f"plotly.js (basic - minified) v{get_plotlyjs_version()}" in head, (
        "run `make plotly-basic` after upgrading plotly"
    )
