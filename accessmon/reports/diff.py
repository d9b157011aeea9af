"""`accessmon report diff`: a report's latest run against an earlier one, finding by finding.

By default the latest run's results file already holds its statuses (computed against the
previous run in its history when it ran), suppression marks included. `--since RUN` compares
that same latest run with an earlier run of the same window length, read from the history.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from accessmon.errors import AccessmonError
from accessmon.reports.history import (
    assign_statuses,
    read_history,
    run_path,
    stored_finding,
    window_days,
)
from accessmon.reports.results import _RESULTS_SUFFIX, Finding, ReportRun, read_results
from accessmon.reports.state import own_files
from accessmon.window import Window

_NAME = re.compile(
    r".*_(?P<label>\d+d|(?P<start>\d{4}-\d{2}-\d{2})_(?P<end>\d{4}-\d{2}-\d{2}))"
    r"_(?P<stamp>\d{8}T\d{6}Z)\.json"
)


class NoRuns(AccessmonError):
    """The report has no saved run (of that window) to show."""


#: The JSON document's version: bump it when a field changes meaning or goes away.
DIFF_FORMAT = 1


def _days(match: re.Match[str]) -> int:
    """The window length a results file's name gives: `7d`, or `2024-03-01_2024-03-07`."""
    if match["start"]:
        return window_days({"start": match["start"], "end": match["end"]})
    return int(match["label"][:-1])


def latest_run_file(output_dir: Path, name: str, window: Window | None = None) -> Path:
    """The newest results file of `name`; with `--days N` the newest over any N-day window,
    with `--from/--to` the newest over exactly those dates."""
    found = []
    for path in own_files(output_dir, name, _RESULTS_SUFFIX):
        match = _NAME.fullmatch(path.name)
        if match is None:
            continue
        if window is not None and window.days and _days(match) != window.days:
            continue
        if window is not None and not window.days and match["label"] != window.label():
            continue
        found.append((match["stamp"], path.stat().st_mtime, path))
    if not found:
        which = "" if window is None else f" over {_describe(window)}"
        raise NoRuns(
            f"no runs of {name}{which} yet in {output_dir}: run "
            f"`accessmon report run {name}{_flags(window)}` first"
        )
    return max(found)[2]


def _describe(window: Window) -> str:
    return f"{window.days}-day windows" if window.days else f"{window.start} to {window.end}"


def _flags(window: Window | None) -> str:
    if window is None:
        return ""
    return f" --days {window.days}" if window.days else f" --from {window.start} --to {window.end}"


def find_run(history: list[dict[str, Any]], since: str, latest: str) -> dict[str, Any]:
    """The recorded run `since` names: its run_id, or a unique prefix of a run_id or of its
    UTC stamp (`20240302T060000Z`, `20240302`)."""
    ids = [doc["run_id"] for doc in history]
    exact = [doc for doc in history if doc["run_id"] == since]
    matches = exact or [
        doc
        for doc in history
        if doc["run_id"].startswith(since) or doc["run_id"].rsplit("_", 1)[-1].startswith(since)
    ]
    unique = {doc["run_id"] for doc in matches}
    if len(unique) != 1:
        why = "matches several runs" if unique else "is not a recorded run"
        known = ", ".join(ids[-20:]) or "none"
        raise AccessmonError(f"--since {since} {why} of this report and window length; "
                             f"known run ids (newest last): {known}")  # fmt: skip
    chosen = matches[-1]
    if chosen["run_id"] == latest:
        raise AccessmonError(f"--since {since} is the latest run itself: name an earlier run")
    return chosen


def load_diff(
    output_dir: Path, name: str, window: Window | None = None, since: str | None = None
) -> tuple[ReportRun, Path]:
    """The latest run with its statuses: as saved, or recomputed against run `since`."""
    path = latest_run_file(output_dir, name, window)
    run = read_results(path)
    run.run_id = run.run_id or path.stem
    if since is None:
        return run, path
    before = find_run(read_history(run_path(output_dir, run)), since, run.run_id)
    assign_statuses(run, [before])
    for q in run.queries:
        error = before.get("errors", {}).get(q.name)
        if error and not q.error:
            q.notes.append(f"not compared: this query failed in {before['run_id']} ({error})")
    run.previous_run = before["run_id"]
    return run, path


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "status": f.status,
        **stored_finding(f),
        "age_days": f.age_days,
        "suppression": f.suppression,
        "suppression_expired": f.suppression_expired,
    }


def diff_document(run: ReportRun, path: Path) -> dict[str, Any]:
    """The JSON of `report diff --format json`, a stable shape (`format` says its version):

    `{"format": 1, "report", "title", "run", "state", "window", "compared_with", "results",
    "totals": {"new", "persisting", "resolved", "suppressed", "open"}, "queries": [{"name",
    "title", "key_columns", "key_declared", "compared_with", "error", "notes", "counts",
    "findings": [{"status", "key", "measure", "first_seen", "last_seen", "age_days",
    "suppression", "suppression_expired"}]}]}`, findings new first, then persisting, then
    resolved."""
    queries = []
    for q in run.queries:
        queries.append({
            "name": q.name,
            "title": q.title,
            "key_columns": q.key_columns,
            "key_declared": q.key_declared,
            "compared_with": q.compared_with,
            "error": q.error,
            "notes": q.notes,
            "counts": q.counts(),
            "findings": [_finding(f) for f in [*q.items, *q.resolved]],
        })  # fmt: skip
    totals = {k: sum(q["counts"][k] for q in queries)
              for k in ("new", "persisting", "resolved", "suppressed", "open")}  # fmt: skip
    return {
        "format": DIFF_FORMAT,
        "report": run.name,
        "title": run.title,
        "run": run.run_id,
        "state": run.state,
        "window": run.window,
        "compared_with": run.previous_run,
        "results": str(path),
        "totals": totals,
        "queries": queries,
    }
