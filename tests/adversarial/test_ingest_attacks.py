"""Attacks on ingest (issue 14, points 1 to 9): poison lines, two writers at once, links out of
the folder, many small files, event keys, wrong types, corrupt store files, kill -9 leftovers.

Each test states the promise it checks; a line that cannot be stored is one rejected line with
its reason, and everything else of every file is stored, once."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from accessmon.storage import cache, rejects, sources
from accessmon.storage import ingest as ingest_mod
from accessmon.storage import store as store_mod
from accessmon.storage.ingest import ingest

from ..conftest import run, write_jsonl


def _event(uid: str, time: str = "2024-03-20T12:00:00.000Z", event: str = "session.start"):
    return {"event": event, "uid": uid, "time": time, "user": "alice", "login": "root"}


def _rows(store: Path) -> list[dict]:
    files = store_mod.files_between(store, None, None)
    if not files:
        return []
    table = pa.concat_tables(
        pq.read_table(f, columns=["uid", "event_type", "event_time"]) for f in files
    )
    return table.to_pylist()


def _rejects(store: Path) -> list[dict]:
    folder = store / store_mod.REJECTED_DIR
    return [
        json.loads(line)
        for f in sorted(folder.glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- 1, 2: a line that cannot be stored is rejected; the rest of all files is stored ----------


def test_out_of_range_timestamps_are_rejected_lines_and_the_rest_is_stored(tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [_event(f"g{i}") for i in range(3)])
    poison = write_jsonl(
        tmp_path / "poison.jsonl",
        [_event("p0", "0000-01-01T00:00:00Z"), _event("p1", "-0001-01-01T00:00:00Z"),
         _event("p2", "294247-01-01T00:00:00Z"), _event("ok", "2024-03-21T00:00:00Z"),
         _event("p3", "9999-12-31T23:59:59.999Z")],
    )  # fmt: skip
    store = tmp_path / "store"
    out = run(["ingest", str(good), str(poison), "--store", str(store)], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "internal error" not in out.stderr
    assert sorted(r["uid"] for r in _rows(store)) == ["g0", "g1", "g2", "ok", "p3"]
    reasons = {r["line"]: r["reason"] for r in _rejects(store)}
    assert set(reasons) == {1, 2, 3}
    assert all(r.startswith("time out of range") for r in reasons.values()), reasons
    # every re-run gives the same, and adds nothing
    again = run(["ingest", str(good), str(poison), "--store", str(store)], tmp_path)
    assert again.returncode == 0 and "added: 0" in again.stdout


def test_deeply_nested_json_is_one_rejected_line(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(
        json.dumps(_event("a")) + "\n"
        + '{"event":"exec","time":"2024-03-20T12:00:00Z","x":' + deep + "}\n"  # no uid
        + '{"event":"exec","uid":"d","time":"2024-03-20T12:00:00Z","x":' + deep + "}\n"
        + json.dumps(_event("b")) + "\n"
    )  # fmt: skip
    alone = tmp_path / "alone.jsonl"
    alone.write_text(deep + "\n")  # starts with `[`: tried as an array, then as lines
    store = tmp_path / "store"
    out = run(["ingest", str(mixed), str(alone), "--store", str(store)], tmp_path)
    assert out.returncode == 0, out.stderr
    assert sorted(r["uid"] for r in _rows(store)) == ["a", "b"]
    rejects = {(Path(r["source"]).name, r["line"]): r["reason"] for r in _rejects(store)}
    nested = f"JSON nested deeper than {ingest_mod.MAX_DEPTH} levels"
    assert rejects == {
        ("mixed.jsonl", 2): nested,
        ("mixed.jsonl", 3): nested,
        ("alone.jsonl", 1): nested,
    }


def test_nesting_up_to_the_limit_is_stored(tmp_path):
    inner = "[" * (ingest_mod.MAX_DEPTH - 1) + "]" * (ingest_mod.MAX_DEPTH - 1)
    src = tmp_path / "a.jsonl"
    src.write_text('{"event":"exec","uid":"x","time":"2024-03-20T12:00:00Z","x":' + inner + "}\n")
    assert ingest([src], tmp_path / "store").added == 1
    assert (
        ingest_mod.json_depth('{"a": "[[[[", "b": [[{}]]}') == 4
    )  # brackets in strings do not count


# -- 3: two writers into one store take turns --------------------------------------------------


def test_a_second_ingest_waits_for_the_store_lock_and_says_whom_it_waits_for(tmp_path):
    src = write_jsonl(tmp_path / "events.jsonl", [_event(f"u{i}") for i in range(500)])
    store = tmp_path / "store"
    logs = [tmp_path / "a.err", tmp_path / "b.err"]
    with store_mod.write_lock(store):
        procs = []
        for log in logs:
            with open(log, "w") as err:
                procs.append(_popen(["ingest", str(src), "--store", str(store)], tmp_path, err))
        expected = f"waiting for the store lock held by pid {os.getpid()}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(expected in f.read_text() for f in logs):
            if any(p.poll() is not None for p in procs):
                break
            time.sleep(0.05)
        assert all(expected in f.read_text() for f in logs), [f.read_text() for f in logs]
        assert _rows(store) == []  # nothing written while the lock is held
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert len(_rows(store)) == 500


def _popen(args: list[str], cwd: Path, err) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "accessmon"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSMON_")}
    return subprocess.Popen(
        [str(exe), *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, env=env
    )


def test_two_ingests_of_one_file_at_once_store_each_event_once(tmp_path):
    events = [
        _event(f"u{i}", f"2024-03-{18 + i % 3}T12:00:{i % 60:02d}.{i % 1000:03d}Z")
        for i in range(20_000)
    ]
    src = write_jsonl(tmp_path / "events.jsonl", events)
    store = tmp_path / "store"
    with open(tmp_path / "a.err", "w") as a, open(tmp_path / "b.err", "w") as b:
        procs = [_popen(["ingest", str(src), "--store", str(store)], tmp_path, e) for e in (a, b)]
        assert [p.wait(timeout=300) for p in procs] == [0, 0]
    rows = _rows(store)
    assert len(rows) == len({(r["uid"], r["event_type"], r["event_time"]) for r in rows}) == 20_000


# -- 4: a JSON lines file whose first line is an array -----------------------------------------


def test_json_lines_whose_first_line_is_an_array_keep_their_good_lines(tmp_path):
    first_array = tmp_path / "a.jsonl"
    first_array.write_text(
        "[1, 2]\n" + json.dumps(_event("a1")) + "\n" + json.dumps(_event("a2")) + "\n"
    )
    first_broken = tmp_path / "b.jsonl"
    first_broken.write_text('[{"event": "x",\n' + json.dumps(_event("b1")) + "\n")
    one_line_array = tmp_path / "c.json"
    one_line_array.write_text(json.dumps([_event("c1"), _event("c2")]) + "\n")
    pretty = tmp_path / "d.json"
    pretty.write_text(json.dumps([_event("d1")], indent=2))
    store = tmp_path / "store"
    summary = ingest([first_array, first_broken, one_line_array, pretty], store)
    assert sorted(r["uid"] for r in _rows(store)) == ["a1", "a2", "b1", "c1", "c2", "d1"]
    rejects = {(Path(r["source"]).name, r["line"]): r["reason"] for r in _rejects(store)}
    assert rejects == {("a.jsonl", 1): "not a JSON object", ("b.jsonl", 1): rejects[("b.jsonl", 1)]}
    assert rejects[("b.jsonl", 1)].startswith("malformed JSON")
    assert summary.rejected == 2


# -- 5: links out of the given folder, and private rejects ------------------------------------


def test_links_out_of_the_folder_are_not_followed_and_rejects_are_private(tmp_path):
    private = tmp_path / "home" / "secret.log"
    private.parent.mkdir()
    private.write_text('{"password": "hunter2"}\n')
    logs = tmp_path / "logs"
    write_jsonl(logs / "real.log", [_event("r1"), {"bad": "line"}])
    (logs / "stolen.log").symlink_to(private)
    (logs / "inside.log").symlink_to(logs / "real.log")  # inside the folder: followed
    (logs / "sub").symlink_to(private.parent, target_is_directory=True)
    store = tmp_path / "store"
    summary = ingest([logs], store)
    assert [r["uid"] for r in _rows(store)] == ["r1"]
    assert any("stolen.log" in p and "not followed" in p for p in summary.unreadable)
    texts = json.dumps(_rejects(store))
    assert "hunter2" not in texts and "real.log" in texts
    folder = store / store_mod.REJECTED_DIR
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in folder.iterdir()} == {0o600}
    # a link named on the command line is the user's choice: it is read
    direct = tmp_path / "direct.log"
    direct.symlink_to(write_jsonl(tmp_path / "elsewhere" / "x.log", [_event("x1")]))
    assert ingest([direct], store).added == 1


# -- 6: many small files, linear --------------------------------------------------------------


def _calls_in_ingest(tmp_path: Path, files: int) -> int:
    """Python calls made in ingest's modules for a folder of `files` one-event files: a count, not
    a time, so the test is the same on any machine."""
    folder = tmp_path / f"in{files}"
    for i in range(files):
        write_jsonl(folder / f"{i:05d}.log", [_event(f"u{i}")])
    calls = 0
    here = {ingest_mod.__file__, sources.__file__, rejects.__file__}

    def count(frame, event, arg):
        nonlocal calls
        if event == "call" and frame.f_code.co_filename in here:
            calls += 1

    sys.setprofile(count)
    try:
        summary = ingest([folder], tmp_path / f"store{files}")
    finally:
        sys.setprofile(None)
    assert summary.added == files
    return calls


def test_ingest_does_work_linear_in_the_number_of_files(tmp_path):
    small, large = _calls_in_ingest(tmp_path, 100), _calls_in_ingest(tmp_path, 400)
    # linear: 4x the files, about 4x the calls (less: fixed costs); quadratic would be ~16x
    assert large < 5 * small, (small, large)


def test_a_thousand_small_files_are_all_stored_with_their_own_rejects(tmp_path):
    folder = tmp_path / "many"
    for i in range(1000):
        lines = [_event(f"u{i}", f"2024-03-{18 + i % 3}T10:00:00.000Z"), _event(f"v{i}")]
        path = write_jsonl(folder / f"{i:04d}.log", lines)
        if i % 100 == 7:
            path.write_text(path.read_text() + "not json\n")
    store = tmp_path / "store"
    summary = ingest([folder], store)
    assert (summary.files, summary.added, summary.rejected) == (1000, 2000, 10)
    assert {(Path(r["source"]).name, r["line"]) for r in _rejects(store)} == {
        (f"{i:04d}.log", 3) for i in range(7, 1000, 100)
    }


# -- 7: the identity of an event is (uid, type, time), across the whole store ----------------


def test_a_uid_reused_by_another_event_type_keeps_both(tmp_path):
    store = tmp_path / "store"
    src = write_jsonl(tmp_path / "a.jsonl", [_event("same"), _event("same", event="session.end")])
    assert ingest([src], store).added == 2
    assert sorted(r["event_type"] for r in _rows(store)) == ["session.end", "session.start"]


def test_the_same_event_in_another_days_folder_is_stored_once(tmp_path):
    """A synced bucket may file an event under the next day; ingesting its JSON adds nothing."""
    store = tmp_path / "store"
    event = _event("late", "2024-03-20T23:59:59.999Z")
    other_day = store / "2024-03-21"
    other_day.mkdir(parents=True)
    row = {"uid": "late", "session_id": "", "event_type": "session.start",
           "event_time": dt.datetime(2024, 3, 20, 23, 59, 59, 999000, tzinfo=dt.UTC),
           "event_data": json.dumps(event), "user": "alice"}  # fmt: skip
    pq.write_table(
        pa.Table.from_pylist([row], schema=store_mod.SCHEMA), other_day / f"{uuid.uuid4()}.parquet"
    )
    summary = ingest([write_jsonl(tmp_path / "a.jsonl", [event, _event("new")])], store)
    assert (summary.added, summary.duplicates) == (1, 1)
    assert sorted(r["uid"] for r in _rows(store)) == ["late", "new"]
    # the same event in two files and two runs: once
    again = ingest([tmp_path / "a.jsonl", write_jsonl(tmp_path / "b.jsonl", [event])], store)
    assert (again.added, again.duplicates) == (0, 3)


# -- 8: the right reasons, no repeated rejects, corrupt files named and skipped ---------------


def test_wrong_json_types_are_rejected_with_the_right_reason(tmp_path):
    lines = [
        {"event": "exec", "uid": "t1", "time": 1700000000},
        {"event": "exec", "uid": {"a": 1}, "time": "2024-03-20T12:00:00Z"},
        {"event": ["x"], "uid": "t3", "time": "2024-03-20T12:00:00Z"},
        {"event": "exec", "uid": 7, "time": "2024-03-20T12:00:00Z"},
        {"event": "exec", "uid": "t5", "time": ""},
        {"event": "exec", "uid": None, "time": "2024-03-20T12:00:00Z"},  # no uid: a content key
    ]
    store = tmp_path / "store"
    summary = ingest([write_jsonl(tmp_path / "a.jsonl", lines)], store)
    assert summary.added == 1
    assert {r["line"]: r["reason"] for r in _rejects(store)} == {
        1: "'time' is not a string but a number",
        2: "'uid' is not a string but an object",
        3: "'event' is not a string but an array",
        4: "'uid' is not a string but a number",
        5: "'time' is empty",
    }


def test_a_rerun_of_a_bad_file_records_its_rejects_once(tmp_path):
    src = tmp_path / "bad.log"
    src.write_text(json.dumps(_event("a")) + "\nnot json\n{}\n")
    store = tmp_path / "store"
    first = run(["ingest", str(src), "--store", str(store)], tmp_path)
    assert first.returncode == 0 and "rejected: 2" in first.stdout
    for _ in range(2):
        again = run(["ingest", str(src), "--store", str(store)], tmp_path)
        assert again.returncode == 0 and "recorded by an earlier run" in again.stdout
    assert len(_rejects(store)) == 2
    assert len(list((store / store_mod.REJECTED_DIR).glob("*.jsonl"))) == 1


def test_a_corrupt_store_file_is_named_and_skipped(tmp_path):
    store = tmp_path / "store"
    ingest(
        [write_jsonl(tmp_path / "a.jsonl", [_event("a"), _event("b", "2024-03-21T10:00:00Z")])],
        store,
    )
    corrupt = store / "2024-03-20" / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not really parquet PAR1")
    args = ["--store", str(store)]

    summary = run(["summary", *args], tmp_path)
    assert summary.returncode == 0, summary.stderr
    assert str(corrupt) in summary.stderr and "internal error" not in summary.stderr
    assert "2 events" in summary.stdout
    info = json.loads(run(["summary", "--format", "json", *args], tmp_path).stdout)
    assert info["events"] == 2 and str(corrupt) in info["unreadable"][0]

    doctor = run(["doctor", *args], tmp_path)
    assert doctor.returncode == 1 and "internal error" not in doctor.stderr
    assert "FAIL" in doctor.stdout and str(corrupt) in doctor.stdout

    more = write_jsonl(tmp_path / "b.jsonl", [_event("c", "2024-03-22T10:00:00Z"), _event("d")])
    out = run(["ingest", str(more), *args], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "added: 2" in out.stdout and str(corrupt) in out.stderr

    built = run(["cache", "build", *args], tmp_path)
    assert built.returncode == 0, built.stderr
    assert str(corrupt) in built.stderr


# -- 9: what kill -9 leaves in the store and the cache ----------------------------------------


def test_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    store = tmp_path / "store"
    ingest([write_jsonl(tmp_path / "a.jsonl", [_event("a")])], store)
    day = store / "2024-03-20"
    dead, host = _dead_pid(), os.uname().nodename
    left = [
        day / f".x.parquet~{dead}~{host}~{uuid.uuid4().hex}.tmp",
        store / store_mod.REJECTED_DIR / f".r.jsonl~{dead}~{host}~{uuid.uuid4().hex}.tmp",
        day / f".old.parquet.{uuid.uuid4().hex}.tmp",  # an older version's name, a day old
    ]
    for path in left:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PAR1 half a file")
    old = time.time() - 2 * 24 * 3600
    os.utime(left[2], (old, old))
    live = day / f".y.parquet~{os.getpid()}~{host}~{uuid.uuid4().hex}.tmp"
    live.write_bytes(b"being written")
    recent = day / f".new.parquet.{uuid.uuid4().hex}.tmp"
    recent.write_bytes(b"maybe being written")
    out = run(
        ["ingest", str(write_jsonl(tmp_path / "b.jsonl", [_event("b")])), "--store", str(store)],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert [p.exists() for p in left] == [False, False, False]
    assert live.exists() and recent.exists()

    batch = store / cache.CACHE_DIR / f".batch~{dead}~{host}~{uuid.uuid4().hex}.tmp"
    batch.mkdir()
    (batch / "exec.parquet").write_bytes(b"half")
    assert run(["cache", "build", "--store", str(store)], tmp_path).returncode == 0
    assert not batch.exists() and live.exists()


def test_demo_waits_for_the_store_lock_like_ingest(tmp_path):
    store = tmp_path / "store"
    err_path = tmp_path / "demo.err"
    with store_mod.write_lock(store), open(err_path, "w") as err:
        demo = ["demo", "--events", "2000", "--days", "2", "--end-date", "2024-03-20"]
        proc = _popen([*demo, "--store", str(store)], tmp_path, err)
        expected = f"waiting for the store lock held by pid {os.getpid()}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and expected not in err_path.read_text():
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        assert expected in err_path.read_text(), err_path.read_text()
        assert _rows(store) == []
    assert proc.wait(timeout=120) == 0
    assert len(_rows(store)) == 2000
