"""The example queries of Teleport's Access Monitoring docs, shipped with the package.

They seed the editor's query library; reading them through `importlib.resources` keeps
them working from a wheel or a zip, not only from a source checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from accessmon.errors import AccessmonError, ConfigError
from accessmon.names import did_you_mean
from accessmon.resources import load_document


@dataclass(frozen=True)
class Example:
    """One example query, with the fields of an `audit_query` resource."""

    name: str
    title: str
    description: str
    query: str


@cache
def load_examples() -> tuple[Example, ...]:
    """Every example of `accessmon/data/examples.yaml`, in the file's order."""
    source = resources.files("accessmon") / "data" / "examples.yaml"
    docs = load_document(source.read_text(encoding="utf-8"), "built-in examples.yaml") or []
    if not isinstance(docs, list):
        raise ConfigError("built-in examples.yaml: expected a list of queries")
    return tuple(
        Example(str(d["name"]), d.get("title", ""), d.get("description", ""), d["query"])
        for d in docs
    )


def get_example(name: str) -> Example:
    """The example called `name`, or an error that suggests the closest name."""
    examples = {e.name: e for e in load_examples()}
    if name in examples:
        return examples[name]
    raise AccessmonError(f"no example query {name}{did_you_mean(name, examples)}")
