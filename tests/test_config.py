from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from accessmon.config import load_config
from accessmon.errors import AccessmonError, ConfigError
from accessmon.session import resolve_user
from accessmon.window import MAX_DAYS, Window

from .conftest import EVENT, REPO, build_store, run

WINDOW = ["--from", "2024-03-20", "--to", "2024-03-20"]


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(environ={})
    assert cfg.store == Path("data/audit")
    assert cfg.engine == "duckdb"
    assert cfg.source is None


def test_file_then_env_then_flags(tmp_path):
    path = tmp_path / "accessmon.yaml"
    path.write_text(
        "store: ./audit\nengine: duckdb\nathena: {database: audit_db, workgroup: wg}\n"
        "rbac: {resources: [./rbac.yaml]}\naudit_log: ./log.jsonl\n"
    )
    cfg = load_config(path, environ={})
    assert cfg.store == tmp_path / "audit"  # relative to the file
    assert cfg.athena.database == "audit_db"
    assert cfg.rbac.resources == [tmp_path / "rbac.yaml"]
    cfg = load_config(path, environ={"ACCESSMON_STORE": "/env/store", "ACCESSMON_ENGINE": "athena"})
    assert cfg.store == Path("/env/store") and cfg.engine == "athena"
    cfg = load_config(path, flags={"store": "/flag/store"}, environ={"ACCESSMON_STORE": "/env"})
    assert cfg.store == Path("/flag/store")


def test_config_from_environment_variable(tmp_path):
    path = tmp_path / "elsewhere.yaml"
    path.write_text("engine: athena\n")
    assert load_config(environ={"ACCESSMON_CONFIG": str(path)}).engine == "athena"


def test_default_file_in_working_directory(tmp_path, monkeypatch):
    (tmp_path / "accessmon.yaml").write_text("store: /somewhere\n")
    monkeypatch.chdir(tmp_path)
    assert load_config(environ={}).store == Path("/somewhere")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stroe: ./x\n", "accessmon.yaml:1: stroe: unknown field (did you mean store or trino?)"),
        (
            "store: ./x\nathena:\n  workgrop: x\n",
            "accessmon.yaml:3: athena.workgrop: unknown field (did you mean workgroup?)",
        ),
        (
            "engine: postgres\n",
            "accessmon.yaml:1: engine: Input should be 'duckdb', 'athena' or 'trino'",
        ),
        ("duckdb: {threads: many}\n", "accessmon.yaml:1: duckdb.threads:"),
        ("store: [unclosed\n", "accessmon.yaml:2: invalid YAML"),
        ("duckdb:\n  timeout_seconds: .inf\n", "accessmon.yaml:2: duckdb.timeout_seconds:"),
        ("duckdb:\n  timeout_seconds: .nan\n", "accessmon.yaml:2: duckdb.timeout_seconds:"),
        ("duckdb: {timeout_seconds: -1}\n", "accessmon.yaml:1: duckdb.timeout_seconds:"),
        ("duckdb: {timeout_seconds: 1e300}\n", "accessmon.yaml:1: duckdb.timeout_seconds:"),
        ("athena:\n  timeout_seconds: .inf\n", "accessmon.yaml:2: athena.timeout_seconds:"),
        (
            "store: ./x\nduckdb:\n  threads: 2\n  memory_limit: lots\n",
            "accessmon.yaml:4: duckdb.memory_limit: 'lots' is not a memory size",
        ),
        ("duckdb: {memory_limit: '-1'}\n", "accessmon.yaml:1: duckdb.memory_limit:"),
        ("duckdb: {memory_limit: 10B}\n", "duckdb.memory_limit: '10B' is too small"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_bad_config_names_key_and_file(tmp_path, text, message):
    path = tmp_path / "accessmon.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert message in str(err.value)


@pytest.mark.parametrize("size", ["2GB", "1 GB", "512MiB", "1.5gb", "64MB"])
def test_memory_sizes_duckdb_reads(tmp_path, size):
    path = tmp_path / "accessmon.yaml"
    path.write_text(f"duckdb: {{memory_limit: {size}}}\n")
    assert load_config(path, environ={}).duckdb.memory_limit == size


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("duckdb:\n  timeout_seconds: .inf\n", "accessmon.yaml:2: duckdb.timeout_seconds:"),
        ("duckdb:\n  memory_limit: lots\n", "accessmon.yaml:2: duckdb.memory_limit: 'lots'"),
    ],
)
def test_cli_names_key_file_and_line_of_a_bad_engine_setting(tmp_path, text, message):
    """Before: .inf printed a thread traceback and ran without a timeout; a bad
    memory_limit was DuckDB's ParserException, naming neither key nor file."""
    store = build_store(tmp_path, [EVENT])
    (tmp_path / "accessmon.yaml").write_text(text)
    out = run(
        ["--store", str(store), "query", "exec", *WINDOW, "SELECT count(*) FROM exec"], tmp_path
    )
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr and "Exception" not in out.stderr


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (["--days", "1000000"], "--days 1000000 is too many: the limit is 36525"),
        (["--from", "0001-01-01", "--to", "2024-03-21"], "--from 0001-01-01 is before 1970-01-01"),
        (["--from", "1970-01-01", "--to", "9999-12-31"], "--from 1970-01-01 --to 9999-12-31 spans"),
    ],
)
def test_cli_names_the_flag_of_an_impossible_window(tmp_path, window, message):
    store = build_store(tmp_path, [EVENT])
    out = run(
        ["--store", str(store), "query", "exec", *window, "SELECT count(*) FROM exec"], tmp_path
    )
    assert out.returncode != 0
    assert message in out.stderr
    assert "OverflowError" not in out.stderr and "internal error" not in out.stderr


