"""The entry points: same arguments same events, chunks, stores, refused arguments."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from accessmon.demo import generate, iter_chunks, write_demo
from accessmon.errors import AccessmonError
from accessmon.storage import store

from .conftest import END


def test_deterministic_and_seeded():
    a = generate(3000, seed=7, end_date=END)
    b = generate(3000, seed=7, end_date=END)
    assert a.equals(b)
    assert not a.equals(generate(3000, seed=8, end_date=END))


def test_write_demo_gives_identical_stores(tmp_path):
    kwargs = {"events": 3000, "days": 10, "seed": 3, "end_date": END}
    assert write_demo(tmp_path / "a", **kwargs) == (3000, 0)
    assert write_demo(tmp_path / "b", **kwargs) == (3000, 0)
    assert write_demo(tmp_path / "a", **kwargs) == (0, 3000)  # uids are stable
    days = store.partitions(tmp_path / "a")
    assert days == store.partitions(tmp_path / "b")
    assert days[-1] == END and len(days) == 10
    for d in days:
        files_a = store.partition_files(tmp_path / "a", d)
        files_b = store.partition_files(tmp_path / "b", d)
        assert len(files_a) == len(files_b) == 1  # one file per day on a fresh store
        ta = pq.read_table(files_a[0]).sort_by("uid")
        tb = pq.read_table(files_b[0]).sort_by("uid")
        assert ta.equals(tb)


def test_default_demo_ends_now():
    """With no end date, the log runs to the current time, never past it."""
    before = dt.datetime.now(dt.UTC)
    table = generate(5000, days=2)
    after = dt.datetime.now(dt.UTC)
    last = max(table.column("event_time").to_pylist())
    assert last <= after
    assert last.date() >= before.date() - dt.timedelta(days=1)


def test_a_log_read_at_noon_is_the_days_log_up_to_noon():
    noon = dt.datetime(2024, 3, 20, 12, tzinfo=dt.UTC)
    whole = generate(3000, days=2, seed=4, end_date=END)
    until_noon = generate(3000, days=2, seed=4, end_date=END, now=noon)
    times = until_noon.column("event_time").to_pylist()
    assert 0 < len(times) < whole.num_rows and max(times) <= noon
    expected = whole.filter(pc.less_equal(whole.column("event_time"), pa.scalar(noon)))
    assert until_noon.equals(expected)
    assert generate(5, days=1, end_date=END, now=noon - dt.timedelta(days=1)).num_rows == 0


def test_odd_chunking_builds_no_empty_chunk():
    """Two events on one day in chunks of one: the split leaves an empty part, not built."""
    chunks = list(iter_chunks(2, days=1, end_date=END, chunk_events=1))
    assert sum(c.num_rows for c in chunks) == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"events": 0},
        {"events": -5},
        {"days": 0},
        {"users": 0},
        {"seed": -1},
        {"events": 2.5},
        {"end_date": "2024-03-20"},
        {"days": 30_000, "end_date": END},
    ],
)
def test_bad_arguments(kwargs, tmp_path):
    with pytest.raises(AccessmonError):
        generate(**kwargs)
    with pytest.raises(AccessmonError):
        write_demo(tmp_path, **kwargs)
    assert not tmp_path.joinpath("2024-03-20").exists()


def test_chunks_cover_days_and_split_big_days():
    chunks = list(iter_chunks(5000, days=6, end_date=END, chunk_events=1000))
    assert len(chunks) >= 5 and all(c.num_rows <= 1000 for c in chunks)
    assert sum(c.num_rows for c in chunks) == 5000
    one_day = list(iter_chunks(2500, days=1, end_date=END, chunk_events=1000))
    assert len(one_day) == 3 and all(c.num_rows <= 1000 for c in one_day)
    assert sum(c.num_rows for c in one_day) == 2500
    uids = [u for c in one_day for u in c.column("uid").to_pylist()]
    assert len(set(uids)) == 2500
    with pytest.raises(AccessmonError):
        next(iter_chunks(10, chunk_events=0))
