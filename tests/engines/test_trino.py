"""The Trino engine offline: its configuration, its secrets, Trino's types as Arrow, and the
SQL it shares with Athena. tests/trino/test_engine.py runs it against a real Trino."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from accessmon.config import ENGINE_NAMES, load_config
from accessmon.engines import ENGINES, get_engine
from accessmon.engines.trino import TrinoEngine, arrow_table, arrow_type, needed_columns
from accessmon.errors import ConfigError
from accessmon.sql.validate import check_query
from accessmon.window import Window

from ..conftest import run as cli

TRINO = {"host": "trino.example.com", "catalog": "hive", "schema": "audit_db",
         "table": "audit_table"}  # fmt: skip
WINDOW = Window.between(dt.date(2024, 3, 1), dt.date(2024, 3, 7))


def config(tmp_path, text: str, environ: dict | None = None):
    path = tmp_path / "accessmon.yaml"
    path.write_text(text)
    return load_config(path, environ=environ or {})


def engine(tmp_path, **section) -> TrinoEngine:
    cfg = load_config(flags={"store": tmp_path, "engine": "trino", "trino": {**TRINO, **section}},
                      environ={})  # fmt: skip
    return get_engine(cfg, "alice")


def test_every_engine_name_has_an_engine_and_the_front_ends_offer_them_all(tmp_path):
    assert set(ENGINE_NAMES) == set(ENGINES) == {"duckdb", "athena", "trino"}
    out = cli(["query", "exec", "--help"], tmp_path)
    assert "duckdb|athena|trino" in out.stdout


def test_the_trino_section_with_password_and_jwt(tmp_path):
    cfg = config(tmp_path, "engine: trino\ntrino:\n  host: t\n  http_scheme: https\n"
                 "  schema: s\n  auth: {type: password, user: bob, password: pw-123}\n")  # fmt: skip
    assert cfg.trino.schema_ == "s" and cfg.trino.auth.user == "bob"
    assert "pw-123" not in repr(cfg) and "pw-123" not in str(cfg.model_dump())
    cfg = config(tmp_path, "trino: {http_scheme: https, auth: {type: jwt, token: tk}}\n")
    assert cfg.trino.auth.token.get_secret_value() == "tk"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("trino:\n  auth: {type: password, user: bob}\n",
         "accessmon.yaml:2: trino.auth: type password needs http_scheme: https"),
        ("trino:\n  http_scheme: https\n  auth: {type: kerberos}\n",
         "accessmon.yaml:3: trino.auth.type: Input should be 'password' or 'jwt'"),
        ("trino:\n  http_scheme: https\n  auth:\n    type: jwt\n    password: x\n",
         "accessmon.yaml:3: trino.auth: type jwt takes token, not user or password"),
        ("trino:\n  port: 70000\n", "accessmon.yaml:2: trino.port: Input should be less than"),
        ("trino:\n  catalogue: hive\n",
         "accessmon.yaml:2: trino.catalogue: unknown field (did you mean catalog?)"),
        ("trino:\n  timeout_seconds: 0\n", "accessmon.yaml:2: trino.timeout_seconds:"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key_file_and_line(tmp_path, text, message):
    with pytest.raises(ConfigError) as e:
        config(tmp_path, text)
    assert str(e.value).startswith(str(tmp_path)) and message in str(e.value)


def test_secrets_come_from_the_environment_and_their_absence_names_the_variable(
    tmp_path, monkeypatch
):
    e = engine(tmp_path, http_scheme="https", auth={"type": "password"})
    monkeypatch.delenv("ACCESSMON_TRINO_PASSWORD", raising=False)
    with pytest.raises(
        ConfigError, match=r"trino\.auth\.password is not set.*ACCESSMON_TRINO_PASSWORD"
    ):
        e.auth()
    monkeypatch.setenv("ACCESSMON_TRINO_PASSWORD", "from-env")
    auth = e.auth()
    assert (auth._username, auth._password) == ("alice", "from-env")
    e = engine(tmp_path, http_scheme="https", auth={"type": "jwt"})
    with pytest.raises(ConfigError, match="ACCESSMON_TRINO_JWT"):
        e.auth()
    monkeypatch.setenv("ACCESSMON_TRINO_JWT", "a.b.c")
    assert e.auth().token == "a.b.c"


def test_trinos_user_is_the_analyst_unless_configured(tmp_path):
    assert engine(tmp_path).trino_user == "alice"
    assert engine(tmp_path, user="svc").trino_user == "svc"


def test_it_renders_athenas_sql_over_catalog_schema_table(tmp_path):
    athena = get_engine(load_config(flags={"store": tmp_path, "engine": "athena", "athena": {
        "database": "audit_db", "table": "audit_table"}}, environ={}))  # fmt: skip
    query = check_query("SELECT user, count(*) AS n FROM session_start GROUP BY user")
    mine = engine(tmp_path).render(query, WINDOW)
    assert mine == athena.render(query, WINDOW).replace(
        '"audit_db"."audit_table"', '"hive"."audit_db"."audit_table"'
    )


def test_an_unset_table_part_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"trino\.schema is not set"):
        engine(tmp_path, schema=None).table  # noqa: B018


def test_doctor_without_a_host_stops_at_the_configuration(tmp_path):
    rows = engine(tmp_path, host=None).diagnose()
    assert [(n, ok) for n, ok, _ in rows] == [("configuration", False)]
    assert needed_columns()[:3] == ["event_type", "event_date", "event_data"]


@pytest.mark.parametrize(
    ("trino_type", "arrow"),
    [
        ("varchar", pa.string()),
        ("varchar(20)", pa.string()),
        ("bigint", pa.int64()),
        ("integer", pa.int32()),
        ("double", pa.float64()),
        ("boolean", pa.bool_()),
        ("date", pa.date32()),
        ("decimal(10,2)", pa.decimal128(10, 2)),
        ("timestamp(3)", pa.timestamp("ms")),
        ("timestamp(6) with time zone", pa.timestamp("us", tz="UTC")),
        ("json", pa.string()),
        ("array(varchar)", pa.list_(pa.string())),
        ("map(varchar, bigint)", pa.map_(pa.string(), pa.int64())),
        ("array(row(name varchar, \"odd, name\" array(bigint)))",
         pa.list_(pa.struct([("name", pa.string()), ("odd, name", pa.list_(pa.int64()))]))),
        ("row(bigint, varchar)", pa.struct([("field0", pa.int64()), ("field1", pa.string())])),
        ("unknown", pa.null()),
    ],
)  # fmt: skip
def test_trino_types_as_arrow(trino_type, arrow):
    assert arrow_type(trino_type) == arrow


def test_rows_as_an_arrow_table():
    description = [("n", "bigint"), ("m", "map(varchar, bigint)"), ("r", "row(a varchar)"),
                   ("d", "decimal(4,1)"), ("j", "json"), ("n", "unknown")]  # fmt: skip
    rows = [[1, {"x": 2}, ("v",), decimal.Decimal("1.5"), {"k": 1}, None],
            [None, None, None, None, None, None]]  # fmt: skip
    table = arrow_table(description, rows)
    assert table.column_names == ["n", "m", "r", "d", "j", "n"]
    assert table.to_pylist()[0]["m"] == [("x", 2)] and table.column(2)[0].as_py() == {"a": "v"}
    assert table.column(4)[0].as_py() == "{'k': 1}" and table.num_rows == 2
