"""The one YAML loader: safe, documents with their nodes, errors with file and line.
Aliases (billion laughs) are in tests/adversarial/test_yaml_bombs.py."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from accessmon.errors import ConfigError
from accessmon.resources import load_document, load_document_node, load_documents, where


def test_one_document_loads_as_plain_data():
    text = "kind: audit_query\nmetadata: {name: q}\nspec:\n  query: SELECT 1\n  n: 3\n  ok: true\n"
    assert load_document(text, "q.yaml") == {
        "kind": "audit_query",
        "metadata": {"name": "q"},
        "spec": {"query": "SELECT 1", "n": 3, "ok": True},
    }


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_text_is_none(text):
    assert load_document(text, "empty.yaml") is None
    assert load_documents(text, "empty.yaml") == []


def test_documents_come_with_their_nodes_for_line_numbers():
    text = "kind: role\nmetadata: {name: a}\n---\n\n\nkind: user\nmetadata: {name: b}\n"
    documents = load_documents(text, "tctl.yaml")
    assert [doc["kind"] for doc, _ in documents] == ["role", "user"]
    assert [node.start_mark.line + 1 for _, node in documents] == [1, 6]


def test_an_empty_document_between_two_is_kept_as_none():
    documents = load_documents("a: 1\n---\n---\nb: 2\n", "x.yaml")
    assert [doc for doc, _ in documents] == [{"a": 1}, None, {"b": 2}]


def test_several_documents_where_one_is_expected_is_an_error():
    with pytest.raises(ConfigError, match=r"^x\.yaml: expected one YAML document, found 2$"):
        load_document("a: 1\n---\nb: 2\n", "x.yaml")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: [unclosed\nc: 3\n", 3),
        ("a: 1\n  b: 2\n", 2),
        ("a: 1\nb: 'open\n", 3),
        ("- a\nb: 1\n", 2),
    ],
)
def test_invalid_yaml_names_the_source_and_the_line(text, line):
    with pytest.raises(ConfigError) as info:
        load_document(text, Path("dir/conf.yaml"))
    assert re.match(rf"^dir/conf\.yaml:{line}: invalid YAML: \S", str(info.value))
    assert info.value.__cause__ is not None  # the parser's error is chained


def test_only_safe_tags_are_read():
    with pytest.raises(ConfigError, match=r"^evil\.yaml:1: invalid YAML"):
        load_document("!!python/object/apply:os.system ['true']\n", "evil.yaml")


def test_yaml_scalars_keep_their_yaml_types():
    doc = load_document("when: 2024-03-20\nn: 0x10\nflag: no\ns: 'no'\nnull_: ~\n", "t.yaml")
    assert doc == {"when": dt.date(2024, 3, 20), "n": 16, "flag": False, "s": "no", "null_": None}


def test_one_document_with_its_node_names_the_lines_of_its_keys():
    doc, node = load_document_node("kind: report\n\nqueries:\n  - name: a\n", "r.yaml")
    assert doc == {"kind": "report", "queries": [{"name": "a"}]}
    assert where("r.yaml", node, ("queries", 0, "name")) == "r.yaml:4"
    assert load_document_node("# nothing\n", "r.yaml") == (None, None)
    with pytest.raises(ConfigError, match=r"^r\.yaml: expected one YAML document, found 2$"):
        load_document_node("a: 1\n---\nb: 2\n", "r.yaml")
