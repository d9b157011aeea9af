"""`make bench`: accessmon's speed targets, measured against Teleport's method in the same run.

Each figure is a median of several runs; each comparison is a ratio from this run, on this
machine, the same engine (DuckDB) and the same data. The baseline is Teleport's method: every
view a WITH clause that extracts each column from `event_data` at query time
(`CAST(json_extract(event_data, '$["x"]') AS type)`, transpiled to DuckDB by sqlglot).

    python benchmarks/run.py --size 10000000     # the targets of the issue
    python benchmarks/run.py --size 1000000      # a quick run
    python benchmarks/run.py --only small-files  # just the ingest of many small files
    python benchmarks/run.py --only report-html  # just the 7-day demo report's HTML
    python benchmarks/run.py --only view-guard --size 1000000  # the integer guard's cost
    python benchmarks/run.py --only charts  # the report's charts against plotly express
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = HERE / "child.py"


def child(task: str, **args) -> dict:
    """Run one measurement in a fresh process, so its peak memory is its own. The page cache
    is flushed first, so one step's writes are not written back during the next's timing."""
    os.sync()
    out = subprocess.run(
        [sys.executable, str(CHILD), task, json.dumps(args, default=str)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"benchmark step {task} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000, help="demo events")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per figure (median)")
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=HERE / "data", help="scratch folder")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--files", type=int, default=10_000, help="small files to ingest")
    parser.add_argument("--per-file", type=int, default=10, help="events per small file")
    parser.add_argument("--loads", type=int, default=5, help="page loads per first paint")
    parser.add_argument(
        "--only",
        choices=["small-files", "report-html", "view-guard", "charts"],
        help="run this step alone",
    )
    args = parser.parse_args()
    work = args.work / f"{args.size}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows: list[tuple[str, str, str, str, bool]] = []
    if args.only:
        if args.only == "small-files":
            rows.extend(small_files_rows(work, args.files, args.per_file))
        elif args.only == "charts":
            rows.extend(charts_rows(work, args.baseline_runs))
        elif args.only == "view-guard":
            child("demo", store=work / "store", events=args.size)
            rows.extend(view_guard_rows(work / "store", args.baseline_runs))
        else:
            rows.extend(report_html_rows(work, args.loads))
        print_rows(rows)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        return

    print(f"accessmon benchmarks, {args.size:,} events, {os.cpu_count()} cores", file=sys.stderr)
    demo = child("demo", store=work / "store", events=args.size)
    rows.append((f"`accessmon demo --events {args.size:,}` (with cache)", fmt_s(demo["seconds"]),
                 "≤ 3 min", "", demo["seconds"] <= 180))  # fmt: skip
    rows.append(("peak memory, demo", f"{demo['max_rss_mb']:.0f} MiB", "≤ 2 GiB", "",
                 demo["max_rss_mb"] <= 2048))  # fmt: skip

    report = child("report", store=work / "store", runs=args.runs, baseline_runs=args.baseline_runs)
    ratio = report["baseline_median"] / report["cached_median"]
    rows.append(("Privileged Access Report, 9 queries, 90 days, warm", fmt_s(report["cached_median"]),
                 "≤ 1 s", f"{fmt_s(report['baseline_median'])} (Teleport's method)",
                 report["cached_median"] <= 1.0))  # fmt: skip
    rows.append(("  speed-up over Teleport's method", f"{ratio:.0f}×", "≥ 20×", "", ratio >= 20))
    rows.append(("  without the cache (accessmon parsing the JSON)", fmt_s(report["json_median"]),
                 "", f"{report['baseline_median'] / report['json_median']:.1f}× over Teleport's",
                 True))  # fmt: skip
    worst = max(report["single"].items(), key=lambda kv: kv[1])
    rows.append(("slowest single seed query, median (15 queries)", fmt_s(worst[1]), "≤ 300 ms",
                 worst[0], worst[1] <= 0.3))  # fmt: skip
    rows.append(("peak memory, report", f"{report['max_rss_mb']:.0f} MiB", "≤ 2 GiB", "",
                 report["max_rss_mb"] <= 2048))  # fmt: skip

    child("export", store=work / "store", jsonl=work / "events.jsonl")
    ingest = child(
        "ingest", store=work / "store", target=work / "ingested", jsonl=work / "events.jsonl"
    )
    rate = ingest["events"] / ingest["seconds"]
    rows.append(("ingest JSON lines end to end (parse, dedupe, Parquet, cache)", f"{rate:,.0f} events/s",
                 "≥ 100,000 events/s", f"{ingest['events']:,} events in {fmt_s(ingest['seconds'])}",
                 rate >= 100_000))  # fmt: skip
    rows.append(("peak memory, ingest", f"{ingest['max_rss_mb']:.0f} MiB", "≤ 2 GiB", "",
                 ingest["max_rss_mb"] <= 2048))  # fmt: skip
    rows.extend(view_guard_rows(work / "store", args.baseline_runs))
    rows.extend(charts_rows(work, args.baseline_runs))
    rows.extend(small_files_rows(work, args.files, args.per_file))
    rows.extend(report_html_rows(work, args.loads))

    print_rows(rows, args.size)
    print("\nsingle queries (median, cached):")
    for name, seconds in sorted(report["single"].items(), key=lambda kv: -kv[1]):
        print(f"  {fmt_s(seconds):>8}  {name}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def charts_rows(work: Path, runs: int) -> list[tuple[str, str, str, str, bool]]:
    """The report's nine charts as figures (JSON included), against plotly express."""
    r = child("charts", work=work / "charts", runs=runs)
    return [(f"the report's 9 charts, 7-day demo ({r['traces']} traces)", fmt_s(r["ours"]),
             "≥ 5× express", f"{fmt_s(r['express'])} with plotly express "
             f"({r['express'] / r['ours']:.0f}×)", r["express"] / r["ours"] >= 5)]  # fmt: skip


