"""One error root, so callers can catch everything accessmon raises with one clause."""

from __future__ import annotations


class AccessmonError(Exception):
    """Base of every error accessmon raises on purpose; its message is meant for the analyst."""


class ConfigError(AccessmonError):
    """The configuration file, environment or flags are wrong."""


class StoreError(AccessmonError):
    """The audit store is missing, unreadable or could not be written."""


class MissingStore(StoreError):
    """The configured store does not exist (yet): the message says where and how to fill it."""


class StoreChanged(StoreError):
    """A file a query was planned over went away (a cache rebuild, a sync) before it was read."""


class IngestError(AccessmonError):
    """Nothing at all could be read from the given inputs."""


class QueryError(AccessmonError):
    """The SQL was refused or failed; carries the position when known."""

    def __init__(self, message: str, *, line: int | None = None, col: int | None = None) -> None:
        if line is not None:
            where = f"line {line}" + (f", column {col}" if col is not None else "")
            message = f"{message} ({where})"
        super().__init__(message)
        self.line = line
        self.col = col


class PermissionDenied(AccessmonError):
    """The analyst's roles do not allow the verb on the resource."""


class EngineError(AccessmonError):
    """The engine (DuckDB, Athena or Trino) failed to run a query that passed validation."""


class BudgetExceeded(AccessmonError):
    """The analyst's daily budget of bytes scanned on Athena is used up."""


class InvalidName(AccessmonError):
    """A name that would not stay a plain file name inside its folder."""


class PredicateError(AccessmonError):
    """A condition that does not parse, names an unknown field, or mixes types."""

    def __init__(self, message: str, text: str = "", pos: int | None = None) -> None:
        self.pos = pos
        self.line: int | None = None
        self.column: int | None = None
        if pos is not None:
            before = text[:pos]
            self.line = before.count("\n") + 1
            self.column = pos - (before.rfind("\n") + 1) + 1
            where = f"column {self.column}"
            if "\n" in text.strip():
                where = f"line {self.line}, {where}"
            message = f"{where}: {message}"
        super().__init__(message)


class ReportBusy(AccessmonError):
    """Another run of the same report holds its lock."""


class AlertStateError(AccessmonError):
    """The de-duplication state file is busy or unreadable."""
