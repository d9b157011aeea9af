"""The project's promises about itself: dependencies agree, import stays light, notebooks clean."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

import pytest
import yaml

from .conftest import REPO

#: conda-forge names that differ from PyPI's.
CONDA_TO_PYPI = {"python-duckdb": "duckdb", "trino-python-client": "trino"}


def _norm(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower()


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [r for rs in project["optional-dependencies"].values() for r in rs]
    wanted = {_norm(r) for r in project["dependencies"] + extras if not r.startswith("accessmon[")}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    listed = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            listed |= {_norm(d) for d in dep["pip"]}
        elif not dep.startswith(("python>", "pip")):
            name, _, rest = re.match(r"([\w.-]+)(.*)", dep).group(1, 0, 2)
            listed.add(_norm(CONDA_TO_PYPI.get(name, name) + rest))
    assert listed == wanted


def test_import_is_light():
    code = (
        "import sys, accessmon; "
        "heavy = [m for m in ('boto3', 'pyathena', 'trino', 'plotly', 'duckdb', 'pandas') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_notebooks_are_committed_without_outputs():
    for path in (REPO / "notebooks").glob("*.ipynb"):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{path.name} has outputs"
                assert cell.get("execution_count") is None, f"{path.name} has execution counts"


def test_spec_fixtures_match_shared_when_it_is_beside_the_clone():
    """tests/fixtures/shared copies the facts the tests check; they must not drift from ../shared."""
    fixtures = REPO / "tests" / "fixtures" / "shared"
    copies = sorted(fixtures.rglob("*.*"))
    assert [p.relative_to(fixtures).as_posix() for p in copies] == [
        "seed/access-monitoring.txt",
        "spec/views.md",
    ]
    for copy in copies:
        original = REPO.parent / "shared" / copy.relative_to(fixtures)
        if original.is_file():
            assert copy.read_bytes() == original.read_bytes(), f"{copy} differs from {original}"


@pytest.mark.parametrize(
    ("engine", "hidden"), [("athena", ("pyathena", "boto3")), ("trino", ("trino",))]
)
def test_an_engine_without_its_extra_says_which_extra_to_install(tmp_path, engine, hidden):
    """`pip install accessmon` has no pyathena nor trino: choosing the engine names the extra,
    not a traceback."""
    code = (
        "import sys, importlib.abc\n"
        "class Hide(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {hidden!r}:\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "from accessmon.ui.cli import main\n"
        f"main(['query', 'exec', '--engine', {engine!r}, 'SELECT 1'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert f"pip install 'accessmon[{engine}]'" in out.stderr
    assert "Traceback" not in out.stderr
