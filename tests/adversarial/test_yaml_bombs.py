"""YAML bombs: every resource file refuses aliases before anything is expanded (issue 14, point 16)."""

from __future__ import annotations

import pytest

from accessmon.errors import ConfigError
from accessmon.resources import load_document, load_documents

from ..conftest import run

LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{b}: &{b} [*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a}]\n"
    for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def indent(text: str, by: int) -> str:
    return "".join(" " * by + line + "\n" for line in text.splitlines())


def test_aliases_are_refused_with_file_and_line():
    with pytest.raises(ConfigError, match=r"^bomb\.yaml:2: invalid YAML: aliases are not allowed"):
        load_document(LAUGHS, "bomb.yaml")
    with pytest.raises(ConfigError, match="aliases are not allowed"):
        load_documents("kind: role\n---\n" + LAUGHS, "bomb.yaml")


def test_anchors_without_aliases_and_several_documents_still_load():
    assert load_document("a: &x 1\nb: 2\n", "ok.yaml") == {"a": 1, "b": 2}
    docs = load_documents("a: 1\n---\nb: 2\n", "ok.yaml")
    assert [d for d, _ in docs] == [{"a": 1}, {"b": 2}]
    assert docs[1][1].start_mark.line == 2
    with pytest.raises(ConfigError, match="expected one YAML document, found 2"):
        load_document("a: 1\n---\nb: 2\n", "two.yaml")


def test_bomb_in_rbac_traits_is_refused_by_alert_ls(tmp_path):
    user = "kind: user\nmetadata: {name: alice}\nspec:\n  roles: [editor]\n  traits:\n"
    (tmp_path / "rbac.yaml").write_text(user + indent(LAUGHS, 4))
    (tmp_path / "accessmon.yaml").write_text("rbac: {resources: [./rbac.yaml]}\n")
    out = run(["alert", "ls", "--user", "alice"], tmp_path)
    assert out.returncode == 1, out.stderr
    assert "rbac.yaml:7: invalid YAML: aliases are not allowed (*a)" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stdout) < 10_000


def test_bomb_in_a_saved_query_title_is_refused_by_query_ls(tmp_path):
    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "bomb.yaml").write_text(
        "kind: audit_query\nmetadata: {name: bomb}\nspec:\n  query: SELECT 1\n  title:\n"
        + indent(LAUGHS, 4)
    )
    out = run(["query", "ls"], tmp_path)
    assert "bomb.yaml:7: invalid YAML: aliases are not allowed" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stdout) < 10_000


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("accessmon.yaml", "output_dir:\n" + indent(LAUGHS, 2)),
        ("reports/bomb.yaml", "kind: security_report\nqueries:\n" + indent(LAUGHS, 2)),
        ("rules/bomb.yaml", "kind: detection_rule\nspec:\n" + indent(LAUGHS, 2)),
    ],
)
def test_bomb_in_config_reports_and_rules_is_refused(tmp_path, path, text):
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    if path != "accessmon.yaml":
        (tmp_path / "accessmon.yaml").write_text("reports_dir: ./reports\nrules_dir: ./rules\n")
    command = {"accessmon.yaml": ["whoami"], "reports/bomb.yaml": ["report", "ls"]}
    out = run(command.get(path, ["alert", "ls"]), tmp_path)
    assert "aliases are not allowed" in out.stderr + out.stdout
    assert "Traceback" not in out.stderr
