"""`engine: trino` (issue 17, point 4): accessmon on a Trino of one's own, here the local Trino
of tests/trino, through Session, the CLI and the report notebook."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import papermill
import pytest
import yaml

from accessmon.config import load_config
from accessmon.errors import ConfigError, EngineError
from accessmon.reports.notebook import notebook_path
from accessmon.session import Session
from accessmon.ui.frames import athena_text
from accessmon.window import Window
from tests.conftest import REPO
from tests.trino import server
from tests.trino.compare import keyed, same_value
from tests.trino.conftest import END

WINDOW = Window.between(END - dt.timedelta(days=4), END)
DATES = ["--from", WINDOW.start.isoformat(), "--to", WINDOW.end.isoformat()]
#: Trino's query ids: 20240320_101112_00003_abcde
QUERY_ID = re.compile(r"\d{8}_\d{6}_\d{5}_\w{5}")
#: A query that runs for minutes: every pair of sessions, four times over.
SLOW = (
    "SELECT count_if(a.uid || b.uid || c.uid || d.uid LIKE '%x%') AS n "
    "FROM session_start a, session_start b, session_start c, session_start d"
)
SECRET = "not-a-real-password-42"


def write_config(folder: Path, store: Path, trino: server.Trino, **section) -> Path:
    """An accessmon.yaml with `engine: trino` on the test Trino; `section` adds to trino:."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "store": str(store),
        "engine": "trino",
        "trino": {"host": "127.0.0.1", "port": trino.port, "catalog": server.CATALOG,
                  "schema": server.DATABASE, "table": server.TABLE, **section},
    }  # fmt: skip
    path = folder / "accessmon.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def project(trino, trino_store, tmp_path_factory) -> Path:
    """A project folder whose accessmon.yaml points at the test Trino."""
    return write_config(tmp_path_factory.mktemp("trino-project"), trino_store, trino).parent


@pytest.fixture(scope="module")
def trino_session(project) -> Session:
    with Session(load_config(project / "accessmon.yaml", environ={})) as session:
        yield session


