"""The view cache gives the answers the JSON gives, and a changed file is never served stale."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import string

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accessmon.config import load_config
from accessmon.errors import AccessmonError
from accessmon.session import Session
from accessmon.sql.views import Column, teleport_views
from accessmon.storage import cache
from accessmon.storage import store as store_mod
from accessmon.storage.ingest import ingest
from accessmon.window import Window

from ..conftest import write_jsonl

VIEWS = teleport_views()
DAYS = [dt.date(2024, 3, d) for d in (18, 19, 20)]
WINDOW = Window.between(DAYS[0], DAYS[-1])
text = st.text(alphabet=string.ascii_letters + string.digits + " ./:-'\"é", max_size=12)


def _value(col: Column):
    """Values of the column's type, and a few of the wrong type (Teleport is not always tidy)."""
    if col.type == "integer":
        return st.one_of(st.integers(-(2**31), 2**31 - 1), st.integers(2**31, 2**40), text)
    if col.type == "boolean":  # Trino reads "t", "1", 0, 2.5 as booleans; "yes", 2**70 fail
        words = st.sampled_from(["true", "TRUE", "t", "F", "1", "0", "yes", "", "1.5"])
        numbers = st.one_of(st.integers(-2, 2), st.integers(2**63, 2**70), st.floats(-3, 3))
        return st.one_of(st.booleans(), words, numbers, text)
    if col.type == "double":  # Java's Double.parseDouble for strings: "1.5d", "NaN"
        words = st.sampled_from(["1.5", " 2e3 ", "1.5d", "NaN", "-Infinity", "inf", "abc"])
        return st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.booleans(), words)
    if col.type == "array(varchar)":
        return st.lists(st.one_of(text, st.integers(0, 9)), max_size=3)
    if col.type.startswith("array(row("):
        fields = [f.strip().split(" ")[0] for f in col.type[10:-2].split(",")]
        return st.lists(st.fixed_dictionaries({}, optional={f: text for f in fields}), max_size=2)
    return st.one_of(text, st.integers(0, 99))


def _nest(event: dict, path: tuple[str, ...], value) -> None:
    for key in path[:-1]:
        event = event.setdefault(key, {})
        if not isinstance(event, dict):
            return
    event[path[-1]] = value


@st.composite
def events(draw):
    out = []
    for i in range(draw(st.integers(1, 40))):
        view = draw(st.sampled_from(sorted(VIEWS)))
        day = draw(st.sampled_from(DAYS))
        ms = draw(st.integers(0, 86_399_999))
        time = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(milliseconds=ms)
        event = {"event": VIEWS[view].event_type, "uid": f"u{i}",
                 "time": time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"}  # fmt: skip
        for col in VIEWS[view].columns[2:]:
            if col.path[0] in ("event", "uid", "time") or not draw(st.booleans()):
                continue
            _nest(event, col.path, draw(_value(col)))
        out.append(event)
    return out


def _session(store, use_cache: bool) -> Session:
    flags = {
        "store": store,
        "audit_log": store.parent / "audit.jsonl",
        "duckdb": {"cache": use_cache},
    }
    return Session(load_config(flags=flags, environ={}))


def _rows(session: Session, view: str) -> list[str]:
    """The view's rows, or that it fails: a value its column cannot hold (2**40 or text as
    integer, "yes" as boolean) fails the query naming the column, from the cache as from the
    JSON (issue 17)."""
    try:
        rows = session.run(f"SELECT * FROM {view}", WINDOW).table.to_pylist()
    except AccessmonError as e:
        typ = "(integer|bigint|boolean|double)"
        assert re.search(rf"Cannot cast '.*' to {typ} in view column \w+", str(e)), e
        return ["fails: a value its column's type cannot hold"]
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=events(), synced=st.sets(st.sampled_from(DAYS)))
def test_cache_and_json_give_identical_rows_for_every_view(tmp_path_factory, batch, synced):
    """Also with some days' files rewritten (as by `aws s3 sync`): their batch then answers
    for the other days only, and the rewritten days are parsed."""
    store = tmp_path_factory.mktemp("prop") / "store"
    summary = ingest([write_jsonl(store.parent / "in.jsonl", batch)], store)
    assert cache.status(store)["not_cached"] == 0 and summary.cached_files > 0
    cached, parsed = _session(store, True), _session(store, False)
    # the views the batch has events of, and one it has none of (its empty answer)
    present = {name for name, v in VIEWS.items() if any(e["event"] == v.event_type for e in batch)}
    views = sorted(present) + sorted(set(VIEWS) - present)[:1]
    expected = {view: _rows(parsed, view) for view in views}
    for view in views:
        assert _rows(cached, view) == expected[view], view
    for day in synced:
        for source in store_mod.partition_files(store, day):
            os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 1_000_000))
    partly = _session(store, True)
    for view in views:
        assert _rows(partly, view) == expected[view], view


