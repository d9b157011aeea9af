"""The store on disk: its layout, de-duplication on write, reading it back by day, and the
writers' safety (atomic files, the write lock, what killed writers leave behind)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accessmon._io import atomic_write_text, remove_dead_temporaries_in, temp_path
from accessmon.errors import StoreError
from accessmon.storage import store as store_mod
from accessmon.storage.store import (
    SCHEMA,
    WRITE_LOCK,
    atomic_write_parquet,
    count_by_day,
    files_between,
    is_partition_name,
    partition_files,
    partitions,
    remove_dead_temporaries,
    summarize,
    write_events,
    write_lock,
)

UTC = dt.UTC


def events(*rows: tuple[str, str, str]) -> pa.Table:
    """(uid, event_type, ISO time) rows as the store's table."""
    return pa.table(
        {
            "uid": [r[0] for r in rows],
            "session_id": [None] * len(rows),
            "event_type": [r[1] for r in rows],
            "event_time": [dt.datetime.fromisoformat(r[2]).replace(tzinfo=UTC) for r in rows],
            "event_data": [f'{{"uid": "{r[0]}", "event": "{r[1]}"}}' for r in rows],
            "user": ["alice"] * len(rows),
        },
        schema=SCHEMA,
    )


def stored(store: Path) -> list[tuple[str, str, str]]:
    """(folder, uid, event_type) of every stored row."""
    out = []
    for path in files_between(store, None, None):
        for row in pq.read_table(path).to_pylist():
            out.append((path.parent.name, row["uid"], row["event_type"]))
    return sorted(out)


def dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- layout -----------------------------------------------------------------------------------------


def test_events_land_in_one_new_file_per_utc_day(tmp_path):
    store = tmp_path / "store"
    added, dups = write_events(
        store,
        events(
            ("a", "exec", "2024-03-20T23:59:59.999"),
            ("b", "exec", "2024-03-21T00:00:00"),
            ("c", "auth", "2024-03-20T08:00:00"),
        ),
    )
    assert (added, dups) == (3, 0)
    assert sorted(p.name for p in store.iterdir()) == ["2024-03-20", "2024-03-21"]
    day = partition_files(store, dt.date(2024, 3, 20))
    assert len(day) == 1 and day[0].suffix == ".parquet"
    uuid_part = day[0].stem
    assert len(uuid_part) == 36 and uuid_part.count("-") == 4
    table = pq.read_table(day[0])
    assert table.schema.names == SCHEMA.names
    assert table.column("uid").to_pylist() == ["c", "a"]  # sorted by type, then time


def test_partitions_are_real_dates_only(tmp_path):
    store = tmp_path / "store"
    for name in ("2024-03-20", "2024-01-02", "2024-02-30", "_rejected", "_cache", "notes"):
        (store / name).mkdir(parents=True)
    (store / "2024-03-21").write_text("a file, not a folder")
    assert partitions(store) == [dt.date(2024, 1, 2), dt.date(2024, 3, 20)]
    assert partitions(tmp_path / "missing") == []
    assert [is_partition_name(n) for n in ("2024-03-20", "2024-3-20", "2024-13-01", "x")] == [
        True,
        False,
        False,
        False,
    ]


def test_partition_files_skip_hidden_temporaries_and_other_files(tmp_path):
    folder = tmp_path / "store" / "2024-03-20"
    folder.mkdir(parents=True)
    for name in ("b.parquet", "a.parquet", ".x.parquet~1~h~u.tmp", ".hidden.parquet", "n.json"):
        (folder / name).write_text("")
    (folder / "dir.parquet").mkdir()
    names = [p.name for p in partition_files(tmp_path / "store", dt.date(2024, 3, 20))]
    assert names == ["a.parquet", "b.parquet"]
    assert partition_files(tmp_path / "store", dt.date(2024, 3, 21)) == []


def test_files_between_takes_inclusive_and_open_ends(tmp_path):
    store = tmp_path / "store"
    write_events(
        store,
        events(*[(f"u{d}", "exec", f"2024-03-{d:02d}T12:00:00") for d in (18, 19, 20, 21)]),
    )

    def days(start, end):
        return [p.parent.name for p in files_between(store, start, end)]

    d = dt.date
    assert days(d(2024, 3, 19), d(2024, 3, 20)) == ["2024-03-19", "2024-03-20"]
    assert days(None, d(2024, 3, 18)) == ["2024-03-18"]
    assert days(d(2024, 3, 21), None) == ["2024-03-21"]
    assert len(days(None, None)) == 4
    assert days(d(2024, 3, 22), d(2024, 3, 30)) == []


