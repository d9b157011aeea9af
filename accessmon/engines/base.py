"""The interface every engine implements, so the session never asks which one it has."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    from accessmon.result import QueryResult
    from accessmon.sql.validate import CheckedQuery
    from accessmon.window import Window


class Engine(Protocol):
    name: str

    def render(self, query: CheckedQuery, window: Window) -> str:
        """The SQL that would run: the used views as WITH clauses, then the analyst's query."""

    def execute(self, sql: str, query: CheckedQuery) -> QueryResult:
        """Run SQL produced by `render`."""

    def publish_results(self, path: Path, name: str) -> str | None:
        """Copy a report's results JSON to where the engine keeps them; its address, if any."""

    def diagnose(self) -> list[tuple[str, bool, str]]:
        """(check, ok, detail) rows for `accessmon doctor`."""

    def close(self) -> None: ...
