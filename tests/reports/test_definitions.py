"""Report definitions: the built-in report is Teleport's, and a bad file names its line and field."""

from __future__ import annotations

import re

import pytest

from accessmon.errors import AccessmonError, ConfigError
from accessmon.reports.definitions import get_definition, load_definitions, parse_definition

from ..conftest import SPEC
from .conftest import BROKEN, ORDER, builtin

SEED = SPEC.parent / "seed" / "access-monitoring.txt"


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_builtin_report_matches_teleport():
    report = builtin()
    assert (report.title, report.version) == ("Privileged Access Report", "0.0.1")
    assert (
        report.description
        == "Identify sessions using weak security measures across your infrastructure"
    )
    assert [(q.name, q.title, q.chart.keys) for q in report.queries] == ORDER
    assert all(
        (q.chart.kind, q.chart.x, q.chart.y) == ("bar", "event_date", "count")
        for q in report.queries
    )
    seed = _squash(SEED.read_text())
    for q in report.queries:
        assert _squash(q.query) in seed, q.name
        assert f"Suggestion: {q.suggestion}" in seed, q.name


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("    title: Root logins\n", ""), ".yaml:8: queries.0.title: Field required"),
        (lambda t: t.replace("FROM exec", "FROM exce"), ".yaml:14: queries.1.query (broken): unknown view exce"),
        (lambda t: t.replace("kind: security_report", "kind: report"), ".yaml:2: kind: Input should be"),
        (lambda t: t + "colour: red\n", ".yaml:16: colour: unknown field"),
        (lambda t: t.replace("queries:", "querys:"), ".yaml:7: querys: unknown field (did you mean queries?)"),
        (lambda t: t.replace("    suggestion: Use", "    sugestion: Use"),
         ".yaml:11: queries.0.sugestion: unknown field (did you mean suggestion"),
        (lambda t: t.replace("  - name: root_logins", "  - name: root logins"), ".yaml:8: queries.0.name: String should match"),
        (lambda t: t + "source: /etc/passwd\n", ".yaml:16: source: unknown field"),
        (lambda t: t + "---\n" + t, "expected one YAML document, found 2"),
        (lambda t: t.replace("queries:", "queries: [", 1), "invalid YAML"),
    ],
)  # fmt: skip
def test_invalid_definitions_name_file_and_field(tmp_path, edit, message):
    path = tmp_path / "team.yaml"
    path.write_text(edit(BROKEN))
    with pytest.raises(ConfigError) as err:
        parse_definition(path.read_text(), str(path))
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_user_definitions_override_built_ins_and_bad_files_do_not_hide_others(tmp_path):
    (tmp_path / "team.yaml").write_text(BROKEN)
    renamed = BROKEN.replace("name: team_checks", "name: privilege_access_report")
    (tmp_path / "mine.yml").write_text(renamed.replace("title: Team checks", "title: Mine"))
    (tmp_path / "bad.yaml").write_text(BROKEN.replace("title: Team checks\n", ""))
    (tmp_path / "notes.txt").write_text("not a definition")
    found, errors = load_definitions(tmp_path)
    assert found["privilege_access_report"].title == "Mine"
    assert found["team_checks"].source == str(tmp_path / "team.yaml")
    assert len(errors) == 1 and "bad.yaml:2: title: Field required" in errors[0]


def test_get_definition_suggests_a_name_or_gives_the_file_error(tmp_path):
    assert get_definition(tmp_path, "privilege_access_report").queries[0].name == ORDER[0][0]
    with pytest.raises(AccessmonError, match="did you mean privilege_access_report"):
        get_definition(tmp_path, "privilege_acess_report")
    (tmp_path / "team_checks.yaml").write_text(BROKEN.replace("FROM exec", "FROM exce"))
    with pytest.raises(ConfigError, match=r"team_checks\.yaml:14: queries\.1\.query"):
        get_definition(tmp_path, "team_checks")  # the error that names it
