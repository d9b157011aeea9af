"""One benchmark step in its own process; prints one JSON line with times and peak memory."""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path

import duckdb
import yaml

from accessmon.config import load_config
from accessmon.demo import write_demo
from accessmon.session import Session
from accessmon.storage import cache
from accessmon.storage import store as store_mod
from accessmon.storage.ingest import ingest
from accessmon.testing import athena_sql_for_duckdb, teleport_table
from accessmon.window import Window

DATA = Path(__file__).resolve().parent.parent / "accessmon" / "data"
REPORT = yaml.safe_load((DATA / "reports" / "privilege_access_report.yaml").read_text())["queries"]
EXAMPLES = yaml.safe_load((DATA / "examples.yaml").read_text())


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def session(store: Path, use_cache: bool, tmp: Path) -> Session:
    flags = {"store": store, "audit_log": tmp / "audit.jsonl", "user": "bench",
             "duckdb": {"cache": use_cache, "memory_limit": "1500MB"}}  # fmt: skip
    return Session(load_config(flags=flags, environ={}))


def timed(fn, runs: int) -> float:
    fn()  # warm
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def demo(store: str, events: int) -> dict:
    started = time.perf_counter()
    write_demo(Path(store), events=events, days=90, seed=1)
    cache.build(Path(store))
    return {"seconds": time.perf_counter() - started}


def report(store: str, runs: int, baseline_runs: int) -> dict:
    store = Path(store)
    tmp = store.parent
    cached, parsed = session(store, True, tmp), session(store, False, tmp)
    window = Window.last_days(90, store_mod.partitions(store)[-1])

    def run_all(s: Session):
        return lambda: [s._execute(q["query"], window) for q in REPORT]

    out = {"cached_median": timed(run_all(cached), runs)}
    out["json_median"] = timed(run_all(parsed), baseline_runs)
    athena = Session(load_config(flags={"engine": "athena", "user": "bench", "audit_log": tmp / "a.jsonl",
                                        "athena": {"database": "audit_db", "table": "audit_table"}},
                                 environ={}))  # fmt: skip
    con = teleport_table(store)
    baseline_sql = [athena_sql_for_duckdb(athena.prepare(q["query"], window)[2])
                    for q in REPORT]  # fmt: skip
    out["baseline_median"] = timed(lambda: [con.sql(sql).to_arrow_table() for sql in baseline_sql],
                                   baseline_runs)  # fmt: skip
    out["single"] = {
        q["name"]: timed(lambda q=q: cached._execute(q["query"], window), runs)
        for q in REPORT + EXAMPLES
    }
    out["max_rss_mb"] = max_rss_mb()
    return out


def export(store: str, jsonl: str) -> dict:
    """The demo's events as Teleport's JSON lines (its own process: not part of ingest's memory)."""
    con = duckdb.connect()
    files = ", ".join(f"'{f}'" for f in store_mod.files_between(Path(store), None, None))
    con.execute(
        f"COPY (SELECT event_data FROM read_parquet([{files}])) TO '{jsonl}' "
        "(FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\\x01')"
    )
    con.close()
    return {"bytes": Path(jsonl).stat().st_size}


def ingest_step(store: str, target: str, jsonl: str) -> dict:
    """The JSON lines ingested into a fresh store, cache included."""
    started = time.perf_counter()
    summary = ingest([jsonl], target)
    seconds = time.perf_counter() - started
    Path(jsonl).unlink()
    return {"seconds": seconds, "events": summary.read, "cached": summary.cached_files}


def small_files(work: str, files: int, per_file: int) -> dict:
    """`files` small JSON lines files ingested from one folder, and the same events as one
    file into another store: both timed in this process, so the ratio is from one run."""
    from accessmon.demo import generate

    work = Path(work)
    table = generate(events=files * per_file, days=30, seed=3)
    lines = [t + "\n" for t in table.column("event_data").to_pylist()]
    folder = work / "small"
    for i in range(files):
        part = folder / f"{i // 1000:02d}" / f"{i:05d}.log"
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_text("".join(lines[i * per_file : (i + 1) * per_file]))
    one = work / "one.jsonl"
    one.write_text("".join(lines))
    out = {}
    for name, source in (("one", one), ("small", folder)):
        started = time.perf_counter()
        summary = ingest([source], work / f"store-{name}")
        out[f"{name}_seconds"] = time.perf_counter() - started
        out[f"{name}_events"] = summary.added
    out["files"] = files
    return out


if __name__ == "__main__":
    task, args = sys.argv[1], json.loads(sys.argv[2])
    steps = {"demo": demo, "report": report, "export": export, "ingest": ingest_step,
             "small_files": small_files}  # fmt: skip
    result = steps[task](**args)
    result.setdefault("max_rss_mb", max_rss_mb())
    print(json.dumps(result, default=str))
