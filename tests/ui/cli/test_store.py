"""`accessmon ingest`, `demo`, `cache` and `summary`."""

from __future__ import annotations

import json

from ...conftest import EVENT, run


def test_ingest_prints_a_summary_and_summary_reads_the_store(tmp_path):
    src = tmp_path / "a.log"
    src.write_text(json.dumps(EVENT) + "\nnot json\n")
    out = run(["ingest", str(src), "--store", str(tmp_path / "s")], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "events read: 1" in out.stdout and "rejected: 1" in out.stdout
    info = json.loads(
        run(["summary", "--format", "json", "--store", str(tmp_path / "s")], tmp_path).stdout
    )
    assert info["events"] == 1 and info["event_types"] == {"session.start": 1}