def view_guard_rows(store: Path, runs: int) -> list[tuple[str, str, str, str, bool]]:
    """What the checks cost a query over not-yet-cached files (integers, booleans and doubles
    read by Trino's rules, the guard that raises on a value its type cannot hold instead of a
    silent NULL): the same view query checked against unchecked (DuckDB's own typed
    json_transform), in the same process. The cache holds the checked values, so a cached
    query only tests one hidden column per checked column for NULL."""
    r = child("view_guard", store=store, runs=runs)
    rows = []
    for name, v in r["views"].items():
        rows.append((f"`SELECT * FROM {name}` without the cache ({v['rows']:,} rows), checked",
                     fmt_s(v["checked"]), "", f"{fmt_s(v['unchecked'])} unchecked "
                     f"({v['checked'] / v['unchecked']:.2f}×)", True))  # fmt: skip
    return rows


def small_files_rows(
    work: Path, files: int, per_file: int
) -> list[tuple[str, str, str, str, bool]]:
    """Ingest of a folder of many small files (hourly logs, one per host), against the same
    events in one file, in the same process: it must stay linear in the number of files."""
    small = child("small_files", work=work / "small-files", files=files, per_file=per_file)
    rate = small["small_events"] / small["small_seconds"]
    one = small["one_events"] / small["one_seconds"]
    return [(f"ingest {files:,} small files ({per_file} events each)", f"{rate:,.0f} events/s",
             "≥ ½ of one file's", f"{one:,.0f} events/s as one file ({rate / one:.2f}×), "
             f"{files / small['small_seconds']:,.0f} files/s", rate >= one / 2)]  # fmt: skip


def report_html_rows(work: Path, loads: int) -> list[tuple[str, str, str, str, bool]]:
    """The 7-day report after `make demo` as one HTML file: its size and first paint in
    headless Chromium, against the same run exported the old way: nbconvert's plain `lab`
    template and plotly's full bundle."""
    r = child("report_html", work=work / "report-html", loads=loads)
    mb, old_mb = r["bytes"] / 1e6, r["baseline_bytes"] / 1e6
    return [
        ("7-day demo report HTML, size", f"{mb:.2f} MB", "≤ 4 MB",
         f"{old_mb:.2f} MB the old way ({mb / old_mb:.2f}×)", mb <= 4),
        (f"  first contentful paint, median of {loads} loads", fmt_s(r["fcp"]), "≤ 2 s",
         f"{fmt_s(r['baseline_fcp'])} the old way ({r['fcp'] / r['baseline_fcp']:.2f}×)",
         r["fcp"] <= 2),
        ("  load event (every chart drawn)", fmt_s(r["load"]), "",
         f"{fmt_s(r['baseline_load'])} the old way ({r['load'] / r['baseline_load']:.2f}×)",
         True),
        ("  `accessmon report run privilege_access_report --days 7`", fmt_s(r["run_seconds"]), "",
         "queries, notebook and export", True),
    ]  # fmt: skip


def print_rows(rows: list[tuple[str, str, str, str, bool]], size: int | None = None) -> None:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    events = f", {size:,} demo events" if size else ""
    print(f"\n{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
          f"{mem:.0f} GiB, Python {platform.python_version()}{events}\n")  # fmt: skip
    print("| what | measured | target | compared with | ok |")
    print("|---|---|---|---|---|")
    for what, measured, target, other, ok in rows:
        print(f"| {what} | {measured} | {target} | {other} | {'yes' if ok else 'NO'} |")


if __name__ == "__main__":
    main()