def _event(uid: str, day: int, login: str) -> dict:
    return {"event": "session.start", "uid": uid, "time": f"2024-03-{day}T10:00:00.000Z",
            "user": "alice", "login": login, "proto": "ssh"}  # fmt: skip


def test_a_changed_file_invalidates_its_day_and_is_rebuilt(tmp_path):
    store = tmp_path / "store"
    ingest(
        [write_jsonl(tmp_path / "a.jsonl", [_event("a", 19, "root"), _event("b", 20, "ubuntu")])],
        store,
    )
    session = _session(store, True)
    sql = "SELECT login FROM session_start ORDER BY login"
    assert session.prepare(sql, WINDOW)[2].count("json_transform") == 0  # all from the cache
    assert session.query(sql, WINDOW)["login"].tolist() == ["root", "ubuntu"]

    # `aws s3 sync` replaces the 2024-03-20 file with one holding more events
    (source,) = store_mod.partition_files(store, dt.date(2024, 3, 20))
    table = pq.read_table(source)
    extra = pq.read_table(source).to_pylist()[0] | {
        "uid": "c",
        "event_data": json.dumps(_event("c", 20, "admin")),
    }
    pq.write_table(table.from_pylist([*table.to_pylist(), extra], schema=table.schema), source)
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 1_000_000))
    # only the changed day's partition is invalid; its batch still answers for the 19th
    assert cache.status(store) == {"files": 2, "cached": 1, "not_cached": 1, "stale_batches": 1}

    fresh = _session(store, True)
    rendered = fresh.prepare(sql, WINDOW)[2]
    assert "json_transform" in rendered  # the changed partition is parsed, not served stale
    assert "WHERE event_date IN (DATE '2024-03-19')" in rendered
    assert rendered.count(str(source)) == 1  # the 20th's file is parsed; the 19th is cached
    assert fresh.query(sql, WINDOW)["login"].tolist() == ["admin", "root", "ubuntu"]

    assert cache.build(store) == (2, 3)
    assert cache.status(store) == {"files": 2, "cached": 2, "not_cached": 0, "stale_batches": 0}
    rebuilt = _session(store, True)
    assert rebuilt.prepare(sql, WINDOW)[2].count("json_transform") == 0
    assert rebuilt.query(sql, WINDOW)["login"].tolist() == ["admin", "root", "ubuntu"]


def test_new_files_are_parsed_until_cached(tmp_path):
    store = tmp_path / "store"
    ingest([write_jsonl(tmp_path / "a.jsonl", [_event("a", 19, "root")])], store)
    # a file arrives without going through ingest (a sync): it is read from JSON
    table = pq.read_table(store_mod.partition_files(store, dt.date(2024, 3, 19))[0])
    (store / "2024-03-20").mkdir()
    pq.write_table(
        table.from_pylist([table.to_pylist()[0] | {"uid": "z", "event_data": json.dumps(_event("z", 20, "x"))}],
                          schema=table.schema),
        store / "2024-03-20" / "synced.parquet",
    )  # fmt: skip
    session = _session(store, True)
    assert session.query("SELECT count(*) AS n FROM session_start", WINDOW)["n"][0] == 2
    assert cache.status(store)["not_cached"] == 1


def test_a_cache_rebuilt_between_plan_and_run_is_planned_again(tmp_path):
    """Another process rebuilds the cache after a query was planned: the batch files it was
    planned over are gone, and the query is planned again rather than failing."""
    store = tmp_path / "store"
    ingest(
        [write_jsonl(tmp_path / "a.jsonl", [_event("a", 19, "root"), _event("b", 20, "x")])], store
    )
    session = _session(store, True)
    render = session.engine.render
    rebuilt = []

    def render_then_rebuild(query, window):
        sql = render(query, window)
        if not rebuilt:
            cache.clear(store)
            rebuilt.append(cache.build(store))
        return sql

    session.engine.render = render_then_rebuild
    assert session.query("SELECT login FROM session_start ORDER BY login", WINDOW)[
        "login"
    ].tolist() == ["root", "x"]
    assert rebuilt == [(2, 2)]