# -- de-duplication -----------------------------------------------------------------------------------


def test_the_same_key_twice_in_one_batch_is_stored_once(tmp_path):
    store = tmp_path / "store"
    batch = events(("a", "exec", "2024-03-20T10:00:00"), ("a", "exec", "2024-03-20T10:00:00"))
    assert write_events(store, batch) == (1, 1)
    assert stored(store) == [("2024-03-20", "a", "exec")]


def test_a_second_write_of_the_same_events_adds_nothing_and_no_file(tmp_path):
    store = tmp_path / "store"
    batch = events(("a", "exec", "2024-03-20T10:00:00"), ("b", "exec", "2024-03-21T10:00:00"))
    write_events(store, batch)
    before = sorted(files_between(store, None, None))
    assert write_events(store, batch) == (0, 2)
    assert sorted(files_between(store, None, None)) == before


def test_the_key_is_uid_type_and_time_together(tmp_path):
    store = tmp_path / "store"
    write_events(store, events(("a", "exec", "2024-03-20T10:00:00")))
    added, dups = write_events(
        store,
        events(
            ("a", "exec", "2024-03-20T10:00:00"),  # the same event
            ("a", "auth", "2024-03-20T10:00:00"),  # Teleport reuses uids across types
            ("a", "exec", "2024-03-20T10:00:00.001"),  # another instant
            ("b", "exec", "2024-03-20T10:00:00"),
        ),
    )
    assert (added, dups) == (3, 1)
    assert len(stored(store)) == 4


def test_an_event_filed_under_another_days_folder_is_still_a_duplicate(tmp_path):
    """A synced bucket may keep an event under a day other than its time's."""
    store = tmp_path / "store"
    atomic_write_parquet(
        events(("late", "exec", "2024-03-20T23:59:00")), store / "2024-03-21" / "synced.parquet"
    )
    assert write_events(store, events(("late", "exec", "2024-03-20T23:59:00"))) == (0, 1)
    assert partitions(store) == [dt.date(2024, 3, 21)]


def test_on_file_sees_each_new_file_with_its_rows(tmp_path):
    store = tmp_path / "store"
    seen = []
    write_events(
        store,
        events(("a", "exec", "2024-03-20T10:00:00"), ("b", "exec", "2024-03-21T10:00:00")),
        on_file=lambda path, table: seen.append((path.parent.name, table.num_rows, path.is_file())),
    )
    assert sorted(seen) == [("2024-03-20", 1, True), ("2024-03-21", 1, True)]


def test_an_unreadable_file_in_the_store_is_skipped_with_a_warning(tmp_path, caplog):
    store = tmp_path / "store"
    bad = store / "2024-03-20" / "broken.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not parquet at all")
    with caplog.at_level(logging.WARNING, logger="accessmon"):
        assert write_events(store, events(("a", "exec", "2024-03-20T10:00:00"))) == (1, 0)
    assert f"skipped {bad}" in caplog.text


# -- reading back ------------------------------------------------------------------------------------------


def test_count_by_day_reads_footers_and_names_unreadable_files(tmp_path):
    store = tmp_path / "store"
    write_events(
        store, events(("a", "exec", "2024-03-20T10:00:00"), ("b", "auth", "2024-03-20T11:00:00"))
    )
    write_events(
        store, events(("c", "exec", "2024-03-20T12:00:00"), ("d", "exec", "2024-03-22T01:00:00"))
    )
    (store / "2024-03-22" / "bad.parquet").write_text("garbage")
    problems: list[str] = []
    got = list(count_by_day(store, problems))
    assert got == [(dt.date(2024, 3, 20), 2, 3), (dt.date(2024, 3, 22), 1, 1)]
    assert len(problems) == 1 and "bad.parquet: not a readable Parquet file" in problems[0]


def test_summarize_counts_days_files_events_and_types(tmp_path, caplog):
    store = tmp_path / "store"
    write_events(
        store,
        events(
            ("a", "exec", "2024-03-19T10:00:00"),
            ("b", "exec", "2024-03-20T10:00:00"),
            ("c", "auth", "2024-03-21T10:00:00"),
            ("d", "lock.created", "2024-03-21T11:00:00"),
        ),
    )
    bad = store / "2024-03-21" / "bad.parquet"
    bad.write_text("garbage")
    with caplog.at_level(logging.WARNING, logger="accessmon"):
        summary = summarize(store)
    assert {k: v for k, v in summary.items() if k != "unreadable"} == {
        "store": str(store),
        "first_day": "2024-03-19",
        "last_day": "2024-03-21",
        "days": 3,
        "files": 3,
        "events": 4,
        "event_types": {"exec": 2, "auth": 1, "lock.created": 1},  # most first, then by name
    }
    assert len(summary["unreadable"]) == 1 and str(bad) in summary["unreadable"][0]
    assert str(bad) in caplog.text


