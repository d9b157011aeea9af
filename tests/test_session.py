"""Session: the one path every entry point takes (identity, roles, audit, window, engine).

Real stores on disk and the real DuckDB engine; the Athena budget is checked from the audit
trail alone, so it runs here without Athena.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import accessmon
from accessmon.errors import AccessmonError, BudgetExceeded, PermissionDenied, QueryError
from accessmon.session import Session, query, resolve_identity, resolve_user
from accessmon.sql.validate import CheckedQuery
from accessmon.storage import audit
from accessmon.window import Window

from .conftest import EVENT, ROLES_FIXTURE, build_store, session_for

DAY = Window.between("2024-03-20", "2024-03-20")
EXEC = {
    "event": "exec",
    "code": "T3002I",
    "uid": "e-1",
    "time": "2024-03-20T10:00:00.000Z",
    "user": "bob",
    "login": "admin",
    "command": "id",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("session"), [EVENT, EXEC])


@pytest.fixture
def session(store, tmp_path):
    with session_for(store, audit_log=tmp_path / "audit.jsonl", user="alice") as s:
        yield s


def lines(session: Session) -> list[dict]:
    return audit.read(Path(session.config.audit_log))


# -- checked: one decision, one audit line ------------------------------------------------------


def test_checked_records_an_allowed_decision_with_the_fields_the_body_adds(session):
    with session.checked(audit.QUERY_LIST, "list", "audit_query", name="q") as extra:
        extra["count"] = 3
    (line,) = lines(session)
    assert line["event"] == "accessmon.audit_query.list" and line["code"] == "AMQ004I"
    assert (line["user"], line["success"], line["verb"], line["resource"]) == (
        "alice", True, "list", "audit_query"
    )  # fmt: skip
    assert (line["name"], line["count"]) == ("q", 3)


def test_checked_records_a_failed_body_with_its_error_and_reraises(session):
    checked = session.checked(audit.QUERY_GET, "read", "audit_query", name="q")
    with pytest.raises(ValueError, match="boom"), checked as extra:
        extra["partial"] = True
        raise ValueError("boom")
    with pytest.raises(KeyError), session.checked(audit.QUERY_GET, "read", "audit_query"):
        raise KeyError()
    first, second = lines(session)
    assert (first["success"], first["code"], first["error"], first["partial"]) == (
        False, "AMQ005W", "boom", True
    )  # fmt: skip
    assert second["error"] == "KeyError"  # an exception without a message is named by its type


def test_a_denied_decision_never_runs_the_body(store, tmp_path):
    bob = session_for(
        store, user="bob", rbac={"resources": [ROLES_FIXTURE]}, audit_log=tmp_path / "a"
    )
    ran = []
    with pytest.raises(PermissionDenied), bob.checked(audit.SCHEMA, "list", "audit_query"):
        ran.append(True)
    assert ran == []
    (line,) = lines(bob)
    assert (line["event"], line["success"], line["user"]) == ("accessmon.schema.list", False, "bob")
    with pytest.raises(PermissionDenied):
        bob.authorize("use", "audit_query")
    assert len(lines(bob)) == 1  # authorize alone writes nothing


def test_views_lists_every_view_and_is_audited(session):
    views = session.views()
    assert {"exec", "session_start", "cert_create"} <= set(views)
    assert [r["event"] for r in lines(session)] == ["accessmon.schema.list"]


def test_saved_queries_through_the_session_are_audited_with_their_count(store, tmp_path):
    session = session_for(store, user="alice", audit_log=tmp_path / "a", queries_dir=tmp_path / "q")
    assert session.saved_queries() == []
    session.save_query("logins", "SELECT user FROM session_start", title="Logins")
    assert session.saved_query("logins").title == "Logins"
    assert [q.name for q in session.saved_queries()] == ["logins"]
    session.delete_query("logins")
    got = [(r["event"], r.get("count"), r.get("name")) for r in lines(session)]
    assert got == [
        ("accessmon.audit_query.list", 0, None),
        ("accessmon.audit_query.create", None, "logins"),
        ("accessmon.audit_query.get", None, "logins"),
        ("accessmon.audit_query.list", 1, None),
        ("accessmon.audit_query.delete", None, "logins"),
    ]


# -- run and the private _execute ----------------------------------------------------------------


def test_run_returns_rows_and_writes_one_line_with_window_and_stats(session):
    result = session.run("SELECT user, login FROM session_start", DAY)
    assert result.table.to_pylist() == [{"user": "alice", "login": "root"}]
    (line,) = lines(session)
    assert line["event"] == "secreports.audit.query.run" and line["code"] == "SRE001I"
    assert line["query"] == "SELECT user, login FROM session_start"
    assert (line["engine"], line["from"], line["to"]) == ("duckdb", "2024-03-20", "2024-03-20")
    assert line["data_scanned_in_bytes"] == 0 and "total_execution_time_in_millis" in line
    assert "days" not in line


def test_query_without_a_window_is_the_last_seven_days(session):
    session.query("SELECT count(*) AS n FROM exec")
    (line,) = lines(session)
    assert line["days"] == 7 and "from" not in line


def test_a_refused_query_is_audited_as_failed_with_the_reason(session):
    with pytest.raises(QueryError, match="unknown view sesion_start"):
        session.run("SELECT * FROM sesion_start", DAY)
    (line,) = lines(session)
    assert (line["success"], line["code"]) == (False, "SRE001W")
    assert "did you mean session_start" in line["error"]
    assert line["query"] == "SELECT * FROM sesion_start"


def test_an_impossible_window_is_audited_as_failed(session):
    with pytest.raises(AccessmonError, match="not both"):
        session.query("SELECT 1 AS x", days=3, start="2024-03-20", end="2024-03-21")
    (line,) = lines(session)
    assert line["success"] is False and "not both" in line["error"]
    assert (line["event"], line["query"]) == ("secreports.audit.query.run", "SELECT 1 AS x")


def test_query_window_resolves_once_and_audits_an_impossible_one_as_its_prepare(session):
    """What `query exec --show-sql` calls: the window is resolved where the flags enter."""
    assert session.query_window("SELECT 1 AS x", 3).days == 3
    assert session.query_window("SELECT 1 AS x", None, "2024-03-20", "2024-03-20") == DAY
    assert lines(session) == []
    with pytest.raises(AccessmonError, match="--from and --to go together"):
        session.query_window("SELECT 1 AS x", start="2024-03-20", prepare=True)
    (line,) = lines(session)
    assert (line["event"], line["success"]) == ("accessmon.audit_query.prepare", False)


def test_query_takes_a_window_or_its_parts_not_both(session):
    frame = session.query("SELECT user, command FROM exec", start="2024-03-20", end="2024-03-20")
    assert frame["command"].tolist() == ["id"]
    with pytest.raises(AccessmonError, match="either a window or days"):
        session.query("SELECT 1 AS x", DAY, days=3)
    with pytest.raises(TypeError, match="pass days=N"):
        session.query("SELECT 1 AS x", 30)


def test_a_denied_run_is_audited_and_never_reaches_the_engine(store, tmp_path):
    bob = session_for(
        store, user="bob", rbac={"resources": [ROLES_FIXTURE]}, audit_log=tmp_path / "a"
    )
    with pytest.raises(PermissionDenied):
        bob.run("SELECT user FROM exec", DAY)
    (line,) = lines(bob)
    assert (line["user"], line["success"], line["query"]) == ("bob", False, "SELECT user FROM exec")


def test_execute_checks_the_sql_but_neither_the_role_nor_the_audit(store, tmp_path):
    """_execute serves reports and rules, which check and audit the whole run themselves."""
    bob = session_for(
        store, user="bob", rbac={"resources": [ROLES_FIXTURE]}, audit_log=tmp_path / "a"
    )
    with bob:
        result = bob._execute(
            "SELECT user, command FROM exec", Window.between("2024-03-20", "2024-03-20")
        )
        assert result.table.to_pylist() == [{"user": "bob", "command": "id"}]
        with pytest.raises(QueryError, match="only SELECT"):
            bob._execute("DESCRIBE exec", Window.between("2024-03-20", "2024-03-20"))
    assert lines(bob) == []


def test_query_returns_a_dataframe(session):
    frame = session.query("SELECT user, command FROM exec", DAY)
    assert list(frame.columns) == ["user", "command"]
    assert frame.to_dict("records") == [{"user": "bob", "command": "id"}]


# -- prepare: what --show-sql prints -------------------------------------------------------------


def test_prepare_validates_and_renders_without_running(store, tmp_path):
    with session_for(store, duckdb={"cache": False}, audit_log=tmp_path / "a") as s:
        checked, window, sql = s.prepare("SELECT user FROM session_start", DAY)
        assert isinstance(checked, CheckedQuery) and checked.views == ("session_start",)
        assert window == Window.between("2024-03-20", "2024-03-20")
        assert "event_type = 'session.start'" in sql
        assert "BETWEEN DATE '2024-03-20' AND DATE '2024-03-20'" in sql
        assert "'exec'" not in sql  # only the views the query reads are rendered
        assert sql.rstrip().endswith('SELECT "user" FROM session_start')
        got = [(r["event"], r["success"], r["from"]) for r in lines(s)]
    assert got == [("accessmon.audit_query.prepare", True, "2024-03-20")]


def test_prepare_of_a_refused_query_is_audited_as_failed(session):
    with pytest.raises(QueryError, match="exactly one statement"):
        session.prepare("SELECT 1 AS a; SELECT 2 AS b", Window.last_days(1))
    (line,) = lines(session)
    assert (line["event"], line["success"], line["days"]) == (
        "accessmon.audit_query.prepare", False, 1
    )  # fmt: skip


# -- the daily Athena budget, from the audit trail alone ---------------------------------------


def _spent(session: Session, user: str, scanned: int, engine: str = "athena") -> None:
    """A run of `user` earlier today, as the audit trail records it."""
    record = audit.event(audit.QUERY_RUN, user=user, success=True, engine=engine,
                         data_scanned_in_bytes=scanned)  # fmt: skip
    audit.append(Path(session.config.audit_log), record)


def athena_session(store, tmp_path, limit: int | None) -> Session:
    return session_for(
        store, engine="athena", user="alice", audit_log=tmp_path / "audit.jsonl",
        athena={"data_limit": limit, "database": "db", "table": "t", "region": "eu-west-1"},
    )  # fmt: skip


def test_the_budget_refuses_once_todays_bytes_reach_the_limit(store, tmp_path):
    s = athena_session(store, tmp_path, limit=100)
    _spent(s, "alice", 60)
    s.check_budget()  # 60 < 100
    _spent(s, "alice", 40)
    with pytest.raises(BudgetExceeded) as info:
        s.check_budget()
    message = str(info.value)
    assert "alice has used the daily Athena budget" in message
    assert "athena.data_limit = 100 bytes; 100 scanned today" in message
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    refills = {
        f"refills at {day:%Y-%m-%d} 00:00 UTC" for day in (tomorrow, tomorrow - dt.timedelta(1))
    }
    assert any(r in message for r in refills)  # either side of midnight


def test_a_run_over_budget_is_refused_before_any_engine_and_audited(store, tmp_path):
    s = athena_session(store, tmp_path, limit=10)
    _spent(s, "alice", 10)
    with pytest.raises(BudgetExceeded):
        s.run("SELECT user FROM exec", DAY)
    assert s._engine is None  # no Athena client was ever made
    last = lines(s)[-1]
    assert (last["event"], last["success"], last["engine"]) == (
        "secreports.audit.query.run", False, "athena"
    )  # fmt: skip
    assert "daily Athena budget" in last["error"]


def test_the_budget_is_per_analyst_and_counts_athena_only(store, tmp_path):
    s = athena_session(store, tmp_path, limit=100)
    _spent(s, "carol", 1_000)
    _spent(s, "alice", 1_000, engine="duckdb")
    s.check_budget()


def test_no_limit_or_the_duckdb_engine_means_no_budget(store, tmp_path):
    unlimited = athena_session(store, tmp_path, limit=None)
    _spent(unlimited, "alice", 10**12)
    unlimited.check_budget()
    local = session_for(store, user="alice", audit_log=tmp_path / "audit.jsonl",
                        athena={"data_limit": 0})  # fmt: skip
    local.check_budget()
    assert local.run("SELECT count(*) AS n FROM exec", DAY).table.to_pylist() == [{"n": 1}]


# -- identity in personal mode -------------------------------------------------------------------


def test_resolve_user_skips_empty_values():
    env = {"ACCESSMON_USER": "", "JUPYTERHUB_USER": "hub-user"}
    assert resolve_user("", env) == "hub-user"
    assert resolve_user(None, {"ACCESSMON_USER": "env-user", "JUPYTERHUB_USER": "hub"}) == (
        "env-user"
    )


def test_personal_mode_honours_the_configured_user(store, tmp_path):
    s = session_for(store, user="mallory", audit_log=tmp_path / "a")
    assert s.user == "mallory"
    assert resolve_identity(s.config, {"ACCESSMON_USER": "ignored"}) == "mallory"
    nobody = session_for(store, audit_log=tmp_path / "a")
    assert resolve_identity(nobody.config, {"ACCESSMON_USER": "from-env"}) == "from-env"


def test_diagnose_names_the_user_and_the_configuration(session):
    checks = session.diagnose()
    assert checks[0] == ("user", True, "alice")
    assert (
        checks[1][0] == "config" and "defaults (no accessmon.yaml), engine duckdb" in checks[1][2]
    )


# -- the module-level helper and closing -----------------------------------------------------------


def test_module_level_query_opens_and_closes_a_session(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("ACCESSMON_CONFIG", "ACCESSMON_STORE", "ACCESSMON_ENGINE", "ACCESSMON_USER",
                "ACCESSMON_AUDIT_LOG", "ACCESSMON_OUTPUT_DIR", "ACCESSMON_SYSTEM_CONFIG"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    frame = query("SELECT command FROM exec", start="2024-03-20", end="2024-03-20",
                  store=store, user="zoe")  # fmt: skip
    assert frame["command"].tolist() == ["id"]
    assert accessmon.query is query and accessmon.Session is Session
    (line,) = audit.read(tmp_path / "data" / "accessmon-audit.jsonl")
    assert (line["user"], line["success"]) == ("zoe", True)


def test_close_releases_the_engine_and_the_session_can_run_again(store, tmp_path):
    with session_for(store, audit_log=tmp_path / "a") as s:
        first = s.engine
        assert s.run("SELECT count(*) AS n FROM exec", DAY).table.to_pylist() == [{"n": 1}]
    assert s._engine is None
    assert s.engine is not first
    assert s.run("SELECT count(*) AS n FROM exec", DAY).table.to_pylist() == [{"n": 1}]
    s.close()
    s.close()  # closing twice is harmless