def test_small_batches_of_hourly_ingests_are_merged(tmp_path):
    """Each ingest leaves a batch; small ones are merged into one, which supersedes them,
    and the answers stay the same (a leftover part, as after a crash, is never read twice)."""
    store = tmp_path / "store"
    for i in range(5):
        day = 18 + i % 3
        ingest([write_jsonl(tmp_path / f"{i}.jsonl", [_event(f"h{i}", day, f"l{i}")])], store)
    root = store / cache.CACHE_DIR
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(folders) == 1  # merged after each run: one batch holding all five files
    assert cache.status(store) == {"files": 5, "cached": 5, "not_cached": 0, "stale_batches": 0}
    sql = "SELECT login FROM session_start ORDER BY login"
    expected = [f"l{i}" for i in range(5)]
    assert _session(store, True).query(sql, WINDOW)["login"].tolist() == expected

    # a part left behind beside its merged batch (killed between rename and delete)
    (merged,) = folders
    part = root / "19700101T000000000000-leftover"
    shutil.copytree(merged, part)
    session = _session(store, True)
    assert session.prepare(sql, WINDOW)[2].count("session_start.parquet") == 1
    assert session.query(sql, WINDOW)["login"].tolist() == expected
    assert cache.status(store)["stale_batches"] == 1
    cache.build(store)  # drops the superseded part
    assert not part.exists()


def test_event_data_stored_as_bytes_reads_as_text(tmp_path):
    """A file written by another tool may keep `event_data` as Parquet bytes without a UTF-8
    annotation: parsed or cached, its events read like any other."""
    store = tmp_path / "store"
    ingest([write_jsonl(tmp_path / "a.jsonl", [_event("a", 20, "root")])], store)
    event = _event("b", 20, "admin")
    pq.write_table(
        pa.table({
            "uid": ["b"], "event_type": ["session.start"],
            "event_time": pa.array([dt.datetime(2024, 3, 20, 10, tzinfo=dt.UTC)], pa.timestamp("ms", tz="UTC")),
            "event_data": pa.array([json.dumps(event).encode()], pa.binary()),
        }),
        store / "2024-03-20" / "foreign.parquet",
    )  # fmt: skip
    sql = "SELECT login FROM session_start ORDER BY login"
    for use_cache in (True, False):
        assert _session(store, use_cache).query(sql, WINDOW)["login"].tolist() == [
            "admin",
            "root",
        ]
    cache.build(store)
    assert cache.status(store)["not_cached"] == 0
    assert _session(store, True).query(sql, WINDOW)["login"].tolist() == ["admin", "root"]


def test_a_batch_is_ordered_by_day_whatever_order_its_files_come_in(tmp_path):
    """Rows are kept in `event_date` order, so a window skips the row groups of other days."""
    store = tmp_path / "store"
    for day in (20, 19, 18):
        events = [_event(f"{day}-{i}", day, f"l{i}") for i in range(20_000)]
        ingest([write_jsonl(tmp_path / f"{day}.jsonl", events)], store)
    shutil.rmtree(store / cache.CACHE_DIR)
    builder = cache.Builder(store)
    for day in reversed(store_mod.partitions(store)):
        for source in store_mod.partition_files(store, day):
            builder.add(source, pq.read_table(source))
    builder.flush()
    builder.finish()
    (batch,) = [p for p in (store / cache.CACHE_DIR).iterdir() if p.is_dir()]
    days = pq.read_table(batch / "session_start.parquet").column("event_date").to_pylist()
    assert len(days) == 60_000
    assert days == sorted(days)


def test_batches_written_slice_by_slice_give_the_json_answers(tmp_path, monkeypatch):
    """Memory is bounded by a slice, not a batch: each view's file grows by a row group per
    slice, and a batch closes at BATCH_EVENTS. The answers are still the JSON's, every view."""
    from accessmon.demo import write_demo

    store = tmp_path / "store"
    end = DAYS[-1]
    write_demo(store, events=6000, days=3, seed=5, end_date=end)
    monkeypatch.setattr(cache, "SLICE_BYTES", 256 << 10)
    monkeypatch.setattr(cache, "BATCH_EVENTS", 2500)
    monkeypatch.setattr(cache, "SMALL_BATCH", 0)  # no compaction: it rewrites whole files
    cache.build(store)
    folders = sorted(p for p in (store / cache.CACHE_DIR).iterdir() if p.is_dir())
    assert len(folders) >= 2 and not [p for p in folders if p.name.startswith(".")]
    for folder in folders[:-1]:  # the last batch holds what is left
        assert max(pq.ParquetFile(f).num_row_groups for f in folder.glob("*.parquet")) > 1
    assert cache.status(store)["not_cached"] == 0
    window = Window.between(end - dt.timedelta(days=2), end)
    cached, parsed = _session(store, True), _session(store, False)
    for view in sorted(VIEWS):
        sql = f"SELECT * FROM {view}"
        assert cached.prepare(sql, window)[2].count("json_transform") == 0
        a, b = (s.run(sql, window).table.to_pylist() for s in (cached, parsed))
        key = lambda r: json.dumps(r, sort_keys=True, default=str)  # noqa: E731
        assert sorted(map(key, a)) == sorted(map(key, b)), view


