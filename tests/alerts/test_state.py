"""The shared de-duplication state: cooldowns claimed once under a lock, kept deliveries."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from accessmon.alerts.state import (
    MAX_PENDING,
    PENDING,
    AlertStateError,
    _state_lock,
    claim,
    keep_delivery,
    read_state,
    release,
    take_deliveries,
)

from .conftest import NOW


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


def test_a_dry_run_claim_writes_nothing_and_release_undoes_only_this_run(tmp_path):
    state = tmp_path / "state.json"
    hour = dt.timedelta(hours=1)
    assert claim(state, "r", ["a"], hour, NOW, dry_run=True) == {"a"} and not state.exists()
    assert claim(state, "r", ["a"], hour, NOW) == {"a"}
    later = NOW + dt.timedelta(minutes=5)
    assert claim(state, "r", ["a", "b"], hour, later) == {"b"}
    release(state, "r", ["a", "b"], later)  # a was claimed by the earlier run: it stays
    assert set(read_state(state)["r"]) == {"a"}
    assert claim(state, "r", ["a"], hour, NOW + hour) == {"a"}  # the cooldown is over


def test_failed_deliveries_are_kept_per_rule_and_taken_once(tmp_path):
    state = tmp_path / "state.json"
    for n in range(MAX_PENDING + 2):
        keep_delivery(state, "r", {"url": "http://x", "payload": {"n": n}})
    keep_delivery(state, "other", {"url": "http://y", "payload": {}})
    taken = take_deliveries(state, "r")
    assert [d["payload"]["n"] for d in taken] == list(range(2, MAX_PENDING + 2))
    assert all(d["failed_at"].endswith("Z") for d in taken)
    assert take_deliveries(state, "r") == []
    assert [d["url"] for d in take_deliveries(state, "other")] == ["http://y"]
    assert read_state(state)[PENDING] == {}