def test_a_report_window_and_the_one_before_it_stay_valid_dates():
    """A report's trend reads the window before its own: it must not overflow."""
    window = Window.between("1970-01-01", "2069-12-31")
    assert window.previous().start.year == 1869
    assert Window.last_days(MAX_DAYS).previous().start.year > 1
    with pytest.raises(AccessmonError, match="--from"):
        Window.between("0001-01-01", "0001-01-02")


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_identity_precedence(monkeypatch):
    env = {"ACCESSMON_USER": "env-user", "JUPYTERHUB_USER": "hub-user"}
    assert resolve_user("flag-user", env) == "flag-user"
    assert resolve_user(None, env) == "env-user"
    assert resolve_user(None, {"JUPYTERHUB_USER": "hub-user"}) == "hub-user"
    monkeypatch.setenv("USER", "os-user")
    monkeypatch.setenv("LOGNAME", "os-user")
    assert resolve_user(None, {}) == "os-user"


# -- the system configuration (trust model) ------------------------------------------------------


def _system(tmp_path, text):
    path = tmp_path / "etc" / "accessmon.yaml"
    path.parent.mkdir()
    path.write_text(text)
    path.chmod(0o644)
    return path


def test_system_configuration_fixes_roles_audit_log_identity_and_budget(tmp_path, caplog):
    system = _system(
        tmp_path,
        "store: /srv/audit\nrbac: {resources: [./rbac.yaml]}\naudit_log: /var/log/am.jsonl\n"
        "athena: {data_limit: 1000, workgroup: wg}\nreport: {suppression_max_days: 30}\n",
    )
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "store: ./mine\nrbac: {resources: []}\naudit_log: ./mine.jsonl\n"
        "identity: {source: any}\nathena: {data_limit: 0}\n"
        "report: {suppression_max_days: 365, events_per_finding: 5}\n"
    )
    env = {"ACCESSMON_SYSTEM_CONFIG": str(system), "ACCESSMON_AUDIT_LOG": "env.jsonl"}
    with caplog.at_level("WARNING", logger="accessmon"):
        cfg = load_config(mine, flags={"audit_log": "flag.jsonl"}, environ=env)
    assert cfg.system == system
    assert cfg.rbac.resources == [system.parent / "rbac.yaml"]
    assert cfg.audit_log == Path("/var/log/am.jsonl")
    assert cfg.identity.source is None  # the system's: the OS account
    assert (cfg.athena.data_limit, cfg.athena.workgroup) == (1000, "wg")
    # how long a finding may be accepted is the machine's; how deep a drill-down, the analyst's
    assert (cfg.report.suppression_max_days, cfg.report.events_per_finding) == (30, 5)
    assert cfg.store == tmp_path / "mine"  # what is not locked, the analyst still chooses
    notices = " ".join(r.getMessage() for r in caplog.records)
    assert "audit_log from the audit_log argument is ignored" in notices
    assert f"rbac from {mine} is ignored" in notices and "athena.data_limit" in notices
    assert "report.suppression_max_days from your settings is ignored" in notices


