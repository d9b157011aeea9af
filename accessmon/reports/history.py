"""The findings of a report's runs, one JSON line per run, and what each finding's status is.

`<output_dir>/.state/findings/<report>_<N>_days.jsonl` holds every completed run of a report
whose window is N days long, whether it was given as `--days N` or as `--from/--to`: two
date-range runs a day apart, or a date range and then `--days`, share one history. That is
what lets a test (or an analyst catching up) replay "yesterday" deterministically with
`--from/--to` and then see today's run as its successor.

A line: `{"run_id", "state", "generated_at", "window", "findings": {query: [{"key",
"measure", "first_seen", "last_seen"}]}, "errors": {query: message}}`. A query that failed
is kept under `errors`, never as an empty list, so it is not read as "everything resolved".

Statuses: a query's findings are compared with the last run in which *that query* succeeded
(whatever that run's overall state), so one broken query neither hides the others' history
nor makes its own findings look resolved. A key found in both is persisting, with
`first_seen` carried over the unbroken chain of runs it persisted through; a key found only
now is new; a key found only then is resolved.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
from pathlib import Path
from typing import Any

from accessmon.names import check_name
from accessmon.reports.findings import key_id, order_findings
from accessmon.reports.results import Finding, ReportRun

_log = logging.getLogger("accessmon")
HISTORY_FOLDER = Path(".state") / "findings"


def window_days(window: dict[str, Any]) -> int:
    """The window's length in days, from a run's `window` (start and end, inclusive)."""
    start = dt.date.fromisoformat(str(window["start"]))
    end = dt.date.fromisoformat(str(window["end"]))
    return (end - start).days + 1


def history_path(output_dir: Path, name: str, days: int) -> Path:
    """The history of report `name` over windows of `days` days."""
    return output_dir / HISTORY_FOLDER / f"{check_name(name, 'report')}_{int(days)}_days.jsonl"


def run_path(output_dir: Path, run: ReportRun) -> Path:
    return history_path(output_dir, run.name, window_days(run.window))


def stored_finding(f: Finding) -> dict[str, Any]:
    """What the history keeps of a finding (`report diff` adds its status and marks)."""
    return {"key": f.key, "measure": f.measure, "first_seen": f.first_seen,
            "last_seen": f.last_seen}  # fmt: skip


def record(run: ReportRun) -> dict[str, Any]:
    """The history line of a run: each succeeded query's findings, each failed one's error."""
    return {
        "run_id": run.run_id,
        "state": run.state,
        "generated_at": run.generated_at,
        "window": run.window,
        "findings": {
            q.name: [stored_finding(f) for f in q.items] for q in run.queries if not q.error
        },
        "errors": {q.name: q.error for q in run.queries if q.error},
    }


def append_run(output_dir: Path, run: ReportRun) -> Path:
    """Append the run's line: one write of the whole line under an exclusive lock, then fsync,
    so concurrent runs never interleave and a crash leaves at most a torn last line."""
    path = run_path(output_dir, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record(run), ensure_ascii=False, default=str) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_size and os.pread(fd, 1, os.fstat(fd).st_size - 1) != b"\n":
            line = b"\n" + line  # a torn line before us stays torn, and ours stays whole
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def read_history(path: Path) -> list[dict[str, Any]]:
    """The runs recorded in `path`, oldest first; a line that is not a whole record (a run
    killed mid-write) is skipped with a warning."""
    if not path.is_file():
        return []
    runs = []
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            doc = None
        if not _is_record(doc):
            _log.warning("warning: %s:%d: skipping a torn or foreign line", path, number)
            continue
        runs.append(doc)
    return runs


def _is_record(doc: Any) -> bool:
    """A history line as `record` writes it (a hand-edited or foreign one is skipped)."""
    if not (isinstance(doc, dict) and isinstance(doc.get("run_id"), str)):
        return False
    findings = doc.get("findings")
    return isinstance(findings, dict) and all(
        isinstance(items, list)
        and all(isinstance(f, dict) and isinstance(f.get("key"), dict) for f in items)
        for items in findings.values()
    )


def baseline(history: list[dict[str, Any]], query: str) -> int | None:
    """The index of the last recorded run in which `query` succeeded."""
    for i in range(len(history) - 1, -1, -1):
        if isinstance(history[i]["findings"].get(query), list):
            return i
    return None


def _earliest(*days: str | None) -> str | None:
    known = [d for d in days if isinstance(d, str) and d]
    return min(known) if known else None


def _age(end: dt.date, first_seen: str | None) -> int | None:
    try:
        return (end - dt.date.fromisoformat(first_seen)).days if first_seen else None
    except ValueError:  # a custom query's event_date that is no date
        return None


def assign_statuses(run: ReportRun, history: list[dict[str, Any]]) -> None:
    """Each succeeded query's findings as new or persisting (with age), and the ones it no
    longer has as resolved, against the last run in which that query succeeded; the run's
    `previous_run` is the newest run any query was compared with."""
    end = dt.date.fromisoformat(str(run.window["end"]))
    compared: list[int] = []
    for q in run.queries:
        if q.error:
            continue
        at = baseline(history, q.name)
        q.compared_with = history[at]["run_id"] if at is not None else None
        if at is None:
            for f in q.items:
                f.status, f.age_days = "new", None
            q.resolved = []
            q.items = order_findings(q.items)
            continue
        compared.append(at)
        before = history[at]
        earlier = {key_id(d["key"]): d for d in before["findings"][q.name]}
        now = set()
        for f in q.items:
            k = key_id(f.key)
            now.add(k)
            if k not in earlier:
                f.status, f.age_days = "new", None
                continue
            f.status = "persisting"
            f.first_seen = _earliest(earlier[k].get("first_seen"), f.first_seen)
            f.age_days = _age(end, f.first_seen)
        q.items = order_findings(q.items)
        q.resolved = order_findings([
            Finding(key=d["key"], measure=int(d.get("measure") or 0),
                    first_seen=d.get("first_seen"), last_seen=d.get("last_seen"),
                    status="resolved")
            for k, d in earlier.items() if k not in now
        ])  # fmt: skip
    run.previous_run = history[max(compared)]["run_id"] if compared else None
