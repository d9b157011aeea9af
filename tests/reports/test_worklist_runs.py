"""Issue 18's done-when, as a user does it: two `accessmon report run`s a day apart over a
store with planted changes, with suppressions (one active, one expired, one matching nothing);
the results, the HTML, the executed notebook and `report diff` all tell the same story."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import yaml

from accessmon.reports.results import read_results

from ..conftest import run as cli
from .planted import ROOT_QUERY, RUN1, RUN2, planted_workdir

REPORT = "privilege_access_report"


def _report_run(root: Path, window) -> tuple[Path, Path]:
    flags = ["--from", str(window.start), "--to", str(window.end), "--format", "both"]
    out = cli(["report", "run", REPORT, *flags], root)
    assert out.returncode == 0, out.stderr
    html_path, notebook = (root / line for line in out.stdout.split())
    return html_path, notebook


def _suppress(root: Path, name: str, user: str) -> None:
    added = cli(["suppress", "add", "--report", REPORT, "--query", ROOT_QUERY, "--match",
                 f"user={user}", "--reason", "break-glass account", "--expires", "30d",
                 "--name", name], root)  # fmt: skip
    assert added.returncode == 0, added.stderr


def _notebook_html(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(
        "".join(o.get("data", {}).get("text/html", ""))
        for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
    )  # fmt: skip


def test_two_runs_a_day_apart_make_a_worklist(tmp_path):
    root = planted_workdir(tmp_path)
    _report_run(root, RUN1)
    # carol is accepted for 30 days; bob's exception was accepted in the summer and has
    # expired; a third suppression matches nobody
    _suppress(root, "carol-root-ok", "carol")
    _suppress(root, "nobody-root-ok", "nobody")
    expired = {
        "kind": "suppression", "name": "bob-root-ok", "report": REPORT, "query": ROOT_QUERY,
        "match": {"user": "bob"}, "owner": "erin", "reason": "temporary migration access",
        "created": "2026-07-01T00:00:00Z", "expires": "2026-08-01T00:00:00Z",
    }  # fmt: skip
    (root / "suppressions" / "bob-root-ok.yaml").write_text(yaml.safe_dump(expired))

    html_path, notebook = _report_run(root, RUN2)

    assert re.fullmatch(rf"{REPORT}_{RUN2.start}_{RUN2.end}_\d{{8}}T\d{{6}}Z", html_path.stem)
    saved = read_results(html_path.with_suffix(".json"))
    assert saved.run_id == html_path.stem == notebook.stem
    q = next(q for q in saved.queries if q.name == ROOT_QUERY)
    found = {f.key["user"]: (f.status, f.age_days, f.suppression, f.suppression_expired)
             for f in q.items}  # fmt: skip
    assert found == {
        "bob": ("new", None, None, "bob-root-ok"),  # open again: its suppression expired
        "carol": ("persisting", 2, "carol-root-ok", None),  # seen on day 1 and day 3
    }
    assert [f.key["user"] for f in q.resolved] == ["alice"]  # day 1 only: out of the window
    assert q.counts() == {"new": 1, "persisting": 1, "resolved": 1, "suppressed": 1, "open": 1}
    assert {s["name"]: s["status"] for s in saved.suppressions} == {
        "bob-root-ok": "expired", "carol-root-ok": "active", "nobody-root-ok": "stale"}  # fmt: skip
    assert saved.provenance["suppressions_applied"] == ["carol-root-ok"]
    assert all(f.events and f.events_total == f.measure for f in q.items)  # drill-down

    # the mailed HTML and the executed notebook show the same worklist
    for page in (html_path.read_text(encoding="utf-8"), _notebook_html(notebook)):
        assert re.search(f"id=[\"']q-{ROOT_QUERY}[\"']", page)  # the summary links here
        assert "suppression expired" in page and "bob-root-ok" in page
        assert "carol-root-ok" in page and "break-glass account" in page
        assert "nobody-root-ok" in page and "stale" in page
        assert "Resolved since the previous run (1)" in page

    diff = cli(["report", "diff", REPORT], root)
    assert diff.returncode == 0, diff.stderr
    lines = diff.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if f"({ROOT_QUERY}):" in line)
    assert lines[at].endswith("new 1, persisting 1, resolved 1, suppressed 1")
    assert lines[at + 1].split()[:2] == ["new", "user=bob"]
    assert "suppression expired: bob-root-ok" in lines[at + 1]
    assert "suppressed by carol-root-ok" in lines[at + 2]
    as_json = json.loads(cli(["report", "diff", REPORT, "--format", "json"], root).stdout)
    assert as_json["totals"]["suppressed"] == 1