def test_system_configuration_fixes_the_trino_an_analyst_reaches_and_as_whom(tmp_path, caplog):
    """engine trino: another server, catalog, table or Trino user from the analyst's settings
    would be another principal's access (or another table than the roles were written for):
    the system configuration's connection holds, key by key; the timeout stays the analyst's."""
    system = _system(
        tmp_path,
        "trino: {host: trino.corp, port: 443, http_scheme: https, catalog: hive, schema: audit,"
        " table: events, auth: {type: password}, verify: /etc/ssl/corp.pem}\n",
    )
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "engine: trino\n"
        "trino: {host: evil.example, port: 8080, http_scheme: http, user: admin, catalog: other,"
        " schema: s, table: t, verify: false, allow_insecure_auth: true,"
        " auth: {type: password, user: admin, password: hunter2}, timeout_seconds: 60}\n"
    )
    env = {"ACCESSMON_SYSTEM_CONFIG": str(system)}
    with caplog.at_level("WARNING", logger="accessmon"):
        cfg = load_config(mine, environ=env)
    t = cfg.trino
    assert (t.host, t.port, t.http_scheme, t.catalog, t.schema_, t.table) == (
        "trino.corp", 443, "https", "hive", "audit", "events")  # fmt: skip
    assert t.user is None  # Trino's user is the analyst's own (OS or hub) name
    assert t.auth is not None and (t.auth.type, t.auth.user, t.auth.password) == (
        "password", None, None)  # fmt: skip
    assert (t.verify, t.allow_insecure_auth) == ("/etc/ssl/corp.pem", False)
    assert t.timeout_seconds == 60 and cfg.engine == "trino"  # not locked
    notices = " ".join(r.getMessage() for r in caplog.records)
    for key in ("host", "port", "http_scheme", "user", "catalog", "schema", "table", "auth",
                "verify", "allow_insecure_auth"):  # fmt: skip
        assert f"trino.{key} from your settings is ignored: {system} sets it" in notices
    assert "hunter2" not in notices and "timeout_seconds" not in notices


def test_without_a_trino_in_the_system_configuration_an_analyst_cannot_bring_one(tmp_path):
    """Locked means locked when the administrator says nothing too (as rbac): no trino.host
    from the analyst, and the error says who sets it."""
    from accessmon.engines.trino import TrinoEngine

    system = _system(tmp_path, "store: /srv/audit\n")
    mine = tmp_path / "mine.yaml"
    mine.write_text("engine: trino\ntrino: {host: evil.example, catalog: c, schema: s, table: t}\n")
    cfg = load_config(mine, environ={"ACCESSMON_SYSTEM_CONFIG": str(system)})
    assert (cfg.trino.host, cfg.trino.catalog, cfg.trino.table) == (None, None, None)
    engine = TrinoEngine(cfg)
    who = f"is not set: the administrator sets it in {system}"
    with pytest.raises(ConfigError, match=f"trino.catalog {who}"):
        _ = engine.table  # Teleport's table, as every query on Trino names it
    with pytest.raises(ConfigError, match=f"trino.host {who}"):
        engine.connection()
    # in personal mode the same file is the analyst's to write
    assert load_config(mine, environ={}).trino.host == "evil.example"


def test_system_configuration_errors_name_its_file_and_line(tmp_path):
    system = _system(tmp_path, "store: ./x\nidentity: {source: jupyterhub}\n")
    with pytest.raises(ConfigError) as err:
        load_config(environ={"ACCESSMON_SYSTEM_CONFIG": str(system)})
    assert str(err.value).startswith(f"{system}:2: identity: source jupyterhub needs")


@pytest.mark.parametrize("key", ["source", "system", "user_source"])
def test_loader_only_fields_are_unknown_keys_in_a_file(tmp_path, key):
    path = tmp_path / "accessmon.yaml"
    path.write_text(f"store: ./x\n{key}: /etc/passwd\n")
    with pytest.raises(ConfigError, match=f"accessmon.yaml:2: {key}: unknown field"):
        load_config(path, environ={})


