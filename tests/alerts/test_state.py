"""The shared de-duplication state: cooldowns claimed once under a lock, kept deliveries."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from accessmon.alerts.state import AlertStateError, _state_lock, claim, read_state

from .conftest import (
    NOW,
)


def test_concurrent_runs_alert_once(tmp_path):
    state = tmp_path / "state.json"
    barrier = threading.Barrier(8)
    won: list[set[str]] = []

    def worker() -> None:
        barrier.wait()
        won.append(claim(state, "r", ["k1", "k2"], dt.timedelta(hours=1), NOW))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(sorted, won)) == [[]] * 7 + [["k1", "k2"]]
    assert set(json.loads(state.read_text())["r"]) == {"k1", "k2"}
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_held_state_lock_times_out_cleanly(tmp_path):
    state = tmp_path / "state.json"
    with _state_lock(state, 1), pytest.raises(AlertStateError, match="try again"):
        claim(state, "r", ["k"], dt.timedelta(hours=1), NOW, wait_seconds=0.1)
    state.write_text("{not json")
    with pytest.raises(AlertStateError, match="delete it"):
        read_state(state)
