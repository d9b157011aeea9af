"""Saved queries: Teleport `audit_query` resources, one YAML file each, in a real folder."""

from __future__ import annotations

import re

import pytest
import yaml

from accessmon.access import saved
from accessmon.access.saved import AuditQuery
from accessmon.errors import AccessmonError, ConfigError, QueryError

SQL = "SELECT user, count(*) AS n FROM session_start GROUP BY user"


def test_save_writes_the_resource_as_tctl_prints_it(tmp_path):
    path = saved.save(tmp_path, AuditQuery("logins", SQL, "Logins", "Who logs in"))
    assert path == tmp_path / "logins.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("kind: audit_query\nversion: v1\nmetadata:\n  name: logins\nspec:\n")
    assert yaml.safe_load(text) == {
        "kind": "audit_query",
        "version": "v1",
        "metadata": {"name": "logins"},
        "spec": {"name": "logins", "title": "Logins", "description": "Who logs in", "query": SQL},
    }


def test_the_title_defaults_to_the_name():
    assert AuditQuery("q", "SELECT 1 AS x").to_resource()["spec"]["title"] == "q"


def test_save_load_list_remove_round_trip(tmp_path):
    assert saved.list_queries(tmp_path / "queries") == []  # no folder yet
    folder = tmp_path / "queries"
    first = AuditQuery("b-query", SQL, "B", "")
    second = AuditQuery("a.query_2", "SELECT 1 AS x", "A", "multi\nline")
    saved.save(folder, first)
    saved.save(folder, second)
    assert saved.list_queries(folder) == [second, first]  # by file name
    assert saved.get(folder, "b-query") == first
    assert saved.load(folder / "a.query_2.yaml") == second
    assert saved.exists(folder, "b-query") and not saved.exists(folder, "c")
    saved.remove(folder, "b-query")
    assert saved.list_queries(folder) == [second]
    assert not (folder / "b-query.yaml").exists()


def test_saving_again_replaces_the_query(tmp_path):
    saved.save(tmp_path, AuditQuery("q", "SELECT 1 AS x"))
    saved.save(tmp_path, AuditQuery("q", "SELECT 2 AS x", "two"))
    assert saved.get(tmp_path, "q") == AuditQuery("q", "SELECT 2 AS x", "two", "")
    assert [p.name for p in tmp_path.iterdir()] == ["q.yaml"]  # no temporary left


def test_a_query_the_views_refuse_is_not_saved(tmp_path):
    with pytest.raises(QueryError, match="did you mean session_start"):
        saved.save(tmp_path, AuditQuery("bad", "SELECT * FROM sesion_start"))
    assert not (tmp_path / "bad.yaml").exists()


def test_an_unknown_name_suggests_a_saved_one(tmp_path):
    saved.save(tmp_path, AuditQuery("logins", SQL))
    with pytest.raises(
        AccessmonError, match=re.escape("no saved query lgins (did you mean logins?)")
    ):
        saved.get(tmp_path, "lgins")
    with pytest.raises(AccessmonError, match=r"no saved query nothing$"):
        saved.remove(tmp_path, "nothing")


@pytest.mark.parametrize(
    "name", ["", "Logins", "a b", "../up", "a/b", ".hidden", "-dash", "x\n", "q" * 64, 7, None]
)
def test_invalid_names_are_refused_before_any_file_work(tmp_path, name):
    for call in (
        lambda: saved.save(tmp_path, AuditQuery(name, "SELECT 1 AS x")),
        lambda: saved.get(tmp_path, name),
        lambda: saved.exists(tmp_path, name),
        lambda: saved.remove(tmp_path, name),
    ):
        with pytest.raises(AccessmonError, match="invalid query name"):
            call()
    assert list(tmp_path.iterdir()) == []


def test_the_longest_name_is_63_characters(tmp_path):
    saved.save(tmp_path, AuditQuery("q" * 63, "SELECT 1 AS x"))
    assert saved.exists(tmp_path, "q" * 63)


def test_a_resource_written_by_hand_loads(tmp_path):
    (tmp_path / "by-hand.yaml").write_text(
        "# from tctl get audit_query/by-hand\n"
        "kind: audit_query\nversion: v1\n"
        "metadata: {name: by-hand, revision: abc}\n"
        "spec:\n  query: |\n    SELECT user\n    FROM exec\n",
        encoding="utf-8",
    )
    query = saved.get(tmp_path, "by-hand")
    assert query == AuditQuery("by-hand", "SELECT user\nFROM exec\n", "", "")


def test_the_name_may_come_from_the_spec_alone(tmp_path):
    (tmp_path / "x.yaml").write_text("kind: audit_query\nspec: {name: x, query: SELECT 1}\n")
    assert saved.load(tmp_path / "x.yaml").name == "x"


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("kind: audit_query\nspec:\n  query: [unclosed\n  title: x\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:\d+: invalid YAML"):
        saved.list_queries(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: role\nmetadata: {name: x}\n", "not a kind: audit_query resource"),
        ("- a list\n", "not a kind: audit_query resource"),
        ("", "not a kind: audit_query resource"),
        (
            "kind: audit_query\nmetadata: {name: x}\nspec: {}\n",
            "audit_query needs metadata.name and spec.query",
        ),
        (
            "kind: audit_query\nspec: {query: SELECT 1}\n",
            "audit_query needs metadata.name and spec.query",
        ),
        (
            "kind: audit_query\nmetadata: {name: x}\nspec: {query: 7}\n",
            "audit_query needs metadata.name",
        ),
    ],
)
def test_a_file_that_is_no_audit_query_names_the_file(tmp_path, text, message):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {message}")):
        saved.load(path)


@pytest.mark.parametrize(
    "text",
    ["kind: audit_query\nspec: [a, b]\n", "kind: audit_query\nmetadata: x\nspec: {query: q}\n"],
)
def test_a_spec_or_metadata_that_is_no_mapping_names_the_file(tmp_path, text):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(
        ConfigError, match=re.escape(str(path)) + ": (spec|metadata) must be a mapping"
    ):
        saved.load(path)
