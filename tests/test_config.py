from __future__ import annotations

from pathlib import Path

import pytest

from accessmon.config import load_config
from accessmon.errors import ConfigError
from accessmon.session import resolve_user


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
        ("stroe: ./x\n", "accessmon.yaml:1: unknown key 'stroe'"),
        ("store: ./x\nathena:\n  workgrop: x\n", "accessmon.yaml:3: unknown key 'athena.workgrop'"),
        ("engine: postgres\n", "accessmon.yaml:1: engine: Input should be 'duckdb' or 'athena'"),
        ("duckdb: {threads: many}\n", "accessmon.yaml:1: duckdb.threads:"),
        ("store: [unclosed\n", "accessmon.yaml:2: invalid YAML"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_bad_config_names_key_and_file(tmp_path, text, message):
    path = tmp_path / "accessmon.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert message in str(err.value)


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
