"""The one way accessmon reads YAML resources: safe, without aliases, errors with file and line.

Aliases are refused outright: a 459-byte "billion laughs" document expands to gigabytes, and
no Teleport resource or accessmon file needs them.
"""

from __future__ import annotations

from typing import Any

import yaml

from accessmon.errors import ConfigError


class _AliasFreeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing `*alias` references before anything is expanded."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"aliases are not allowed (*{event.anchor}); write the value out in full",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def _error(e: yaml.YAMLError, source: object) -> ConfigError:
    mark = getattr(e, "problem_mark", None)
    where = f"{source}:{mark.line + 1}" if mark else str(source)
    return ConfigError(f"{where}: invalid YAML: {getattr(e, 'problem', None) or e}")


def load_documents(text: str, source: object) -> list[tuple[Any, yaml.Node]]:
    """Every document of `text` with the node it came from (for line numbers in errors)."""
    loader = _AliasFreeLoader(text)
    try:
        documents = []
        while loader.check_node():
            node = loader.get_node()
            documents.append((loader.construct_document(node), node))
        return documents
    except yaml.YAMLError as e:
        raise _error(e, source) from e
    finally:
        loader.dispose()


def load_document(text: str, source: object) -> Any:
    """The single document of `text` (None when empty)."""
    documents = load_documents(text, source)
    if len(documents) > 1:
        raise ConfigError(f"{source}: expected one YAML document, found {len(documents)}")
    return documents[0][0] if documents else None
