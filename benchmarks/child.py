"""One benchmark step in its own process; prints one JSON line with times and peak memory."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
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


def report_html(work: str, loads: int) -> dict:
    """What `make demo` leaves, then `accessmon report run privilege_access_report --days 7`:
    the HTML's size and first paint, against the same executed notebook exported the old way:
    nbconvert's plain `lab` template (JupyterLab's CSS, CDN scripts) and plotly's full bundle."""
    import nbformat
    from nbconvert import HTMLExporter
    from plotly.offline import get_plotlyjs

    from accessmon.reports.assets import plotlyjs_source

    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "accessmon.yaml").write_text(
        "store: data/audit\naudit_log: data/accessmon-audit.jsonl\noutput_dir: reports\n"
        "reports_dir: reports/definitions\n"
    )
    repo = str(Path(__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSMON_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo, env.get("PYTHONPATH")) if p)
    cli = [sys.executable, "-m", "accessmon"]
    subprocess.run([*cli, "demo"], cwd=work, env=env, check=True, capture_output=True)
    started = time.perf_counter()
    out = subprocess.run([*cli, "report", "run", "privilege_access_report", "--days", "7",
                          "--format", "both"], cwd=work, env=env, capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    page = work / out.stdout.splitlines()[0]
    nb = nbformat.read(page.with_suffix(".ipynb"), as_version=4)
    basic, full = plotlyjs_source(), get_plotlyjs()
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/html", "")
            if basic in text:
                output["data"]["text/html"] = text.replace(basic, full)
    old = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                       exclude_output_prompt=True, exclude_markdown=True)  # fmt: skip
    baseline = work / "baseline-lab.html"
    baseline.write_text(old.from_notebook_node(nb)[0], encoding="utf-8")
    return {
        "run_seconds": seconds,
        "bytes": page.stat().st_size,
        "baseline_bytes": baseline.stat().st_size,
        **{f"{k}": v for k, v in first_paint(page, loads).items()},
        **{f"baseline_{k}": v for k, v in first_paint(baseline, loads).items()},
    }


def first_paint(page: Path, loads: int) -> dict:
    """Median first-contentful-paint and load-event times of `loads` fresh loads from disk in
    headless Chromium, every request off the disk refused (a mailed file has no network)."""
    from playwright.sync_api import sync_playwright

    local = ("file:", "data:", "blob:")
    fcp, load = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for i in range(loads + 1):  # the first load warms the disk cache: not counted
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(local)
                          else r.abort())  # fmt: skip
            tab = context.new_page()
            tab.goto(page.as_uri(), wait_until="load", timeout=120_000)
            times = tab.evaluate(
                "() => [performance.getEntriesByName('first-contentful-paint')[0]?.startTime,"
                " performance.getEntriesByType('navigation')[0].loadEventEnd]"
            )
            context.close()
            if i:
                fcp.append(times[0] / 1000)
                load.append(times[1] / 1000)
        browser.close()
    return {"fcp": statistics.median(fcp), "load": statistics.median(load)}


#: Views whose every column is checked most: session_command holds seven integer columns,
#: user_login three and a boolean.
GUARD_VIEWS = ("session_command", "user_login")


def view_guard(store: str, runs: int) -> dict:
    """`SELECT *` of GUARD_VIEWS without the cache (each column parsed from event_data, as
    queries over not-yet-cached files are), checked (render.duckdb_column: the guard that
    raises on a value the type cannot hold, booleans by Trino's rules) and, the baseline in
    this process, unchecked (DuckDB's own typed json_transform, as before issue 17)."""
    from accessmon.engines.duckdb import events_relation
    from accessmon.sql.render import duckdb_view
    from accessmon.sql.views import get_view

    store = Path(store)
    source = events_relation(store_mod.files_between(store, None, None))
    window = Window.last_days(90, store_mod.partitions(store)[-1])
    con = duckdb.connect(config={"threads": 2, "memory_limit": "1500MB"})
    con.execute("SET TimeZone = 'UTC'")
    out: dict = {"views": {}}
    for name in GUARD_VIEWS:
        view = get_view(name)
        timings = {}
        for checked in (True, False):
            sql = f"SELECT * FROM ({duckdb_view(view, source, window, checked=checked)})"
            timings[checked] = timed(lambda sql=sql: con.sql(sql).to_arrow_table(), runs)
        count = con.sql(f"SELECT count(*) FROM ({duckdb_view(view, source, window)})")
        out["views"][name] = {"checked": timings[True], "unchecked": timings[False],
                              "rows": count.fetchall()[0][0]}  # fmt: skip
    return out


def charts(work: str, runs: int) -> dict:
    """The Privileged Access Report's nine charts over a 7-day demo store, drawn by
    reports.charts and, the baseline in this process, by plotly express (as before)."""
    import plotly.express as px

    from accessmon.reports.charts import figure
    from accessmon.reports.definitions import load_definitions

    work = Path(work)
    write_demo(work / "store", events=20_000, days=7, seed=1)
    s = session(work / "store", True, work)
    definitions, _ = load_definitions(work / "no-custom-reports")
    frames = []
    for q in definitions["privilege_access_report"].queries:
        c = q.chart
        frames.append((s.query(q.query, Window.last_days(7)), c))

    def ours() -> None:
        for frame, c in frames:
            figure(frame, c.kind, c.x, c.y, c.keys).to_json()

    def express() -> None:
        for frame, c in frames:
            px.bar(frame, x=c.x, y=c.y, color=c.keys).update_layout(barmode="stack").to_json()

    traces = sum(len(figure(f, c.kind, c.x, c.y, c.keys).data) for f, c in frames)
    return {"ours": timed(ours, runs), "express": timed(express, runs), "traces": traces}


if __name__ == "__main__":
    task, args = sys.argv[1], json.loads(sys.argv[2])
    steps = {"demo": demo, "report": report, "export": export, "ingest": ingest_step,
             "small_files": small_files, "report_html": report_html,
             "view_guard": view_guard, "charts": charts}  # fmt: skip
    result = steps[task](**args)
    result.setdefault("max_rss_mb", max_rss_mb())
    print(json.dumps(result, default=str))
