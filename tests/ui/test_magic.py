"""%%accessmon and %accessmon through IPython's InteractiveShell, as a notebook runs them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from IPython.core.completer import provisionalcompleter
from IPython.core.interactiveshell import InteractiveShell

from accessmon import reports
from accessmon.storage import audit
from accessmon.ui.magic import AccessmonMagics, split_line_sql

from ..conftest import EVENT, ROLES_FIXTURE, build_store

DAY = "--from 2024-03-20 --to 2024-03-20"


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "accessmon")
    return ip


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    """A store, and a working directory with no accessmon.yaml or ACCESSMON_* to interfere."""
    for var in ("ACCESSMON_CONFIG", "ACCESSMON_STORE", "ACCESSMON_USER", "ACCESSMON_ENGINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return build_store(tmp_path, [EVENT, {**EVENT, "uid": "u-2", "user": "bob"}])


def _runs(path: Path) -> list[dict]:
    return [r for r in audit.read(path) if r["event"] == "secreports.audit.query.run"]


def _magics(shell) -> AccessmonMagics:
    return shell.magics_manager.registry["AccessmonMagics"]


def test_cell_magic_returns_a_dataframe_and_is_audited(shell, store, tmp_path):
    sql = "SELECT user, login FROM session_start ORDER BY user"
    df = shell.run_cell_magic("accessmon", f"--store {store} {DAY} -o df", sql)
    assert df.to_dict("records") == [
        {"user": "alice", "login": "root"},
        {"user": "bob", "login": "root"},
    ]
    assert shell.user_ns["df"] is df
    (line,) = _runs(tmp_path / "data" / "accessmon-audit.jsonl")  # the default audit_log
    assert line["code"] == "SRE001I" and line["query"] == sql and line["from"] == "2024-03-20"


def test_line_magic_runs_sql_after_its_options(shell, store):
    df = shell.run_line_magic(
        "accessmon", f"--store {store} {DAY} SELECT count(*) AS n FROM session_start WHERE "
        "login LIKE '%oo%'"
    )  # fmt: skip
    assert df["n"].tolist() == [2]
    assert split_line_sql("--days 7 -o x SELECT '--to' AS a") == (
        "--days 7 -o x",
        "SELECT '--to' AS a",
    )


def test_one_session_per_shell_until_the_options_change(shell, store):
    sql = "SELECT count(*) AS n FROM session_start"
    shell.run_cell_magic("accessmon", f"--store {store} {DAY}", sql)
    first = _magics(shell)._session
    shell.run_cell_magic("accessmon", f"--store {store} --days 3", sql)
    assert _magics(shell)._session is first
    shell.run_cell_magic("accessmon", f"--store {store} --user carol {DAY}", sql)
    assert _magics(shell)._session is not first and _magics(shell)._session.user == "carol"


def test_env_and_config_changes_take_effect_at_the_next_use(
    shell, store, tmp_path, monkeypatch, capsys
):
    """`%env ACCESSMON_STORE=...` and an edit of accessmon.yaml reach the next cell; a missing
    store says where it was looked for, why, and that --store is an option of the magic."""
    sql = "SELECT count(*) AS n FROM session_start"
    assert shell.run_cell_magic("accessmon", DAY, sql) is None
    err = capsys.readouterr().err
    assert f"no audit store at {tmp_path / 'data' / 'audit'} (store the default: no" in err
    assert err.endswith("; or pass --store DIR to %%accessmon\n")
    monkeypatch.setenv("ACCESSMON_STORE", "unset-after-the-test")
    shell.run_line_magic("env", f"ACCESSMON_STORE={store}")
    assert shell.run_cell_magic("accessmon", DAY, sql)["n"].tolist() == [2]

    monkeypatch.delenv("ACCESSMON_STORE")
    config = tmp_path / "accessmon.yaml"
    config.write_text("store: nowhere\n")
    assert shell.run_cell_magic("accessmon", DAY, sql) is None
    assert f"(store from {config})" in capsys.readouterr().err
    config.write_text(f"store: {store}\n")
    os.utime(config, ns=(1, 1))  # a new modification time, however fast the test runs
    assert shell.run_cell_magic("accessmon", DAY, sql)["n"].tolist() == [2]


def test_usage_names_store(shell, store, capsys):
    assert shell.run_line_magic("accessmon", "") is None
    assert "[--store DIR]" in capsys.readouterr().err


def test_denied_user_gets_one_line_and_nothing_is_set(shell, store, tmp_path, capsys):
    config = tmp_path / "accessmon.yaml"
    audit_log = tmp_path / "audit.jsonl"
    config.write_text(
        yaml.safe_dump(
            {
                "store": str(store),
                "audit_log": str(audit_log),
                "rbac": {"resources": [str(ROLES_FIXTURE)]},
            }
        )
    )
    out = shell.run_cell_magic(
        "accessmon", f"--config {config} --user bob {DAY} -o denied", "SELECT 1 AS x"
    )
    assert out is None and "denied" not in shell.user_ns
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith('accessmon: access denied: user "bob" (roles: access) may not use')
    (line,) = _runs(audit_log)
    assert line["success"] is False and line["code"] == "SRE001W" and line["user"] == "bob"


@pytest.mark.parametrize(
    ("line", "cell", "message"),
    [
        (DAY, "SELECT * FROM cert_creat", "accessmon: unknown view cert_creat (did you mean cert_create?)"),
        ("--days x", "SELECT 1", "accessmon: %%accessmon: argument --days: invalid int value: 'x'"),
        ("--bogus 1", "SELECT 1", "accessmon: %%accessmon: unrecognized arguments: --bogus 1"),
        ("--days 7 --from 2024-03-20 --to 2024-03-20", "SELECT count(*) FROM exec",
         "accessmon: give either --days or --from/--to, not both"),
        ("-o not-a-name", "SELECT count(*) AS n FROM exec",
         "accessmon: -o needs a Python variable name, not 'not-a-name'"),
    ],
)  # fmt: skip
def test_errors_are_one_line_on_stderr(shell, store, capsys, line, cell, message):
    assert shell.run_cell_magic("accessmon", f"--store {store} {line}", cell) is None
    err = capsys.readouterr().err
    assert err == message + "\n"


def test_schema_lists_views_or_columns(shell, store, capsys):
    shell.run_line_magic("accessmon", f"schema --store {store}")
    out = capsys.readouterr().out
    assert out.count("\n") == 37 and "secreports_audit_query_run" in out
    shell.run_line_magic("accessmon", "schema cert_create -o cols")
    out = capsys.readouterr().out
    assert out.startswith("cert_create  (event cert.create, codes TC000I)")
    assert ("identity_user", "varchar") in shell.user_ns["cols"]
    shell.run_line_magic("accessmon", "schema cert_creat")
    assert capsys.readouterr().err.startswith("accessmon: unknown view cert_creat (did you mean")


def test_bare_line_magic_prints_usage(shell, store, capsys):
    assert shell.run_line_magic("accessmon", "") is None
    assert capsys.readouterr().err.startswith("accessmon: usage: %%accessmon")


def test_report_renders_inline(shell, store, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(reports, "display_report", shown.append)
    shell.run_line_magic("accessmon", f"report privilege_access_report --store {store} {DAY} -o r")
    (run,) = shown
    assert run is shell.user_ns["r"] and run.name == "privilege_access_report"
    assert len(run.queries) == 9 and run.window["start"] == "2024-03-20"
    kinds = [r["event"] for r in audit.read(tmp_path / "data" / "accessmon-audit.jsonl")]
    assert kinds == ["secreports.report.run"]


def test_denied_schema_is_audited(shell, store, tmp_path, capsys):
    config = tmp_path / "accessmon.yaml"
    audit_log = tmp_path / "audit.jsonl"
    config.write_text(
        yaml.safe_dump({"audit_log": str(audit_log), "rbac": {"resources": [str(ROLES_FIXTURE)]}})
    )
    shell.run_line_magic("accessmon", f"schema --config {config} --user bob")
    assert capsys.readouterr().err.startswith('accessmon: access denied: user "bob"')
    (line,) = audit.read(audit_log)
    assert (line["event"], line["code"], line["user"]) == (
        "accessmon.schema.list",
        "AMQ007W",
        "bob",
    )


def _complete(shell, text: str) -> list[tuple[str, str]]:
    """IPython's own completions where `|` marks the cursor, as (text, replaced text)."""
    cursor = text.index("|")
    text = text.replace("|", "", 1)
    with provisionalcompleter():
        found = list(shell.Completer.completions(text, cursor))
    return [(c.text, text[c.start : c.end]) for c in found]


def test_completion_in_magic_cells(shell, store):
    cell = f"%%accessmon --store {store} --days 30\n"
    assert _complete(shell, cell + "SELECT * FROM session_st|") == [("session_start", "session_st")]
    assert _complete(shell, cell + "SELECT s.lo| FROM session_start s") == [("login", "lo")]
    words = [w for w, _ in _complete(shell, cell + "SELECT * FROM cert_create\nWHERE identity_u|")]
    assert "identity_user" in words and all(w.startswith("identity_u") for w in words)
    line = f"%accessmon --store {store} --days 3 SELECT * FROM cert_cr|"
    assert _complete(shell, line) == [("cert_create", "cert_cr")]


def test_completion_stays_out_of_python_and_options(shell, store):
    shell.user_ns["session_like"] = 1
    assert ("session_like", "session_l") in _complete(shell, "x = session_l|")
    assert not [w for w, _ in _complete(shell, "%%accessmon --sto|\nSELECT 1") if w == "store"]
    assert _complete(shell, f"%accessmon schema --store {store} cert_cr|") == []
