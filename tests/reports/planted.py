"""A small store with planted changes between two runs a day apart (issue 18's done-when).

Two date-range windows of two days, shifted by one: day 1-2, then day 2-3.
- alice logs in as root on day 1 only: a finding of run 1, resolved in run 2;
- bob logs in as root on day 3 only: new in run 2;
- carol logs in as root on days 1 and 3: persisting in run 2, first seen on day 1, age 2.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from accessmon.reports.history import append_run
from accessmon.reports.results import ReportRun, save_results
from accessmon.reports.run import run_report
from accessmon.session import Session
from accessmon.window import Window

from ..conftest import build_store, session_for

DAY1 = dt.date(2024, 3, 1)
DAY2 = DAY1 + dt.timedelta(days=1)
DAY3 = DAY1 + dt.timedelta(days=2)
RUN1 = Window.between(DAY1, DAY2)
RUN2 = Window.between(DAY2, DAY3)
ROOT_QUERY = "session_start_root_user"


def root_login(user: str, day: dt.date, n: int, hour: int = 9) -> dict:
    return {
        "event": "session.start",
        "code": "T2000I",
        "uid": f"u-{user}-{day}-{n}",
        "time": f"{day}T{hour:02d}:{n:02d}:00.000Z",
        "user": user,
        "login": "root",
        "proto": "ssh",
        "sid": f"s-{user}-{day}-{n}",
        "server_hostname": f"node-{user}",
        "addr.remote": "10.0.0.1:5000",
    }


EVENTS = [
    root_login("alice", DAY1, 1),
    root_login("carol", DAY1, 1),
    root_login("carol", DAY3, 1),
    root_login("carol", DAY3, 2),
    root_login("bob", DAY3, 1),
]


def planted_workdir(root: Path) -> Path:
    """A working directory as `accessmon report run` expects it: data/audit, reports/."""
    build_store(root / "data", EVENTS, name="audit")
    return root


def session(root: Path, **flags) -> Session:
    return session_for(root / "data" / "audit", reports_dir=root / "reports" / "definitions",
                       **flags)  # fmt: skip


def headless_run(sess: Session, out: Path, window: Window, stamp: str,
                 name: str = "privilege_access_report") -> tuple[ReportRun, Path]:  # fmt: skip
    """What `report run` does, without the notebook: run, save the results, append history."""
    run = run_report(sess, name, window, out_dir=out)
    run.run_id = f"{name}_{window.label()}_{stamp}"
    path = save_results(run, out / f"{run.run_id}.json")
    append_run(out, run)
    return run, path
