"""Report definitions: Teleport's `kind: security_report` resources, built-in and the user's.

A definition is checked whole when it loads (fields, names, every query against the views),
so a bad file is reported with its line before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accessmon.errors import AccessmonError, ConfigError
from accessmon.names import NAME_PATTERN, did_you_mean
from accessmon.resources import load_document_node, validation_error, where
from accessmon.sql.validate import DIALECT, CheckedQuery, check_query


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChartSpec(_Model):
    """How a query's rows are drawn: by default Teleport's count per day, stacked by user."""

    kind: Literal["bar", "line", "scatter", "pie"] = "bar"
    x: str = "event_date"
    y: str = "count"
    keys: str | None = "user"


class ReportQuery(_Model):
    """One audit query of a report, with the advice shown beside its findings."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    title: str
    description: str = ""
    query: str
    suggestion: str = ""
    chart: ChartSpec = Field(default_factory=ChartSpec)
    #: the columns that identify one finding across runs (`user`; `node_name, host_id`);
    #: unset: every column but the measure (`chart.y`) and event_date, and the run says so
    finding_key: list[str] | None = Field(default=None, min_length=1)

    @field_validator("finding_key", mode="before")
    @classmethod
    def _one_key(cls, value: object) -> object:
        """`finding_key: user` reads as `[user]`: a one-column key is the common case."""
        return [value] if isinstance(value, str) else value


class ReportDefinition(_Model):
    """A `kind: security_report` resource; `source` names its file in error messages."""

    kind: Literal["security_report"]
    name: str = Field(pattern=rf"^{NAME_PATTERN}$")  # pydantic's regex: `$` is the very end
    title: str
    description: str = ""
    version: str = "0.0.1"
    queries: list[ReportQuery] = Field(min_length=1)
    source: str = Field(default="built-in", exclude=True)


#: The "did you mean" choices for an unknown key: every field a definition may have.


def parse_definition(text: str, source: str) -> ReportDefinition:
    """One `kind: security_report` document; errors name the file, line and field, and an
    unknown field gets a "did you mean"."""
    doc, node = load_document_node(text, source)
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a kind: security_report mapping")
    if "source" in doc:  # set below from the file's name, never read from the file
        raise ConfigError(f"{where(source, node, ('source',))}: source: unknown field")
    try:
        report = ReportDefinition.model_validate({**doc, "source": source})
    except ValidationError as e:
        raise validation_error(e, source, node, ReportDefinition) from None
    for i, q in enumerate(report.queries):
        try:
            checked = check_query(q.query)
        except AccessmonError as e:
            at = where(source, node, ("queries", i, "query"))
            raise ConfigError(f"{at}: queries.{i}.query ({q.name}): {e}") from None
        _check_finding_key(q, checked, source, node, i)
    return report


def output_columns(checked: CheckedQuery) -> list[str] | None:
    """The names of the columns a query returns (aliases, `*` expanded over the views), or
    None when they cannot be known before it runs."""
    from sqlglot.optimizer.qualify import qualify

    from accessmon.sql.views import all_views

    tree = checked.tree
    if "*" in tree.named_selects:
        schema = {v.name: {c.name: c.type for c in v.columns} for v in all_views().values()}
        try:
            tree = qualify(tree.copy(), schema=schema, dialect=DIALECT, quote_identifiers=False,
                           identify=False)  # fmt: skip
        except Exception:  # an optimizer gap: the engine will tell at run time
            return None
    names = tree.named_selects
    return None if "*" in names else names


def _check_finding_key(
    q: ReportQuery, checked: CheckedQuery, source: str, node: yaml.Node | None, i: int
) -> None:
    """Each key column must be a column the query returns, or no run could group by it."""
    if not q.finding_key:
        return
    returned = output_columns(checked)
    if returned is None:
        return
    for j, key in enumerate(q.finding_key):
        if key not in returned:
            at = _where_column(source, node, ("queries", i, "finding_key", j))
            raise ConfigError(
                f"{at}: queries.{i}.finding_key ({q.name}): {key} is not a column the query "
                f"returns ({', '.join(returned)}){did_you_mean(key, returned)}"
            )


def _where_column(source: str, root: yaml.Node | None, loc: tuple) -> str:
    """`file:line:column` of a value in the document (`file:line` if the path is not found);
    a one-key scalar (`finding_key: user`) stands for its list's first item."""
    node = root
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        elif not (isinstance(node, yaml.ScalarNode) and key == 0):
            node = None
        if node is None:
            return where(source, root, loc)
    mark = node.start_mark
    return f"{source}:{mark.line + 1}:{mark.column + 1}"


def _builtin_texts() -> Iterator[tuple[str, str]]:
    folder = resources.files("accessmon") / "data" / "reports"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            yield f"built-in {entry.name}", entry.read_text(encoding="utf-8")


def load_definitions(reports_dir: Path) -> tuple[dict[str, ReportDefinition], list[str]]:
    """Built-in reports, then the user's from `reports_dir` (same name wins); and the errors
    of definitions that could not be loaded, so one bad file does not hide the others."""
    found: dict[str, ReportDefinition] = {}
    errors: list[str] = []
    texts = list(_builtin_texts())
    if reports_dir.is_dir():
        for path in sorted(reports_dir.glob("*.y*ml")):
            texts.append((str(path), path.read_text(encoding="utf-8")))
    for source, text in texts:
        try:
            report = parse_definition(text, source)
        except ConfigError as e:
            errors.append(str(e))
            continue
        found[report.name] = report
    return found, errors


def get_definition(reports_dir: Path, name: str) -> ReportDefinition:
    """One report by name: its own load error if its file is broken, else a "did you mean"."""
    found, errors = load_definitions(reports_dir)
    if name in found:
        return found[name]
    for error in errors:
        if name in error:
            raise ConfigError(error)
    raise AccessmonError(f"no report {name}{did_you_mean(name, found)}")
