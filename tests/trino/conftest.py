"""A real Trino, once per session, over a small store registered as Teleport's Athena table.

These tests are marked `trino` and run with `make test-trino`; `make test` leaves them out.
Without Java 24+ they skip with one line saying how to enable them; with CI=true a Trino that
does not start fails the run.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from accessmon.config import load_config
from accessmon.demo.writer import write_demo
from accessmon.session import Session
from accessmon.storage.ingest import ingest
from tests.conftest import write_jsonl
from tests.trino import server
from tests.trino.shapes import view_shapes

HERE = Path(__file__).resolve().parent
#: A fixed last day, so the store does not depend on today's date.
END = dt.date(2024, 3, 20)

#: Sparse events in Teleport's own shapes (teleport.md): no top-level user on cert.create,
#: nanoseconds and year 1 in the identity's times, a dotted key, absent keys.
SHAPES = [
    {"addr.local": "172.31.28.130:3022", "addr.remote": "151.181.228.114:51454",
     "code": "T2000I", "ei": 0, "event": "session.start", "login": "root",
     "namespace": "default", "server_id": "de3800ea-69d9-4d72-a108-97e57f8eb393",
     "sid": "56408539-6536-11e9-80a1-427cfde50f5a", "size": "80:25",
     "time": "2024-03-19T19:39:26.676Z", "uid": "84c07a99-856c-419f-9de5-15560451a116",
     "user": "admin@example.com"},
    {"event": "session.start", "time": "2024-03-20T23:59:59.999Z", "user": "no-uid"},
    {"event": "cert.create", "code": "TC000I", "time": "2024-03-18T06:56:50.648Z",
     "uid": "7a6c1c58-2ad6-4c8b-9d8b-6f3a8d1f1a01", "cluster_name": "teleport.example.com",
     "cert_type": "user",
     "identity": {"user": "alice", "roles": ["access", "editor"], "logins": ["root", "ubuntu"],
                  "expires": "2024-03-19T06:56:50.648137154Z", "client_ip": "10.0.0.7",
                  "route_to_cluster": "teleport.example.com", "traits": {"logins": ["root"]},
                  "prev_identity_expires": "0001-01-01T00:00:00Z",
                  "private_key_policy": "none"}},
]  # fmt: skip


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    """Mark every test under tests/trino `trino` (before `-m` selects); then, if some are still
    selected but this machine cannot run Trino, leave them out with one line that says how to
    enable them, except under CI=true, where the `trino` fixture fails instead."""
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.trino)
    result = yield
    selected = [i for i in items if i.get_closest_marker("trino")]
    if selected and not _in_ci():
        try:
            server.java_home()
        except server.TrinoUnavailable as e:
            items[:] = [i for i in items if not i.get_closest_marker("trino")]
            config.hook.pytest_deselected(items=selected)
            config.stash[_SKIPPED] = f"{len(selected)} Trino tests skipped: {e}"
    return result


_SKIPPED = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    if _SKIPPED in config.stash:
        terminalreporter.write_line(config.stash[_SKIPPED], yellow=True)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def trino_store(tmp_path_factory) -> Path:
    """A small demo store plus SHAPES and two events per view built from the view table
    (`shapes.view_shapes`), written by accessmon's own demo and ingest code."""
    tmp = tmp_path_factory.mktemp("trino-store")
    store = tmp / "store"
    write_demo(store, events=3000, days=5, end_date=END)
    ingest([write_jsonl(tmp / "shapes.jsonl", SHAPES + view_shapes())], store)
    return store


@pytest.fixture(scope="session")
def trino(tmp_path_factory, trino_store) -> server.Trino:
    """One coordinator for the session, with `trino_store` as Teleport's table; stopped by
    its PID at the end."""
    try:
        server.java_home()
        instance = server.start(tmp_path_factory.mktemp("trino-run"))
    except server.TrinoUnavailable as e:
        if _in_ci():
            pytest.fail(f"CI=true and Trino cannot run: {e}", pytrace=False)
        pytest.skip(f"Trino tests skipped: {e}")
    except Exception as e:  # Java is there, so a Trino that does not start is a failure
        pytest.fail(f"Trino {server.VERSION} did not start: {e}", pytrace=False)
    try:
        server.register_store(instance, trino_store)
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="session")
def trino_query(trino) -> Callable[[str], tuple[list[str], list[tuple]]]:
    """trino_query(sql) -> (column names, rows), through the DB-API client, in UTC."""

    def run(sql: str) -> tuple[list[str], list[tuple]]:
        conn = trino.connect()
        try:
            cur = conn.cursor()
            cur.execute(sql)
            rows = cur.fetchall()
            return [d[0] for d in cur.description], [tuple(r) for r in rows]
        finally:
            conn.close()

    return run


def _session(store: Path, tmp: Path, **flags) -> Session:
    flags = {"store": store, "audit_log": tmp / "accessmon-audit.jsonl", **flags}
    return Session(load_config(flags=flags, environ={}))


@pytest.fixture(scope="session")
def duckdb_session(trino_store, tmp_path_factory) -> Session:
    """accessmon on its local engine, over the same store."""
    return _session(trino_store, tmp_path_factory.mktemp("duckdb-session"))


@pytest.fixture(scope="session")
def athena_session(trino_store, tmp_path_factory) -> Session:
    """accessmon configured for Athena on Teleport's table, only to render its SQL
    (what `--show-sql` prints with engine: athena); nothing reaches AWS."""
    athena = {"database": server.DATABASE, "table": server.TABLE}
    return _session(trino_store, tmp_path_factory.mktemp("athena-session"),
                    engine="athena", athena=athena)  # fmt: skip