def test_summarize_of_an_empty_or_missing_store(tmp_path):
    summary = summarize(tmp_path / "none")
    assert (summary["days"], summary["events"], summary["first_day"]) == (0, 0, None)
    assert summary["event_types"] == {} and summary["unreadable"] == []


# -- atomic writes ---------------------------------------------------------------------------------------


def test_temp_path_is_hidden_beside_the_file_and_names_its_writer(tmp_path):
    tmp = temp_path(tmp_path / "state.json")
    assert tmp.parent == tmp_path and tmp.name.startswith(".state.json~") and tmp.suffix == ".tmp"
    _, pid, host, _ = tmp.name[1:-4].rsplit("~", 3)
    assert (int(pid), host) == (os.getpid(), socket.gethostname())
    assert temp_path(tmp_path / "state.json") != tmp


def test_atomic_write_text_writes_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "deep" / "er" / "results.json"
    atomic_write_text("first", path)
    atomic_write_text("second ✓", path)
    assert path.read_text(encoding="utf-8") == "second ✓"
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


def test_a_private_file_is_the_owners_only_from_the_start(tmp_path):
    atomic_write_text("secret", tmp_path / "private.txt", private=True)
    atomic_write_text("open", tmp_path / "shared.txt")
    assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o600
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "shared.txt").stat().st_mode) == 0o666 & ~umask


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    path = tmp_path / "state.json"
    atomic_write_text("old", path)
    with pytest.raises(TypeError):
        atomic_write_text(b"not text", path)  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


# -- what killed writers leave behind ---------------------------------------------------------------------


def test_only_temporaries_of_dead_writers_are_removed(tmp_path):
    host = socket.gethostname()
    dead, alive = dead_pid(), os.getpid()
    (tmp_path / f".a.parquet~{dead}~{host}~x.tmp").write_text("")
    (tmp_path / f".b.parquet~{alive}~{host}~x.tmp").write_text("")  # a running writer's
    (tmp_path / f".c.parquet~{dead}~another-host~x.tmp").write_text("")  # cannot tell: keep
    (tmp_path / f".run~{dead}~{host}~x.tmp").mkdir()  # folders too
    (tmp_path / f".run~{dead}~{host}~x.tmp" / "part").write_text("")
    (tmp_path / "kept.parquet").write_text("")
    assert remove_dead_temporaries_in(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            f".b.parquet~{alive}~{host}~x.tmp",
            f".c.parquet~{dead}~another-host~x.tmp",
            "kept.parquet",
        ]
    )


def test_temporaries_without_a_writer_are_removed_after_a_day(tmp_path):
    old, new = tmp_path / ".old.tmp", tmp_path / ".new.tmp"
    old.write_text("")
    new.write_text("")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    assert remove_dead_temporaries_in(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == [".new.tmp"]
    assert remove_dead_temporaries_in(tmp_path / "missing") == 0


def test_the_store_is_cleaned_in_its_days_rejects_and_cache_only(tmp_path):
    store = tmp_path / "store"
    name = f".x~{dead_pid()}~{socket.gethostname()}~u.tmp"
    for folder in ("2024-03-20", "_rejected", "_cache", "elsewhere"):
        (store / folder).mkdir(parents=True)
        (store / folder / name).write_text("")
    assert remove_dead_temporaries(store) == 3
    assert (store / "elsewhere" / name).exists()
    assert remove_dead_temporaries(tmp_path / "missing") == 0


# -- the write lock ------------------------------------------------------------------------------------------


def test_the_write_lock_names_its_holder_and_excludes_a_second_writer(tmp_path, caplog):
    store = tmp_path / "store"
    with write_lock(store):
        assert (store / WRITE_LOCK).read_text().strip() == str(os.getpid())
        busy = pytest.raises(StoreError, match="another process holds the store lock")
        second = write_lock(store, wait_seconds=0.2)
        with caplog.at_level(logging.WARNING, logger="accessmon"), busy, second:
            pass  # pragma: no cover
        assert f"waiting for the store lock held by pid {os.getpid()}" in caplog.text
    with write_lock(store, wait_seconds=0):  # released on exit
        pass


def test_module_constants_match_teleports_table():
    assert SCHEMA.names == ["uid", "session_id", "event_type", "event_time", "event_data", "user"]
    assert store_mod.KEY == ("uid", "event_type", "event_time")
    assert SCHEMA.field("event_time").type == pa.timestamp("ms", tz="UTC")
