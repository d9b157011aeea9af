"""Hostile SQL: every case is refused with a message naming why, and the store is untouched.

Two layers stand between analyst SQL and the machine: validation (one read-only SELECT
over the audit views) and the DuckDB sandbox (no external access, configuration
locked). The cases go through `Session.run` on a real store; the sandbox is also
tested on its own, as if validation had let something through.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pytest

from accessmon.config import load_config
from accessmon.errors import AccessmonError, EngineError, QueryError
from accessmon.session import Session
from accessmon.sql.validate import check_query
from accessmon.window import Window

from ..conftest import build_store, session_for

START, END = "2024-03-19", "2024-03-21"
SPAN = Window.between(START, END)

EVENTS = [
    {
        "ei": 0,
        "event": "exec",
        "code": "T3002I",
        "uid": f"e-{i}",
        "time": f"2024-03-20T10:0{i}:00.000Z",
        "user": "alice",
        "login": "root",
        "proto": "ssh",
        "command": "cat /etc/passwd",
        "addr.local": "172.31.28.130:3022",
    }
    for i in range(3)
] + [
    {
        "event": "cert.create",
        "code": "TC000I",
        "uid": "c-1",
        "time": "2024-03-20T12:12:03.374Z",
        "identity": {"user": "alice", "client_ip": "10.0.0.7", "roles": ["access"]},
    }
]

READ_ONLY = "is not allowed: queries are read-only"
ONLY_SELECT = "is not allowed: only SELECT queries over the audit views can run"
FUNC = "() is not allowed: it reaches outside the audit views"
CATALOG = "is not allowed: system catalogs"
FILE = "file paths are not allowed"

# (id, SQL with {store} and {outside} placeholders, what the message must contain: a substring,
# or a regex when it starts with "re:")
CASES = [
    # table functions
    ("read_csv", "SELECT * FROM read_csv('/etc/passwd')", "function read_csv" + FUNC),
    ("read_csv_auto", "SELECT * FROM read_csv_auto('/etc/passwd')", "read_csv_auto" + FUNC),
    ("read_parquet", "SELECT * FROM read_parquet('{store}/*/*.parquet')", "read_parquet" + FUNC),
    ("parquet_scan", "SELECT * FROM parquet_scan('{outside}')", "parquet_scan" + FUNC),
    ("read_json", "SELECT * FROM read_json('{outside}')", "read_json" + FUNC),
    ("read_json_auto", "SELECT * FROM read_json_auto('{outside}')", "read_json_auto" + FUNC),
    ("read_ndjson", "SELECT * FROM read_ndjson('{outside}')", "read_ndjson" + FUNC),
    ("read_text", "SELECT content FROM read_text('/etc/passwd')", "read_text" + FUNC),
    ("read_blob", "SELECT content FROM read_blob('/etc/passwd')", "read_blob" + FUNC),
    ("glob", "SELECT * FROM glob('/etc/*')", "re:(?i)glob"),
    ("glob_quoted", "SELECT * FROM \"glob\"('/etc/*')", "re:(?i)glob"),
    (
        "parquet_metadata",
        "SELECT * FROM parquet_metadata('{outside}')",
        "parquet_metadata" + FUNC,
    ),
    ("parquet_schema", "SELECT * FROM parquet_schema('{outside}')", "parquet_schema" + FUNC),
    ("duckdb_settings()", "SELECT * FROM duckdb_settings()", "duckdb_settings" + FUNC),
    ("duckdb_tables()", "SELECT * FROM duckdb_tables()", "duckdb_tables" + FUNC),
    ("duckdb_secrets()", "SELECT * FROM duckdb_secrets()", "duckdb_secrets" + FUNC),
    ("duckdb_extensions()", "SELECT * FROM duckdb_extensions()", "duckdb_extensions" + FUNC),
    ("sniff_csv", "SELECT * FROM sniff_csv('/etc/passwd')", "sniff_csv" + FUNC),
    (
        "query()",
        "SELECT * FROM query('SELECT * FROM read_csv(''/etc/passwd'')')",
        "function query" + FUNC,
    ),
    ("query_table", "SELECT * FROM query_table('exec')", "query_table" + FUNC),
    ("TABLE(read_csv)", "SELECT * FROM TABLE(read_csv('/etc/passwd'))", "read_csv" + FUNC),
    ("TABLE(view)", "SELECT * FROM TABLE(exec)", "table function"),
    ("view_as_function", "SELECT * FROM exec()", "table function exec()"),
    ("range", "SELECT * FROM range(10)", "table function range()"),
    ("pragma_table_info", "SELECT * FROM pragma_table_info('exec')", "pragma_table_info" + FUNC),
    ("pragma_version", "SELECT * FROM pragma_version()", "pragma_version" + FUNC),
    ("which_secret", "SELECT * FROM which_secret('s3://bucket/x', 's3')", "which_secret" + FUNC),
    ("iceberg_scan", "SELECT * FROM iceberg_scan('{outside}')", "iceberg_scan" + FUNC),
    ("sqlite_scan", "SELECT * FROM sqlite_scan('{outside}', 't')", "sqlite_scan" + FUNC),
    (
        "postgres_scan",
        "SELECT * FROM postgres_scan('host=x', 'public', 't')",
        "postgres_scan" + FUNC,
    ),
    ("quoted_function", "SELECT * FROM \"read_csv\"('/etc/passwd')", "read_csv" + FUNC),
    ("schema_qualified_function", "SELECT main.read_csv('/etc/passwd')", "read_csv" + FUNC),
    (
        "catalog_qualified_table_function",
        "SELECT * FROM system.main.read_text('/etc/passwd')",
        "read_text" + FUNC,
    ),
    (
        "unnest_of_a_read",
        "SELECT x FROM exec, UNNEST(read_csv('/etc/passwd')) AS t(x)",
        "read_csv" + FUNC,
    ),
    (
        "in_match_recognize",
        "SELECT * FROM exec MATCH_RECOGNIZE (ORDER BY event_time PATTERN (A)"
        " DEFINE A AS getenv('HOME') = 'x')",
        "getenv" + FUNC,
    ),
    ("inside_try", "SELECT try(getenv('HOME'))", "getenv" + FUNC),
    # file paths as table names
    ("path_string", "SELECT * FROM '/etc/passwd'", FILE),
    ("path_identifier", 'SELECT * FROM "/etc/passwd"', FILE),
    ("path_glob", "SELECT * FROM 'data/audit/**/*.parquet'", FILE),
    ("path_store", "SELECT * FROM '{store}/2024-03-20/x.parquet'", FILE),
    ("path_home", "SELECT * FROM '~/.ssh/id_rsa'", FILE),
    ("path_windows", "SELECT * FROM 'C:\\Windows\\win.ini'", FILE),
    ("path_extension", 'SELECT * FROM "exec.parquet"', FILE),
    ("path_in_join", "SELECT * FROM exec JOIN '/etc/passwd' AS p ON true", FILE),
    # statements other than SELECT
    ("attach", "ATTACH '{store}/evil.db' AS evil", "ATTACH " + ONLY_SELECT),
    ("detach", "DETACH memory", "DETACH " + ONLY_SELECT),
    ("copy_to", "COPY (SELECT 42 AS x) TO '{store}/evil.csv'", "COPY " + ONLY_SELECT),
    (
        "copy_to_partition",
        "COPY (SELECT * FROM exec) TO '{store}/2024-03-20/evil.parquet' (FORMAT parquet)",
        "COPY " + ONLY_SELECT,
    ),
    ("copy_from", "COPY exec FROM '/etc/passwd'", "COPY " + ONLY_SELECT),
    ("pragma", "PRAGMA database_list", "PRAGMA " + ONLY_SELECT),
    ("pragma_profiling", "PRAGMA enable_profiling", "PRAGMA " + ONLY_SELECT),
    ("set_external_access", "SET enable_external_access = true", "SET " + ONLY_SELECT),
    ("set_lock", "SET lock_configuration = false", "SET " + ONLY_SELECT),
    ("set_global", "SET GLOBAL threads = 1", "SET " + ONLY_SELECT),
    ("set_variable", "SET VARIABLE x = 1", "SET " + ONLY_SELECT),
    ("reset", "RESET allowed_directories", "RESET " + ONLY_SELECT),
    ("install", "INSTALL httpfs", "INSTALL " + ONLY_SELECT),
    ("load", "LOAD httpfs", "LOAD " + ONLY_SELECT),
    ("force_install", "FORCE INSTALL httpfs", "FORCE " + ONLY_SELECT),
    ("call", "CALL duckdb_settings()", "CALL " + ONLY_SELECT),
    ("export", "EXPORT DATABASE '{store}/export'", "EXPORT " + ONLY_SELECT),
    ("import", "IMPORT DATABASE '{outside}'", "IMPORT " + ONLY_SELECT),
    ("use", "USE memory", "USE " + ONLY_SELECT),
    ("explain", "EXPLAIN SELECT * FROM exec", "EXPLAIN " + ONLY_SELECT),
    ("explain_analyze", "EXPLAIN ANALYZE SELECT * FROM exec", "EXPLAIN " + ONLY_SELECT),
    ("describe", "DESCRIBE exec", "DESCRIBE " + ONLY_SELECT),
    ("show", "SHOW TABLES", "SHOW " + ONLY_SELECT),
    ("summarize", "SUMMARIZE exec", "SUMMARIZE " + ONLY_SELECT),
    ("from_first", "FROM read_csv('/etc/passwd')", "FROM " + ONLY_SELECT),
    ("vacuum", "VACUUM", "VACUUM " + READ_ONLY),
    ("checkpoint", "CHECKPOINT", "CHECKPOINT " + READ_ONLY),
    ("begin", "BEGIN TRANSACTION", "BEGIN " + READ_ONLY),
    ("prepare", "PREPARE p AS SELECT * FROM exec", "PREPARE " + READ_ONLY),
    ("execute", "EXECUTE p", "EXECUTE " + READ_ONLY),
    # DDL
    ("create_table", "CREATE TABLE t AS SELECT * FROM exec", "CREATE " + READ_ONLY),
    ("create_view", "CREATE VIEW exec AS SELECT 1 AS x", "CREATE " + READ_ONLY),
    ("create_temp", "CREATE OR REPLACE TEMP TABLE t AS SELECT 1", "CREATE " + READ_ONLY),
    ("create_macro", "CREATE MACRO exec() AS TABLE SELECT 1", "CREATE " + READ_ONLY),
    ("create_secret", "CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')", "CREATE " + READ_ONLY),
    ("drop", "DROP TABLE exec", "DROP " + READ_ONLY),
    ("drop_view", "DROP VIEW IF EXISTS exec", "DROP " + READ_ONLY),
    ("alter", "ALTER TABLE exec ADD COLUMN x INTEGER", "ALTER " + READ_ONLY),
    # DML
    ("insert", "INSERT INTO exec VALUES (1)", "INSERT " + READ_ONLY),
    ("update", "UPDATE exec SET user = 'mallory'", "UPDATE " + READ_ONLY),
    ("delete", "DELETE FROM exec", "DELETE " + READ_ONLY),
    (
        "merge",
        "MERGE INTO exec USING exec AS e ON true WHEN MATCHED THEN DELETE",
        "MERGE " + READ_ONLY,
    ),
    ("truncate", "TRUNCATE TABLE exec", "TRUNCATE " + READ_ONLY),
    (
        "with_insert",
        "WITH x AS (SELECT 1 AS a) INSERT INTO t SELECT * FROM x",
        "INSERT is not allowed",
    ),
    (
        "with_delete",
        "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
        "DELETE " + READ_ONLY,
    ),
    # system catalogs
    ("information_schema", "SELECT * FROM information_schema.tables", CATALOG),
    ("information_schema_quoted", 'SELECT * FROM "information_schema"."columns"', CATALOG),
    ("pg_catalog", "SELECT * FROM pg_catalog.pg_class", CATALOG),
    ("main.sqlite_master", "SELECT * FROM main.sqlite_master", CATALOG),
    ("system.main", "SELECT * FROM system.main.x", CATALOG),
    ("memory.main", "SELECT * FROM memory.main.duckdb_tables", CATALOG),
    ("sqlite_master", "SELECT * FROM sqlite_master", CATALOG),
    ("duckdb_tables", "SELECT * FROM duckdb_tables", CATALOG),
    ("duckdb_settings_view", "SELECT * FROM duckdb_settings", "unknown view duckdb_settings"),
    ("pg_settings", "SELECT * FROM pg_settings", "unknown view pg_settings"),
    (
        "qualified_view",
        "SELECT * FROM audit.exec",
        "audit.exec is not allowed: system catalogs and schemas",
    ),
    (
        "main_view",
        "SELECT * FROM exec AS a JOIN main.exec AS b ON true",
        "main.exec is not allowed",
    ),
    # a catalog view reached by a name that is a CTE only in another scope
    (
        "cte_scope_pg_settings",
        "SELECT name, setting FROM (WITH pg_settings AS (SELECT 1 AS a) SELECT a FROM pg_settings) AS s, pg_settings",
        "pg_settings",
    ),
    (
        "cte_scope_duckdb_databases",
        "SELECT path FROM (WITH duckdb_databases AS (SELECT 1 AS a) SELECT a FROM duckdb_databases) AS s, duckdb_databases",
        "duckdb_databases",
    ),
    (
        "cte_scope_sqlite_master",
        "SELECT sql FROM exec, sqlite_master WHERE EXISTS (WITH sqlite_master AS (SELECT 1) SELECT * FROM sqlite_master)",
        "sqlite_master",
    ),
    # scalar functions reaching settings, environment, files
    ("current_setting", "SELECT current_setting('allowed_directories')", "current_setting" + FUNC),
    ("getenv", "SELECT getenv('AWS_SECRET_ACCESS_KEY')", "getenv" + FUNC),
    ("getvariable", "SELECT getvariable('x')", "getvariable" + FUNC),
    (
        "read_in_scalar_subquery",
        "SELECT (SELECT count(*) FROM read_csv('/etc/passwd'))",
        "read_csv" + FUNC,
    ),
    (
        "json_execute",
        "SELECT json_execute_serialized_sql('x')",
        "json_execute_serialized_sql" + FUNC,
    ),
    ("load_extension", "SELECT load_extension('httpfs')", FUNC),
    # not Trino; on DuckDB it returns the rendered SQL with the store's absolute file paths
    ("current_query", "SELECT current_query() AS q FROM exec", "current_query"),
    # several statements
    ("select_then_drop", "SELECT 1; DROP TABLE x", "DROP " + READ_ONLY),
    ("two_selects", "SELECT 1; SELECT 2", "exactly one statement is allowed, got 2"),
    (
        "select_then_copy",
        "SELECT * FROM exec; COPY (SELECT 1) TO '{store}/evil.csv'",
        "COPY " + ONLY_SELECT,
    ),
    # hostile parts hidden inside a SELECT
    (
        "in_cte",
        "WITH x AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM x",
        "read_csv" + FUNC,
    ),
    (
        "in_union",
        "SELECT user FROM exec UNION ALL SELECT column0 FROM read_csv('/etc/passwd')",
        "read_csv" + FUNC,
    ),
    (
        "in_where",
        "SELECT * FROM exec WHERE user IN (SELECT column0 FROM read_csv('/etc/passwd'))",
        "read_csv" + FUNC,
    ),
    (
        "in_exists",
        "SELECT * FROM exec WHERE EXISTS (SELECT 1 FROM read_text('/etc/passwd'))",
        "read_text" + FUNC,
    ),
    (
        "in_having",
        "SELECT user, count(*) FROM exec GROUP BY user HAVING count(*) > (SELECT count(*) FROM read_blob('/etc/passwd'))",
        "read_blob" + FUNC,
    ),
    (
        "in_order_by",
        "SELECT * FROM exec ORDER BY (SELECT count(*) FROM read_text('/etc/passwd'))",
        "read_text" + FUNC,
    ),
    (
        "in_join",
        "SELECT * FROM exec AS e JOIN read_json('/etc/passwd') AS j ON true",
        "read_json" + FUNC,
    ),
    (
        "in_lateral",
        "SELECT * FROM exec AS e, LATERAL (SELECT * FROM read_csv('/etc/passwd')) AS f",
        "read_csv" + FUNC,
    ),
    ("in_parentheses", "(SELECT * FROM read_csv('/etc/passwd'))", "read_csv" + FUNC),
    # DuckDB's COLUMNS() would show the cache's parsed-time columns, which no view has
    (
        "columns_regex",
        "SELECT COLUMNS('__instant.*') FROM cert_create WHERE"
        " from_iso8601_timestamp(identity_expires) > from_iso8601_timestamp(time)",
        "columns" + FUNC,
    ),
    (
        "in_nested_cte",
        "WITH a AS (WITH b AS (SELECT * FROM information_schema.tables) SELECT * FROM b) SELECT * FROM a",
        CATALOG,
    ),
    # unknown views and typos
    ("typo", "SELECT * FROM cert_creat", "unknown view cert_creat (did you mean cert_create?)"),
    (
        "typo_session",
        "SELECT * FROM session_strat",
        "unknown view session_strat (did you mean session_start?)",
    ),
    ("event_type_name", "SELECT * FROM events", "unknown view events"),
    ("store_table", "SELECT * FROM audit_table", "unknown view audit_table"),
    # string escapes and quoting
    (
        "backslash_is_no_escape",
        "SELECT * FROM exec WHERE command = '\\' ; DROP TABLE exec; --'",
        "DROP " + READ_ONLY,
    ),
    (
        "dollar_quotes",
        "SELECT * FROM exec WHERE command = $$x$$; DROP TABLE exec",
        "DROP " + READ_ONLY,
    ),
    ("quote_in_identifier", 'SELECT * FROM "exec"";DROP TABLE x;--"', "unknown view"),
    (
        "doubled_quotes_in_function",
        "SELECT * FROM read_csv('/etc/passwd'';--')",
        "read_csv" + FUNC,
    ),
    # comments hiding statements
    ("comment_before_drop", "/* harmless */ DROP TABLE exec", "DROP " + READ_ONLY),
    ("line_comment_before_drop", "-- harmless\nDROP TABLE exec", "DROP " + READ_ONLY),
    ("comment_then_semicolon", "SELECT 1 /* ; */ ; DROP TABLE exec", "DROP " + READ_ONLY),
    ("line_comment_then_semicolon", "SELECT 1 -- x\n; DROP TABLE exec", "DROP " + READ_ONLY),
    ("nested_comment", "/* /* nested */ SELECT 1 */ DROP TABLE exec", "syntax error"),
    # case variations
    ("mixed_case_function", "sElEcT * FrOm Read_Csv('/etc/passwd')", "read_csv" + FUNC),
    ("upper_case_function", "SELECT * FROM READ_PARQUET('{outside}')", "read_parquet" + FUNC),
    ("mixed_case_drop", "DrOp TaBlE exec", "DROP " + READ_ONLY),
    ("mixed_case_catalog", "select * from INFORMATION_SCHEMA.TABLES", CATALOG),
    ("mixed_case_attach", "aTtAcH '{store}/evil.db'", "ATTACH " + ONLY_SELECT),
]


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root`, hidden ones too, with the SHA-256 of its bytes."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            out[os.path.relpath(os.path.join(folder, name), root) + "/"] = "dir"
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """(session, store, outside file, snapshot of the store before any case ran)."""
    tmp = tmp_path_factory.mktemp("hostile")
    store = build_store(tmp, EVENTS)
    outside = tmp / "store-input.jsonl"  # the ingest input: a real file beside the store
    assert outside.is_file()
    before = snapshot(store)
    with session_for(store) as session:
        yield session, store, outside, before
    assert snapshot(store) == before


def message_of(session, sql: str) -> str:
    with pytest.raises(AccessmonError) as info:
        session.run(sql, SPAN)
    return str(info.value)


@pytest.mark.parametrize(("sql", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_query_is_refused(hostile, sql, expected):
    session, store, outside, before = hostile
    sql = sql.replace("{store}", str(store)).replace("{outside}", str(outside))
    message = message_of(session, sql)
    if expected.startswith("re:"):
        assert re.search(expected[3:], message), message
    else:
        assert expected in message
    # nothing was written, in the store or next to it
    assert snapshot(store) == before
    assert not list(store.parent.glob("**/evil*"))
    assert not list(store.parent.glob("**/export"))


def test_there_are_enough_cases():
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)


def test_refusals_are_query_errors(hostile):
    """Refusals are QueryErrors, not engine failures: nothing reached DuckDB."""
    session, *_ = hostile
    for sql in ("DROP TABLE exec", "SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM x"):
        with pytest.raises(QueryError):
            session.run(sql, SPAN)


def test_comments_and_strings_that_only_look_hostile_run(hostile):
    """A `;` or DROP inside a comment or a string is text: one SELECT runs, nothing else."""
    session, store, _, before = hostile
    for sql in (
        "SELECT 1 AS x /* ; DROP TABLE exec */",
        "SELECT 1 AS x -- ; DROP TABLE exec",
        "SELECT 1 AS x FROM exec WHERE command <> 'a'';DROP TABLE exec;--' LIMIT 1",
    ):
        assert session.run(sql, SPAN).table.to_pylist() == [{"x": 1}]
    rows = session.run("SELECT 'x'';--' AS s", SPAN).table.to_pylist()
    assert rows == [{"s": "x';--"}]
    assert snapshot(store) == before


def test_the_store_is_byte_for_byte_unchanged(hostile):
    session, store, _, before = hostile
    assert session.run("SELECT count(*) AS n FROM exec", SPAN).table.to_pylist() == [{"n": 3}]
    assert snapshot(store) == before


# -- the second layer: the DuckDB sandbox on its own ---------------------------------------------


def test_configuration_is_locked(make_store):
    session = make_store(EVENTS)
    con = session.engine.connection()
    for setting in (
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET enable_external_access",
        "SET allowed_directories = ['/']",
        "SET autoload_known_extensions = true",
    ):
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute(setting)


def test_connection_cannot_read_files(make_store, tmp_path):
    session = make_store(EVENTS)
    session.query("SELECT * FROM exec", start="2024-01-01", end="2024-12-31")  # files allowed
    con = session.engine.connection()
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        f"SELECT * FROM read_text('{tmp_path}/store-input.jsonl')",  # beside the store
        f"SELECT * FROM '{tmp_path}/store-input.jsonl'",  # a replacement scan
    ):
        with pytest.raises(duckdb.PermissionException):
            con.execute(sql).fetchall()
    with pytest.raises(duckdb.Error):
        con.execute("INSTALL httpfs")
    with pytest.raises(duckdb.Error):
        con.execute("LOAD httpfs")


def test_spilled_rows_stay_private(make_store):
    """Rows DuckDB spills to disk are audit data: its folder is the engine's own, mode 0700."""
    session = make_store(EVENTS)
    session.engine.connection()
    assert os.stat(session.engine._tmp).st_mode & 0o777 == 0o700