def test_a_failed_slice_leaves_no_batch_behind(tmp_path):
    """A batch is renamed into place whole or not at all: a slice that fails (here a source
    file gone before it is cached) removes the half-written folder and raises."""
    store = tmp_path / "store"
    ingest([write_jsonl(tmp_path / "a.jsonl", [_event("a", 19, "root")])], store)
    shutil.rmtree(store / cache.CACHE_DIR)
    (source,) = store_mod.partition_files(store, DAYS[1])
    table = pq.read_table(source)
    builder = cache.Builder(store)
    builder.add(source, table)
    builder.add(source.with_name("gone.parquet"), table)
    with pytest.raises(FileNotFoundError, match=r"gone\.parquet"):
        builder.finish()
    assert list((store / cache.CACHE_DIR).iterdir()) == []


def test_a_failed_build_keeps_the_stale_batch_until_its_replacement_exists(tmp_path, monkeypatch):
    """A stale batch still answers for its unchanged days: a build that fails must leave it."""
    store = tmp_path / "store"
    ingest(
        [write_jsonl(tmp_path / "a.jsonl", [_event("a", 19, "root"), _event("b", 20, "ubuntu")])],
        store,
    )
    (batch,) = [b for b, _ in cache.batches(store)]
    (source,) = store_mod.partition_files(store, dt.date(2024, 3, 20))
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 1_000_000))
    assert cache.status(store)["stale_batches"] == 1

    def fail(self, source, table):
        raise OSError("disk full")

    monkeypatch.setattr(cache.Builder, "add", fail)
    with pytest.raises(OSError, match="disk full"):
        cache.build(store)
    assert batch.folder.is_dir()
    session = _session(store, True)
    assert session.prepare("SELECT login FROM session_start", WINDOW)[2].count(str(source)) == 1
    monkeypatch.undo()
    assert cache.build(store) == (2, 2)
    assert not batch.folder.exists()
    assert cache.status(store) == {"files": 2, "cached": 2, "not_cached": 0, "stale_batches": 0}


# -- numbers and booleans of another JSON type (issue 17, point 3) ------------------------------


@pytest.fixture(scope="module")
def wrong_typed_store(tmp_path_factory):
    """One event per (column, value) of tests/trino/shapes.py's WRONG_TYPED, written as raw
    JSON lines (1e400 and 2**70 as written), ingested: the cache is built."""
    from accessmon.sql.views import get_view
    from tests.trino.shapes import WRONG_TYPED, WRONG_TYPED_COLUMNS

    lines = []
    for view, column in WRONG_TYPED_COLUMNS:
        col = get_view(view).column(column)
        for i, (value, _) in enumerate(WRONG_TYPED[col.type]):
            event = {"event": get_view(view).event_type, "uid": f"{column}-{i}",
                     "time": "2024-03-20T10:00:00.000Z"}  # fmt: skip
            _nest(event, col.path, "@VALUE@")
            lines.append(json.dumps(event).replace('"@VALUE@"', value))
    folder = tmp_path_factory.mktemp("wrong-typed")
    source = folder / "events.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = folder / "store"
    summary = ingest([source], store)
    assert summary.cached_files > 0 and cache.status(store)["not_cached"] == 0
    return store


@pytest.mark.parametrize("use_cache", [True, False], ids=["cache", "json"])
def test_numbers_and_booleans_of_another_json_type_read_as_trino_reads_them(
    wrong_typed_store, use_cache
):
    """12.5 as integer, "t", 1, 2.5 as boolean and "1.5d", " 2e3 ", "NaN" as double give
    Trino's value; "12.5" as integer, "yes", 2**63 as boolean, "inf" as double fail the query
    naming the column, as Trino's cast fails it; never a silent NULL or another value, from
    the cache as from the JSON (DuckDB's json_transform read 12.5 as 12, "yes" as true,
    "inf" as infinity, "abc" as NULL)."""
    from accessmon.sql.views import get_view
    from tests.trino.shapes import FAILS, REFUSED_LOCALLY, WRONG_TYPED, WRONG_TYPED_COLUMNS

    session = _session(wrong_typed_store, use_cache)
    window = Window.between(DAYS[-1], DAYS[-1])
    for view, column in WRONG_TYPED_COLUMNS:
        typ = get_view(view).column(column).type
        for i, (value, trinos) in enumerate(WRONG_TYPED[typ]):
            sql = f"SELECT {column} AS v FROM {view} WHERE uid = '{column}-{i}'"
            if trinos == FAILS or (typ, value) in REFUSED_LOCALLY:
                with pytest.raises(AccessmonError, match=f"to {typ} in view column {column}"):
                    session.run(sql, window)
                continue
            got = session.run(sql, window).table.column("v").to_pylist()
            assert repr(got) == repr([trinos]), f"{view}.{column} = {value}"