def cli(args: list[str], cwd: Path, env: dict | None = None, **kwargs):
    """`accessmon ...` as a user runs it, on this checkout, without the machine's ACCESSMON_*."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSMON_")}
    clean["PYTHONPATH"] = os.pathsep.join([str(REPO), clean.get("PYTHONPATH", "")]).rstrip(":")
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "accessmon", *args], cwd=cwd, env=clean,
                          capture_output=True, text=True, **kwargs)  # fmt: skip


def server_state(trino_query, query_id: str) -> tuple[str, str | None]:
    _, rows = trino_query(
        f"SELECT state, error_code FROM system.runtime.queries WHERE query_id = '{query_id}'"
    )
    return tuple(rows[0]) if rows else ("missing", None)


# -- the same views, the same answers --------------------------------------------------------


@pytest.mark.parametrize("view", ["session_start", "cert_create", "kube_request"])
def test_a_view_through_session_gives_duckdbs_rows(view, trino_session, duckdb_session):
    sql = f"SELECT * FROM {view}"
    mine = trino_session.run(sql, WINDOW)
    local = duckdb_session.run(sql, WINDOW)
    assert mine.stats.engine == "trino"
    assert mine.columns == local.columns
    got = keyed(mine.columns, [tuple(r.values()) for r in mine.table.to_pylist()])
    expected = keyed(local.columns, [tuple(r.values()) for r in local.table.to_pylist()])
    assert len(got) == len(expected) > 0
    for a, b in zip(expected, got, strict=True):
        diff = {c: (x, y) for c, x, y in zip(mine.columns, a, b, strict=True)
                if not same_value(x, y)}  # fmt: skip
        assert not diff, f"{view}: DuckDB vs engine trino differ in {diff}"


def test_it_runs_the_sql_rendered_for_athena(trino_session, athena_session):
    sql = "SELECT user, count(*) AS n FROM session_start GROUP BY user"
    _, _, athena = athena_session.prepare(sql, WINDOW)
    _, _, mine = trino_session.prepare(sql, WINDOW)
    table = f'"{server.DATABASE}"."{server.TABLE}"'
    assert mine == athena.replace(table, f'"{server.CATALOG}".{table}')


def test_a_query_is_audited_with_trinos_query_id(trino_session):
    result = trino_session.run("SELECT count(*) AS n FROM session_start", WINDOW)
    last = Path(trino_session.config.audit_log).read_text().splitlines()[-1]
    event = json.loads(last)
    assert event["engine"] == "trino" and event["success"] is True
    assert event["query_execution_id"] == result.stats.query_execution_id


# -- the CLI and the report notebook ----------------------------------------------------------


def test_stats_show_trinos_query_id_bytes_and_time(project, trino_query):
    """In Trino's words: its query id, its bytes and rows, its elapsed time; none of Athena's
    names (query_execution_id, data_scanned_in_bytes) and no cost, which Trino does not bill.
    The audit trail keeps its columns: the same id under query_execution_id."""
    out = cli(["query", "exec", "--stats", *DATES, "SELECT count(*) AS n FROM session_start"],
              project)  # fmt: skip
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stderr.strip().splitlines()[-1])
    assert stats["engine"] == "trino" and stats["rows"] == 1 and stats["state"] == "FINISHED"
    assert QUERY_ID.fullmatch(stats["query_id"])
    assert stats["info_uri"].endswith(stats["query_id"])  # its page in Trino's web UI
    assert stats["physical_input_bytes"] > 0 and stats["processed_bytes"] > 0
    assert stats["processed_rows"] > 0
    assert stats["elapsed_time_millis"] > 0 and stats["cpu_time_millis"] >= 0
    assert stats["accessmon_elapsed_millis"] >= stats["elapsed_time_millis"]
    athenas = {"query_execution_id", "data_scanned_in_bytes", "total_execution_time_in_millis",
               "engine_execution_time_in_millis", "estimated_cost_usd"}  # fmt: skip
    assert not athenas & set(stats)
    assert server_state(trino_query, stats["query_id"]) == ("FINISHED", None)
    audited = json.loads((project / "data" / "accessmon-audit.jsonl").read_text().splitlines()[-1])
    assert audited["query_execution_id"] == stats["query_id"]
    assert audited["data_scanned_in_bytes"] == stats["physical_input_bytes"]


def test_a_time_in_a_zone_prints_its_zones_name_as_on_duckdb(project, duckdb_session):
    """`at_timezone` keeps the zone's name on engine trino too, as the local engine and
    Trino's own CLI print it."""
    sql = (
        "SELECT uid, at_timezone(event_time, 'Europe/Berlin') AS berlin, "
        "at_timezone(event_time, 'UTC') AS utc FROM session_start ORDER BY uid LIMIT 3"
    )
    out = cli(["query", "exec", *DATES, "--format", "csv", sql], project)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows and all(r["berlin"].endswith(" Europe/Berlin") for r in rows), rows
    assert all(r["utc"].endswith(" UTC") for r in rows), rows
    local = duckdb_session.run(sql, WINDOW)
    assert [r["berlin"] for r in rows] == [
        athena_text(v, local.table.schema.field("berlin").type)
        for v in local.table.column("berlin").to_pylist()
    ]


def test_privileged_access_report_runs_from_the_cli_and_its_notebook(project):
    """`accessmon --engine trino report run`: the queries on Trino, then the report notebook
    through papermill; the run and its state are SUCCESS."""
    out = cli(["--engine", "trino", "report", "run", "privilege_access_report", *DATES,
               "--format", "both"], project)  # fmt: skip
    assert out.returncode == 0, out.stderr
    html = project / out.stdout.splitlines()[0]
    assert "[9/9]" in out.stderr and "error:" not in out.stderr
    results = json.loads(html.with_suffix(".json").read_text())
    assert results["state"] == "SUCCESS" and results["engine"] == "trino"
    assert all(not q["error"] for q in results["queries"])
    assert all(QUERY_ID.fullmatch(q["stats"]["query_execution_id"]) for q in results["queries"])
    assert sum(q["findings"] for q in results["queries"]) > 0
    executed = json.loads(html.with_suffix(".ipynb").read_text())
    assert executed["metadata"]["papermill"]["parameters"]["engine"] == "trino"
    assert html.read_text().count('class="plotly-graph-div"') == 9
    state = cli(["report", "state", "privilege_access_report"], project)
    assert "SUCCESS" in state.stdout, state.stdout + state.stderr


