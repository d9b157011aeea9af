"""The findings history: two runs a day apart with planted changes give new, persisting (with
age) and resolved findings; the history is append-only, shared by a window length, safe under
concurrent appends, and a torn line is skipped."""

from __future__ import annotations

import json
import logging
import multiprocessing

from accessmon.reports.history import (
    append_run,
    assign_statuses,
    history_path,
    read_history,
    record,
)
from accessmon.reports.results import Finding, QueryOutcome, ReportRun, read_results
from accessmon.window import Window

from .planted import (
    DAY1,
    DAY2,
    DAY3,
    ROOT_QUERY,
    RUN1,
    RUN2,
    headless_run,
    planted_workdir,
    session,
)


def _query(run: ReportRun, name: str = ROOT_QUERY) -> QueryOutcome:
    return next(q for q in run.queries if q.name == name)


def test_two_runs_a_day_apart_show_new_persisting_and_resolved(tmp_path):
    root = planted_workdir(tmp_path)
    out = root / "reports"
    first, _ = headless_run(session(root), out, RUN1, "20240302T060000Z")
    assert first.previous_run is None
    assert [(f.key["user"], f.status) for f in _query(first).items] == [
        ("alice", "new"), ("carol", "new")]  # fmt: skip
    second, path = headless_run(session(root), out, RUN2, "20240303T060000Z")
    assert second.previous_run == first.run_id
    saved = _query(read_results(path))  # what the notebook and the HTML render
    assert saved.compared_with == first.run_id
    assert [(f.key, f.status, f.age_days, f.first_seen, f.last_seen, f.measure)
            for f in saved.items] == [
        ({"user": "bob"}, "new", None, "2024-03-03", "2024-03-03", 1),
        ({"user": "carol"}, "persisting", 2, "2024-03-01", "2024-03-03", 2),
    ]  # fmt: skip
    assert [(f.key, f.status, f.last_seen) for f in saved.resolved] == [
        ({"user": "alice"}, "resolved", "2024-03-01")]  # fmt: skip
    assert saved.counts() == {"new": 1, "persisting": 1, "resolved": 1, "suppressed": 0,
                              "open": 2}  # fmt: skip
    totals = json.loads(path.read_text())["totals"]
    assert (totals["new"], totals["persisting"], totals["resolved"]) == (2, 2, 2)  # root + ssh
    lines = read_history(history_path(out, "privilege_access_report", 2))
    assert [doc["run_id"] for doc in lines] == [first.run_id, second.run_id]
    assert lines[1]["findings"][ROOT_QUERY][1] == {
        "key": {"user": "carol"}, "measure": 2, "first_seen": "2024-03-01",
        "last_seen": "2024-03-03"}  # fmt: skip


def test_first_seen_carries_over_the_chain_and_resets_after_a_gap(tmp_path):
    root = planted_workdir(tmp_path)
    out = root / "reports"
    headless_run(session(root), out, Window.between(DAY1, DAY1), "20240301T230000Z")
    day2, _ = headless_run(session(root), out, Window.between(DAY2, DAY2), "20240302T230000Z")
    assert _query(day2).items == [] and {f.key["user"] for f in _query(day2).resolved} == {
        "alice", "carol"}  # fmt: skip
    day3, _ = headless_run(session(root), out, Window.between(DAY3, DAY3), "20240303T230000Z")
    # carol was absent on day 2: on day 3 she is new again, first seen that day
    assert [(f.key["user"], f.status, f.first_seen) for f in _query(day3).items] == [
        ("carol", "new", "2024-03-03"), ("bob", "new", "2024-03-03")]  # fmt: skip


def test_a_date_range_and_days_of_the_same_length_share_one_history(tmp_path):
    assert history_path(tmp_path, "r", Window.last_days(2).days) == history_path(
        tmp_path, "r", (RUN2.end - RUN2.start).days + 1)  # fmt: skip
    assert history_path(tmp_path, "r", 2).name == "r_2_days.jsonl"
    assert history_path(tmp_path, "r", 2).parent == tmp_path / ".state" / "findings"


