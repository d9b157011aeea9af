"""Counts of the function corpus (tests/trino/corpus_arrays.py) on the local engine, printed
at the end of `make test`; under xdist each worker sends its outcomes to the controller."""

from __future__ import annotations

import json

import pytest

OUTCOMES = pytest.StashKey[dict[str, str]]()
_KEY = "function_corpus_arrays"


@pytest.fixture
def corpus_outcomes(request) -> dict[str, str]:
    """case name -> "local" (runs, or fails as Trino does) or "refused"."""
    return request.config.stash.setdefault(OUTCOMES, {})


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workeroutput"):  # an xdist worker
        session.config.workeroutput[_KEY] = json.dumps(session.config.stash.get(OUTCOMES, {}))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    sent = getattr(node, "workeroutput", {}).get(_KEY)
    if sent:
        node.config.stash.setdefault(OUTCOMES, {}).update(json.loads(sent))


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    outcomes = config.stash.get(OUTCOMES, {})
    if outcomes:
        values = list(outcomes.values())
        terminalreporter.write_line(
            f"function corpus (arrays/aggregates): {len(values)} cases, "
            f"{values.count('local')} local, {values.count('refused')} refused"
        )