def test_the_report_notebook_runs_its_queries_on_trino(project, tmp_path):
    """The notebook alone, as an analyst runs it with engine trino (no results file)."""
    out = tmp_path / "report.ipynb"
    papermill.execute_notebook(
        str(notebook_path()), str(out), cwd=str(project), progress_bar=False,
        parameters={"engine": "trino", "config": str(project / "accessmon.yaml"),
                    "date_from": WINDOW.start.isoformat(), "date_to": WINDOW.end.isoformat()},
    )  # fmt: skip
    text = out.read_text()
    assert "Privileged Access" in text and "Traceback" not in text


def test_the_magic_and_the_query_editor_run_on_trino(project, duckdb_session):
    from IPython.core.interactiveshell import InteractiveShell

    from accessmon.ui.editor import Editor

    sql = "SELECT user, count(*) AS n FROM session_start GROUP BY user ORDER BY user"
    expected = duckdb_session.run(sql, WINDOW).to_pandas().to_dict("records")
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "accessmon")
    config = project / "accessmon.yaml"
    df = shell.run_cell_magic("accessmon", f"--config {config} --engine trino {' '.join(DATES)}",
                              sql)  # fmt: skip
    assert df.to_dict("records") == expected
    with Session(load_config(config, environ={})) as session:
        editor = Editor(session)
        editor.set_sql(sql)
        editor.set_window(start=WINDOW.start, end=WINDOW.end)
        assert editor.run() is not None, editor.error
        assert editor.frame.to_dict("records") == expected
        assert editor.result.stats.engine == "trino"
        assert f"read, query {editor.result.stats.query_execution_id}" in editor.status


def test_under_a_system_configuration_trino_user_is_not_the_analysts_to_choose(
    trino, trino_store, tmp_path, trino_query
):
    """An analyst's `trino.user: admin` would run as another principal: under a system
    configuration its trino connection holds, and Trino sees the analyst's own OS name."""
    import pwd

    system = write_config(tmp_path / "etc", trino_store, trino)
    doc = yaml.safe_load(system.read_text())
    doc["audit_log"] = str(tmp_path / "audit.jsonl")
    system.write_text(yaml.safe_dump(doc), encoding="utf-8")
    system.chmod(0o644)
    mine = write_config(tmp_path / "analyst", trino_store, trino, user="admin", catalog="system")
    out = cli(["query", "exec", "--stats", *DATES, "SELECT count(*) AS n FROM session_start"],
              mine.parent, env={"ACCESSMON_SYSTEM_CONFIG": str(system)})  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"trino.user from your settings is ignored: {system} sets it" in out.stderr
    assert f"trino.catalog from your settings is ignored: {system} sets it" in out.stderr
    query_id = json.loads(out.stderr.strip().splitlines()[-1])["query_id"]
    _, rows = trino_query(f"SELECT user FROM system.runtime.queries WHERE query_id = '{query_id}'")
    assert rows == [(pwd.getpwuid(os.geteuid()).pw_name,)]


# -- doctor ----------------------------------------------------------------------------------


def test_doctor_checks_server_catalog_schema_table_and_columns(project):
    out = cli(["doctor"], project)
    assert out.returncode == 0, out.stdout + out.stderr
    for check in ("configuration", "server", "catalog", "schema", "table", "columns"):
        assert re.search(rf"^\s*ok  {check}\b", out.stdout, re.M), out.stdout
    assert f"Trino {server.VERSION}" in out.stdout


