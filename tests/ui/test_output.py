"""tctl's JSON, guarded CSV, and the Query Editor's atomic exports."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from accessmon.errors import AccessmonError
from accessmon.ui.output import atomic_write, default_export_path, to_csv, to_tctl_json


def test_tctl_json_is_a_header_then_rows_of_text():
    table = pa.table({"user": ["alice", None], "n": [1, 2]})
    assert json.loads(to_tctl_json(table)) == [
        {"data": ["user", "n"]},
        {"data": ["alice", "1"]},
        {"data": ["", "2"]},
    ]


def test_csv_guards_text_but_not_numbers():
    table = pa.table({"=x": ["=cmd", "plain"], "n": [-5, 1]})
    assert to_csv(table) == "'=x,n\n'=cmd,-5\nplain,1\n"
    assert to_csv(table, guard=False) == "=x,n\n=cmd,-5\nplain,1\n"


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    def broken(path):
        path.write_text("half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "out.csv", broken)
    assert list(tmp_path.iterdir()) == []
    written = atomic_write(tmp_path / "sub" / "ok.csv", lambda p: p.write_text("x"))
    assert written.read_text() == "x" and [p.name for p in written.parent.iterdir()] == ["ok.csv"]


def test_atomic_write_turns_os_errors_into_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(AccessmonError, match="cannot write"):
        atomic_write(tmp_path / "file" / "out.csv", lambda p: p.write_text("x"))


def test_default_export_path_never_overwrites(tmp_path):
    first = default_export_path("q", "csv", tmp_path)
    assert first.parent == tmp_path and first.name.startswith("q_") and first.suffix == ".csv"
    first.write_text("")
    second = default_export_path("q", "csv", tmp_path)
    assert second != first and not second.exists()
