"""A query's findings: its rows grouped by the columns that identify one finding.

A finding keeps its identity from run to run through its key (`user`, `node_name, host_id`),
so the history can tell what is new, what persists and what was fixed. A report query that
declares no key falls back to every column but the measure and event_date, and says so.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from accessmon.reports.results import Finding, json_value

if TYPE_CHECKING:
    import pyarrow as pa

    from accessmon.reports.definitions import ReportQuery
    from accessmon.reports.results import QueryOutcome

#: The order of a query's findings: new before persisting (the analyst's worklist).
_STATUS_ORDER = {"new": 0, "persisting": 1, "resolved": 2}


def key_id(key: dict[str, Any]) -> str:
    """One text per finding key, for matching a finding with its own earlier self."""
    return json.dumps(key, sort_keys=True, default=str)


def key_columns(q: ReportQuery, columns: list[str]) -> tuple[list[str], bool]:
    """The query's declared finding key, or the fallback: every column but the measure
    (`chart.y`) and event_date; and whether it was declared."""
    if q.finding_key and all(c in columns for c in q.finding_key):
        return list(q.finding_key), True
    measure = q.chart.y
    return [c for c in columns if c not in (measure, "event_date")], False


def fallback_note(q: ReportQuery, keys: list[str]) -> str:
    """The one line a run shows when a query declares no usable finding key."""
    told = ", ".join(keys) or "nothing (every row is one finding)"
    if q.finding_key:
        return (f"the declared finding_key ({', '.join(q.finding_key)}) is not among the "
                f"columns returned; findings are told apart by {told}")  # fmt: skip
    return (f"no finding_key declared: findings are told apart by {told} (every column but "
            f"the measure {q.chart.y} and event_date); declare finding_key in the definition")  # fmt: skip


def _integer_measure(table: pa.Table, measure: str) -> bool:
    import pyarrow as pa

    return measure in table.column_names and pa.types.is_integer(table.schema.field(measure).type)


def group_findings(table: pa.Table, keys: list[str], measure: str) -> list[Finding]:
    """One Finding per key: the sum of an integer measure column (else its row count), and
    the first and last event_date among its rows when the rows carry one."""
    summed = _integer_measure(table, measure)
    dated = "event_date" in table.column_names
    found: dict[str, Finding] = {}
    for row in table.to_pylist():
        key = {c: json_value(row[c]) for c in keys}
        finding = found.setdefault(key_id(key), Finding(key=key, measure=0))
        finding.measure += int(row[measure] or 0) if summed else 1
        day = json_value(row["event_date"]) if dated else None
        if isinstance(day, str):
            finding.first_seen = min(finding.first_seen or day, day)
            finding.last_seen = max(finding.last_seen or day, day)
    return order_findings(list(found.values()))


def order_findings(findings: list[Finding]) -> list[Finding]:
    """New first, then persisting; the largest measure first within each, then by key."""
    return sorted(
        findings, key=lambda f: (_STATUS_ORDER.get(f.status, 3), -f.measure, key_id(f.key))
    )


def fill_findings(outcome: QueryOutcome, q: ReportQuery, table: pa.Table) -> None:
    """The outcome's key columns and findings from the rows of its window (all "new" until
    the history says otherwise)."""
    keys, declared = key_columns(q, table.column_names)
    outcome.key_columns = keys
    outcome.key_declared = declared
    outcome.items = group_findings(table, keys, q.chart.y)
    if not declared:
        outcome.notes.append(fallback_note(q, keys))