def test_doctor_names_a_missing_table(trino, trino_store, tmp_path):
    folder = write_config(tmp_path, trino_store, trino, table="no_such_table").parent
    out = cli(["doctor"], folder)
    assert out.returncode == 1
    assert re.search(r"FAIL  table\s+hive\.audit_db\.no_such_table does not exist", out.stdout)


def test_doctor_says_when_the_server_does_not_answer(trino, trino_store, tmp_path):
    folder = write_config(tmp_path, trino_store, trino, port=server.free_port()).parent
    out = cli(["doctor"], folder)
    assert out.returncode == 1 and "FAIL  server" in out.stdout


# -- cancel ----------------------------------------------------------------------------------


def test_a_timeout_cancels_the_query_on_the_server(trino, trino_store, tmp_path, trino_query):
    config = write_config(tmp_path, trino_store, trino, timeout_seconds=2)
    with Session(load_config(config, environ={})) as session:
        started = time.monotonic()
        with pytest.raises(EngineError, match=r"cancelled after 2 s \(trino.timeout_seconds") as e:
            session.run(SLOW, WINDOW)
        assert time.monotonic() - started < 30
    query_id = QUERY_ID.search(str(e.value)).group(0)
    deadline = time.monotonic() + 20
    while server_state(trino_query, query_id)[0] not in ("FAILED", "FINISHED"):
        assert time.monotonic() < deadline, server_state(trino_query, query_id)
        time.sleep(0.2)
    assert server_state(trino_query, query_id) == ("FAILED", "USER_CANCELED")


def test_ctrl_c_cancels_the_query_on_the_server(project, trino_query):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSMON_")}
    env["PYTHONPATH"] = str(REPO)
    marker = f"ctrl-c {time.time_ns()}"
    sql = SLOW.replace(" AS n ", f" AS n, '{marker}' AS marker ")
    proc = subprocess.Popen([sys.executable, "-m", "accessmon", "query", "exec", *DATES,
                             sql], cwd=project, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        query_id, deadline = None, time.monotonic() + 60
        while query_id is None:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            _, rows = trino_query(
                "SELECT query_id FROM system.runtime.queries WHERE state = 'RUNNING' "
                f"AND source = 'accessmon' AND strpos(query, '{marker}') > 0"
            )
            query_id = rows[0][0] if rows else None
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 20
    while server_state(trino_query, query_id)[0] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert server_state(trino_query, query_id) == ("FAILED", "USER_CANCELED")


# -- authentication --------------------------------------------------------------------------


def test_password_over_http_is_refused_by_the_config_with_its_line(trino, trino_store, tmp_path):
    config = write_config(tmp_path, trino_store, trino,
                          auth={"type": "password", "user": "alice", "password": SECRET})  # fmt: skip
    with pytest.raises(ConfigError) as e:
        load_config(config, environ={})
    message = str(e.value)
    assert message.startswith(f"{config}:")
    assert re.search(r":\d+: trino\.auth: type password needs http_scheme: https", message)
    assert SECRET not in message


def test_a_trino_without_authentication_rejects_a_password(trino, trino_store, tmp_path):
    """allow_insecure_auth sends the password over http; this Trino has no password
    authenticator and refuses it. The password comes from ACCESSMON_TRINO_PASSWORD and shows
    nowhere."""
    config = write_config(tmp_path, trino_store, trino, allow_insecure_auth=True,
                          auth={"type": "password", "user": "alice"})  # fmt: skip
    os.environ["ACCESSMON_TRINO_PASSWORD"] = SECRET
    try:
        with Session(load_config(config, environ={})) as session:
            with pytest.raises(EngineError) as e:
                session.run("SELECT count(*) AS n FROM session_start", WINDOW)
            doctor = session.diagnose()
    finally:
        del os.environ["ACCESSMON_TRINO_PASSWORD"]
    assert "insecure" in str(e.value).lower() or "password" in str(e.value).lower(), e.value
    assert SECRET not in str(e.value) and SECRET not in repr(doctor)
    assert ("configuration", True) in [(n, ok) for n, ok, _ in doctor]
    assert "auth=password" in doctor[2][2]
