"""nbval runs every notebook, against a demo store, on the kernel `make` registers."""

from __future__ import annotations

import os
import subprocess
import sys

from accessmon.demo import write_demo
from accessmon.reports.notebook import kernel_name

from .conftest import REPO


def test_every_notebook_runs_against_the_demo_store(tmp_path):
    store = tmp_path / "data" / "audit"
    write_demo(store, events=5_000, days=10, seed=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSMON_")}
    env.update(
        ACCESSMON_STORE=str(store),
        ACCESSMON_AUDIT_LOG=str(tmp_path / "audit.jsonl"),
        ACCESSMON_OUTPUT_DIR=str(tmp_path / "reports"),
        HOME=str(tmp_path),
    )
    notebooks = sorted(str(p) for p in (REPO / "notebooks").glob("*.ipynb"))
    assert notebooks
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--nbval-lax", f"--nbval-kernel-name={kernel_name()}", "--rootdir", str(tmp_path),
         *notebooks],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout
    assert (tmp_path / "audit.jsonl").is_file()  # the notebooks' runs are audited too
    assert not (REPO / "notebooks" / "data").exists()  # and nothing is written into the repo