def _run(run_id: str, items: dict[str, list[str]], errors: dict[str, str] | None = None,
         end: str = "2024-03-10") -> ReportRun:  # fmt: skip
    queries = [QueryOutcome(q, q, "", "", {}, "", key_columns=["user"],
                            items=[Finding({"user": u}, 1, first_seen=end, last_seen=end)
                                   for u in users])
               for q, users in items.items()]  # fmt: skip
    for q, error in (errors or {}).items():
        queries.append(QueryOutcome(q, q, "", "", {}, "", error=error))
    state = "ERROR" if errors else "SUCCESS"
    return ReportRun("r", "R", "", "1", {"start": end, "end": end, "days": 1}, {}, end, "u",
                     "duckdb", queries, state=state, run_id=run_id)  # fmt: skip


def test_a_query_compares_with_the_last_run_in_which_it_succeeded():
    history = [
        record(_run("r1", {"a": ["x"], "b": ["y"]}, end="2024-03-08")),
        record(_run("r2", {"b": ["y"]}, {"a": "boom"}, end="2024-03-09")),
    ]
    assert history[1]["errors"] == {"a": "boom"} and "a" not in history[1]["findings"]
    now = _run("r3", {"a": ["x"], "b": []})
    assign_statuses(now, history)
    a, b = now.queries
    # a failed in r2: not "all resolved" there; it compares with r1, where x was found
    assert (a.compared_with, a.items[0].status, a.items[0].age_days) == ("r1", "persisting", 2)
    assert (b.compared_with, [f.key for f in b.resolved]) == ("r2", [{"user": "y"}])
    assert now.previous_run == "r2"


def test_a_failed_query_of_this_run_keeps_no_statuses():
    now = _run("r2", {}, {"a": "boom"})
    assign_statuses(now, [record(_run("r1", {"a": ["x"]}))])
    assert now.queries[0].resolved == [] and now.previous_run is None


def test_a_torn_last_line_is_skipped_with_a_warning_and_appends_go_on(tmp_path, caplog):
    run = _run("r1", {"a": ["x"]})
    path = append_run(tmp_path, run)
    with path.open("ab") as f:
        f.write(b'{"run_id": "r2", "findings": {"a": [{"key"')  # killed mid-write
    with caplog.at_level(logging.WARNING, logger="accessmon"):
        assert [d["run_id"] for d in read_history(path)] == ["r1"]
    assert f"{path}:2: skipping a torn or foreign line" in caplog.text
    run.run_id = "r3"
    append_run(tmp_path, run)
    assert [d["run_id"] for d in read_history(path)] == ["r1", "r3"]
    with path.open("ab") as f:  # a hand-edited line that is whole JSON but no record
        f.write(b'{"run_id": "r4", "findings": {"a": [{"user": "x"}]}}\n')
    assert [d["run_id"] for d in read_history(path)] == ["r1", "r3"]
    now = _run("r5", {"a": ["x"]})
    assign_statuses(now, read_history(path))
    assert (now.previous_run, now.queries[0].items[0].status) == ("r3", "persisting")


def _append_many(args: tuple[str, int]) -> None:
    folder, worker = args
    from pathlib import Path

    big = {"a": [f"user-{worker}-{i}-" + "x" * 200 for i in range(300)]}  # ~70 KB a line
    for n in range(15):
        append_run(Path(folder), _run(f"w{worker}-{n}", big))


def test_concurrent_appends_never_interleave(tmp_path):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_append_many, [(str(tmp_path), w) for w in range(4)])
    path = history_path(tmp_path, "r", 1)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 61
    docs = [json.loads(line) for line in lines[:-1]]  # every line whole
    assert sorted(d["run_id"] for d in docs) == sorted(f"w{w}-{n}" for w in range(4)
                                                       for n in range(15))  # fmt: skip