def test_spill_folders_of_killed_processes_are_removed(make_store):
    """A killed process cannot remove its spill folder; the next engine on the host does,
    and leaves those of live processes alone."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    prefix = Path(tempfile.gettempdir()) / f"accessmon-duckdb-{socket.gethostname()}"
    stale = Path(f"{prefix}.{int(done.stdout)}.gone")
    stale.mkdir()
    (stale / "duckdb_temp_storage.tmp").write_bytes(b"rows")
    live = Path(tempfile.mkdtemp(prefix=f"{prefix.name}.{os.getpid()}.", dir=prefix.parent))
    try:
        make_store(EVENTS).engine.connection()
        assert not stale.exists()
        assert live.exists()
    finally:
        shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(live, ignore_errors=True)


def test_engine_refuses_files_even_past_validation(make_store, tmp_path):
    """Were validation ever fooled, the engine still cannot read outside the store."""
    session = make_store(EVENTS)
    harmless = check_query("SELECT 1")
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT content FROM read_text('{tmp_path}/store-input.jsonl')",
        "SELECT * FROM glob('/etc/*')",
    ):
        with pytest.raises(QueryError, match="not allowed"):
            session.engine.execute(sql, harmless)


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 42 AS x) TO '{store}/evil.csv'",
        "COPY (SELECT 'f-1' AS uid, '' AS session_id, 'exec' AS event_type,"
        " TIMESTAMPTZ '2024-03-20 11:00:00+00' AS event_time,"
        ' \'{"event":"exec","user":"mallory"}\' AS event_data, \'mallory\' AS user)'
        " TO '{store}/2024-03-20/evil.parquet' (FORMAT parquet)",
        # the files a query read are on the connection's allowed list: overwrite one in place
        "COPY (SELECT 42 AS x) TO '{file}' (FORMAT parquet, USE_TMP_FILE false)",
        "ATTACH '{store}/evil.db' AS evil",
        "ATTACH '{file}' AS evil",
    ],
    ids=["copy_csv", "copy_into_partition", "overwrite_read_file", "attach", "attach_read_file"],
)
def test_sandbox_cannot_write_into_the_store(make_store, tmp_path, sql):
    """The connection may read the store's files; it must not write there (forged events in
    a partition folder would be read as audit events), even past validation."""
    session = make_store(EVENTS)
    store = Path(session.config.store)
    assert len(session.query("SELECT * FROM exec", start="2024-01-01", end="2024-12-31"))
    files = sorted(p for p in store.rglob("*.parquet") if "_cache" not in p.parts)
    sql = sql.replace("{store}", str(store)).replace("{file}", str(files[0]))
    before = snapshot(store)
    with pytest.raises(QueryError, match="not allowed: the engine runs one SELECT"):
        session.engine.execute(sql, check_query("SELECT 1"))
    assert snapshot(store) == before


# -- limits and messages -------------------------------------------------------------------------


def test_timeout_stops_a_runaway_query(tmp_path):
    """Deterministic on any machine: the runaway queries cannot finish (300^6 rows, an
    11-day sleep), so only the timeout can end them; the interrupt is repeated until the
    query is over, so one that lands before DuckDB starts the query is not lost; and the
    follow-up runs with a long timeout, so its own speed does not matter."""
    events = [
        {
            "event": "session.start",
            "uid": f"s-{i}",
            "time": f"2024-03-20T10:{i // 60:02d}:{i % 60:02d}.000Z",
            "user": f"user-{i % 7}",
            "proto": "ssh",
            "login": "root",
        }
        for i in range(300)
    ]
    store = build_store(tmp_path, events)
    flags = {"store": store, "audit_log": tmp_path / "audit.jsonl"}
    config = load_config(flags={**flags, "duckdb": {"timeout_seconds": 2}}, environ={})
    with Session(config) as session:
        with pytest.raises(EngineError, match=r"stopped after 2 s \(duckdb.timeout_seconds"):
            session.run(
                "SELECT count(*) FROM session_start a, session_start b, session_start c,"
                " session_start d, session_start e, session_start f",
                SPAN,
            )
        # a validated query that merely waits is stopped as well
        with pytest.raises(EngineError, match="stopped"):
            session.run("SELECT sleep_ms(1000000000) AS x", SPAN)
        # the interrupted connection still works: the same engine, a timeout that cannot bite
        connection = session.engine.connection()
        session.engine.config = load_config(flags=flags, environ={})
        rows = session.run("SELECT count(*) AS n FROM session_start", SPAN)
        assert rows.table.to_pylist() == [{"n": 300}]
        assert session.engine.connection() is connection


def test_an_interrupt_before_the_query_starts_is_not_lost(make_store):
    """The deadline can pass while the query is still being prepared: DuckDB drops an
    interrupt that comes before the query runs, so the engine repeats it until the query
    ends. Each round puts the deadline a moment away; none may sleep its five seconds."""
    session = make_store(EVENTS)
    checked = check_query("SELECT sleep_ms(5000) AS x")
    sql = session.engine.render(checked, Window.between(START, END))
    session.engine.connection()
    timeout = session.config.duckdb.timeout_seconds
    for moment in (0.001, 0.0001, 0.001, 0.0001, 0.001, 0.0001):
        almost = dataclasses.replace(checked, started=time.monotonic() - timeout + moment)
        with pytest.raises(EngineError, match="stopped"):
            session.engine.execute(sql, almost)
    session.close()


def test_syntax_error_names_line_and_column(hostile):
    session, *_ = hostile
    message = message_of(session, "SELECT user\nFROM exec WHERE WHERE")
    assert message.startswith("syntax error")
    assert "line 2" in message and "column" in message
    message = message_of(session, "SELECT\n  1,\n  2 +\nFROM exec")
    assert "line 4" in message


def test_unknown_column_lists_close_names(hostile):
    session, *_ = hostile
    message = message_of(session, "SELECT comand FROM exec")
    assert "unknown column comand in exec" in message
    assert "did you mean command" in message
    message = message_of(session, "SELECT identity_usr FROM cert_create")
    assert "identity_user" in message


def test_type_error_names_the_expression(hostile):
    session, *_ = hostile
    message = message_of(session, "SELECT * FROM exec WHERE user + 1 > 2")
    assert "type error" in message and "+(VARCHAR" in message
    message = message_of(session, "SELECT length(ei) FROM exec")
    assert "type error" in message and "length(INTEGER)" in message
