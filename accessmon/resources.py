"""The one way accessmon reads YAML resources: safe, without aliases, and with one error
format, `file:line: key: problem`, "did you mean" included, for every kind of resource.

Aliases are refused outright: a 459-byte "billion laughs" document expands to gigabytes, and
no Teleport resource or accessmon file needs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from accessmon.errors import ConfigError
from accessmon.names import did_you_mean


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
    return load_document_node(text, source)[0]


def load_document_node(text: str, source: object) -> tuple[Any, yaml.Node | None]:
    """The single document of `text` and its node, for errors naming lines (None, None when
    empty)."""
    documents = load_documents(text, source)
    if len(documents) > 1:
        raise ConfigError(f"{source}: expected one YAML document, found {len(documents)}")
    return documents[0] if documents else (None, None)


def node_line(node: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """The 1-based line of a key path in a composed YAML document, for error messages; for a
    missing key, the line of the mapping that lacks it."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(key):
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def where(source: object, node: yaml.Node | None, loc: Sequence[Any] = ()) -> str:
    """`file:line` of a key path, or just the file when the line is unknown."""
    line = node_line(node, loc)
    return f"{source}:{line}" if line else str(source)


def field_names(model: type[BaseModel]) -> set[str]:
    """Every field name of a model and the models nested in it: the "did you mean" choices."""
    names: set[str] = set()
    todo, seen = [model], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name, info in current.model_fields.items():
            names.add(info.alias or name)
            todo.extend(_models_in(info.annotation))
    return names


def _models_in(annotation: Any) -> Iterable[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()):
        yield from _models_in(arg)


def _fields_at(model: type[BaseModel], loc: Sequence[Any]) -> set[str]:
    """The keys allowed where `loc` points: a typo is matched against its own mapping only."""
    for key in loc:
        info = model.model_fields.get(str(key)) if isinstance(key, str) else None
        if info is None:
            continue  # a list index, or a key of a plain mapping
        nested = next(iter(_models_in(info.annotation)), None)
        if nested is None:
            return set()
        model = nested
    return {info.alias or name for name, info in model.model_fields.items()}


def validation_error(
    e: ValidationError,
    source: object,
    node: yaml.Node | None,
    choices: Iterable[str] | type[BaseModel] = (),
    prefix: str = "",
) -> ConfigError:
    """One message for a resource that failed its model: `file:line: key: problem`; an unknown
    key comes first (a typo also makes the real key look missing), with "did you mean"."""
    err = sorted(e.errors(), key=lambda x: x["type"] != "extra_forbidden")[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
    path = ".".join(str(p) for p in loc) or "document"
    at = where(source, node, loc)
    if err["type"] == "extra_forbidden":
        if isinstance(choices, type):
            choices = _fields_at(choices, loc[:-1])
        hint = did_you_mean(str(loc[-1]), choices) if loc else ""
        return ConfigError(f"{at}: {path}: {prefix}unknown field{hint}")
    return ConfigError(f"{at}: {path}: {prefix}{err['msg'].removeprefix('Value error, ')}")
