"""Saved queries: Teleport `audit_query` resources, one YAML file each in `queries_dir`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from accessmon._io import atomic_write_text
from accessmon.errors import AccessmonError, ConfigError, InvalidName
from accessmon.names import did_you_mean
from accessmon.resources import load_document
from accessmon.sql.validate import check_query

#: fullmatch, not match with `$`: `$` also matches before a trailing newline (`evil\n`).
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")


@dataclass(frozen=True)
class AuditQuery:
    name: str
    query: str
    title: str = ""
    description: str = ""

    def to_resource(self) -> dict:
        """The resource as `tctl get audit_query/<name>` prints it."""
        return {
            "kind": "audit_query",
            "version": "v1",
            "metadata": {"name": self.name},
            "spec": {
                "name": self.name,
                "title": self.title or self.name,
                "description": self.description,
                "query": self.query,
            },
        }


def _path(directory: Path, name: str) -> Path:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidName(
            f"invalid query name {name!r}: use lower-case letters, digits, '-', '_' or '.'"
        )
    return directory / f"{name}.yaml"


def load(path: Path) -> AuditQuery:
    doc = load_document(path.read_text(encoding="utf-8"), path)
    if not isinstance(doc, dict) or doc.get("kind") != "audit_query":
        raise ConfigError(f"{path}: not a kind: audit_query resource")
    spec, metadata = doc.get("spec") or {}, doc.get("metadata") or {}
    for key, value in (("spec", spec), ("metadata", metadata)):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {key} must be a mapping, not {type(value).__name__}")
    name = metadata.get("name") or spec.get("name")
    if not isinstance(spec.get("query"), str) or not name:
        raise ConfigError(f"{path}: audit_query needs metadata.name and spec.query")
    return AuditQuery(name, spec["query"], spec.get("title", ""), spec.get("description", ""))


def list_queries(directory: Path) -> list[AuditQuery]:
    if not directory.is_dir():
        return []
    return [load(p) for p in sorted(directory.glob("*.yaml"))]


def get(directory: Path, name: str) -> AuditQuery:
    path = _path(directory, name)
    if not path.is_file():
        names = [q.name for q in list_queries(directory)]
        raise AccessmonError(f"no saved query {name}{did_you_mean(name, names)}")
    return load(path)


def exists(directory: Path, name: str) -> bool:
    return _path(directory, name).is_file()


def save(directory: Path, query: AuditQuery) -> Path:
    """Validate against the views, then write atomically."""
    check_query(query.query)
    path = _path(directory, query.name)
    atomic_write_text(yaml.safe_dump(query.to_resource(), sort_keys=False), path)
    return path


def remove(directory: Path, name: str) -> None:
    path = _path(directory, name)
    if not path.is_file():
        raise AccessmonError(f"no saved query {name}")
    path.unlink()
