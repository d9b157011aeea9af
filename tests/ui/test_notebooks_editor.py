"""The query editor notebook: thin and committed clean (test_notebooks.py runs it under nbval)."""

from __future__ import annotations

import json

import pytest

from ..conftest import REPO

NOTEBOOK = REPO / "notebooks" / "query_editor.ipynb"


def test_committed_without_outputs_and_with_the_accessmon_kernel():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["metadata"]["kernelspec"] == {
        "name": "accessmon",
        "display_name": "accessmon",
        "language": "python",
    }
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert code[0]["metadata"]["tags"] == ["parameters"]
    assert len(code) <= 3  # thin: parameters, then calls into the package


def test_parameters_cell():
    papermill = pytest.importorskip("papermill")
    params = papermill.inspect_notebook(str(NOTEBOOK))
    assert set(params) == {"store", "user", "config", "engine"}
    assert all(p["default"] == "None" for p in params.values())
