"""A report's runs on disk: state names and files, the per-report lock, interrupted runs.

Attacks on these (names as paths, dead processes) live in tests/adversarial/test_names_attacks.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from accessmon.reports.state import (
    INTERRUPTED,
    ReportBusy,
    mark_interrupted,
    read_states,
    report_lock,
    run_folder_prefix,
    state_name,
    write_state,
)
from accessmon.storage import audit
from accessmon.window import Window

from ..conftest import run as cli
from ..conftest import session_for


def test_state_names_follow_teleport():
    assert state_name("team", Window.resolve(30)) == "team_30_days"
    assert state_name("team", Window.resolve(None, "2024-03-01", "2024-03-31")) == (
        "team_2024-03-01_2024-03-31"
    )


def test_states_read_newest_first_and_skip_what_is_not_a_state(tmp_path, caplog):
    write_state(tmp_path, "team_7_days", "SUCCESS", results="a.json")
    time.sleep(0.01)
    write_state(tmp_path, "team_2024-03-01_2024-03-31", "ERROR", error="boom")
    write_state(tmp_path, "team_checks_7_days", "SUCCESS")  # another report's state
    (tmp_path / ".state" / "team_30_days.json").write_text("[1, 2]")
    with caplog.at_level(logging.WARNING, logger="accessmon"):
        states = read_states(tmp_path, "team")
    assert [(d["name"], d["state"]) for d in states] == [
        ("team_2024-03-01_2024-03-31", "ERROR"),
        ("team_7_days", "SUCCESS"),
    ]
    assert states[1]["results"] == "a.json"
    assert dt.datetime.fromisoformat(states[0]["updated_at"]).tzinfo is not None
    assert "team_30_days.json: not a report state file" in caplog.text


def test_a_leftover_running_state_becomes_an_interrupted_error(tmp_path):
    here = {"host": socket.gethostname(), "pid": os.getpid()}
    write_state(tmp_path, "team_7_days", "RUNNING", **here)
    assert read_states(tmp_path, "team")[0]["state"] == "RUNNING"  # this process is alive
    mark_interrupted(tmp_path, "team")  # as a run does, once it holds the lock
    (doc,) = read_states(tmp_path, "team")
    assert (doc["state"], doc["error"], doc["pid"]) == ("ERROR", INTERRUPTED, os.getpid())


def test_run_folders_are_named_after_their_process():
    prefix = run_folder_prefix()
    assert prefix == f".run-{socket.gethostname()}.{os.getpid()}."


def test_a_busy_lock_raises_and_audits_the_give_up(tmp_path):
    session = session_for(tmp_path / "store", audit_log=tmp_path / "audit.jsonl")
    with report_lock(tmp_path, "team", 0):
        busy = pytest.raises(ReportBusy, match="another run of team is in progress")
        with busy, report_lock(tmp_path, "team", 0, session, days=7):
            pass
        with report_lock(tmp_path, "team_checks", 0):  # another report runs meanwhile
            pass
    record = audit.read(tmp_path / "audit.jsonl")[-1]
    assert (record["code"], record["name"], record["days"]) == ("SRE002W", "team", 7)


def test_overlapping_runs_wait_for_the_lock_or_exit_cleanly(workdir):
    out_dir = workdir / "reports"
    with report_lock(out_dir, "privilege_access_report", wait_seconds=0):
        busy = cli(["report", "run", "privilege_access_report", "--wait", "0.5"], workdir)
    assert busy.returncode == 1
    assert "another run of privilege_access_report is in progress" in busy.stderr
    assert "Traceback" not in busy.stderr
    released = threading.Event()

    def hold():
        with report_lock(out_dir, "privilege_access_report", wait_seconds=0):
            released.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    waiter = subprocess.Popen(
        [sys.executable, "-m", "accessmon", "report", "run", "privilege_access_report", "--wait", "60"],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(1.0)
    assert waiter.poll() is None  # still waiting for the lock
    released.set()
    holder.join()
    stdout, stderr = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, stderr
    assert stdout.strip().endswith(".html")