def test_project_file_found_from_a_subfolder(tmp_path, monkeypatch):
    """A kernel in notebooks/ finds the project's accessmon.yaml, and the defaults it leaves
    unset are under the project root, not under notebooks/."""
    (tmp_path / "accessmon.yaml").write_text("store: data/audit\nrules_dir: my-rules\n")
    (tmp_path / "notebooks" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks" / "deep")
    cfg = load_config(environ={})
    assert cfg.source == tmp_path / "accessmon.yaml"
    assert cfg.store == tmp_path / "data" / "audit"
    assert cfg.rules_dir == tmp_path / "my-rules"
    assert cfg.audit_log == tmp_path / "data" / "accessmon-audit.jsonl"  # a default
    assert cfg.queries_dir == tmp_path / "queries"
    assert cfg.exports_dir == tmp_path / "exports"
    assert cfg.alerts.alert_log == tmp_path / "data" / "alerts.jsonl"
    assert cfg.store_source == f"from {tmp_path / 'accessmon.yaml'}"
    # environment and flags stay relative to the working directory
    env = load_config(environ={"ACCESSMON_STORE": "here", "ACCESSMON_OUTPUT_DIR": "out"})
    assert env.store == Path("here") and env.output_dir == Path("out")
    assert env.store_source == "from ACCESSMON_STORE"
    assert load_config(flags={"store": "x"}, environ={}).store_source == "from --store"


def test_nearest_file_wins(tmp_path, monkeypatch):
    (tmp_path / "accessmon.yaml").write_text("engine: athena\n")
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "accessmon.yaml").write_text("engine: duckdb\n")
    monkeypatch.chdir(tmp_path / "inner")
    cfg = load_config(environ={})
    assert cfg.engine == "duckdb" and cfg.store == tmp_path / "inner" / "data" / "audit"
    assert cfg.store_source.startswith("the default under the project root")


def test_no_file_anywhere_keeps_paths_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(environ={})
    assert cfg.queries_dir == Path("queries") and cfg.exports_dir == Path("exports")
    assert cfg.store_source == f"the default: no accessmon.yaml found from {tmp_path} upwards"


def test_missing_store_says_where_and_why(tmp_path, monkeypatch):
    """The message names the absolute store, where the setting came from, and the command
    that fills exactly that path."""
    (tmp_path / "accessmon.yaml").write_text("engine: duckdb\n")
    (tmp_path / "notebooks").mkdir()
    out = run(["query", "exec", *WINDOW, "SELECT 1"], tmp_path / "notebooks")
    assert out.returncode == 1
    assert f"no audit store at {tmp_path / 'data' / 'audit'} " in out.stderr
    assert f"default under the project root of {tmp_path / 'accessmon.yaml'}" in out.stderr
    assert f"run `accessmon demo` (or `accessmon ingest LOG...`) in {tmp_path}" in out.stderr
    assert not (tmp_path / "notebooks" / "data").exists()

    env = run(["query", "exec", *WINDOW, "SELECT 1"], tmp_path, env={"ACCESSMON_STORE": "s"})
    assert f"no audit store at {tmp_path / 's'} (store from ACCESSMON_STORE)" in env.stderr
    assert f"run `accessmon --store {tmp_path / 's'} demo`" in env.stderr

    (tmp_path / "accessmon.yaml").unlink()
    bare = run(["summary"], tmp_path / "notebooks")
    where = tmp_path / "notebooks" / "data" / "audit"
    assert (
        f"store {where} is empty (store the default: no accessmon.yaml found from " in bare.stdout
    )
    assert f"run `accessmon --store {where} demo`" in bare.stdout


def test_shipped_config_keeps_notebooks_clean(tmp_path, monkeypatch):
    """With the repo's accessmon.yaml, the CLI, the API and the editor run from notebooks/
    use the project's store, audit trail, saved queries and exports, and create nothing there."""
    from accessmon.session import Session
    from accessmon.ui.editor import Editor

    shutil.copy(REPO / "accessmon.yaml", tmp_path)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    made = run(["demo", "--events", "300", "--days", "2"], notebooks)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "data" / "audit").is_dir()
    assert run(["query", "exec", "SELECT 1 AS x"], notebooks).returncode == 0
    for var in ("ACCESSMON_CONFIG", "ACCESSMON_STORE", "ACCESSMON_AUDIT_LOG", "ACCESSMON_ENGINE",
                "ACCESSMON_OUTPUT_DIR"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(notebooks)
    with Session() as session:
        saved = session.save_query("mine", "SELECT 1")
        editor = Editor(session)
        editor.set_sql("SELECT count(*) AS n FROM session_start")
        editor.run()
        exported = editor.export("csv")
    assert editor.error is None or not editor.error
    assert saved.parent == tmp_path / "queries"
    assert exported.parent == tmp_path / "exports"
    assert (tmp_path / "data" / "accessmon-audit.jsonl").is_file()
    assert list(notebooks.iterdir()) == []
