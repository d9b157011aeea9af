"""The local side of the arrays/aggregates function corpus (tests/trino/corpus_arrays.py), on
a small store, without Trino: every case runs, or is refused before it runs naming its
function; a case Trino fails (overflow, bad cast) may fail here too. Whether the answers are
Trino's is checked against a real Trino by tests/trino/test_corpus_arrays.py."""

from __future__ import annotations

import datetime as dt

import pytest

from accessmon.errors import AccessmonError
from accessmon.window import Window
from tests.conftest import build_store, session_for
from tests.trino.corpus_arrays import CASES, REFUSED

DAY = dt.date(2024, 3, 20)
WINDOW = Window.between(DAY - dt.timedelta(days=1), DAY)


def _t(minute: int) -> str:
    return f"2024-03-20T10:{minute:02d}:00.000Z"


#: A few events of each view the corpus reads, with NULLs, empty and absent arrays.
EVENTS = [
    {"event": "session.start", "code": "T2000I", "time": _t(1), "uid": "s1", "user": "alice",
     "login": "root", "ei": 0, "access_requests": ["req-1", "other"]},
    {"event": "session.start", "code": "T2000I", "time": _t(2), "uid": "s2", "user": "alice",
     "login": "ubuntu", "ei": 0, "access_requests": []},
    {"event": "session.start", "code": "T2000I", "time": _t(3), "uid": "s3", "user": "bob",
     "ei": 1},
    {"event": "cert.create", "code": "TC000I", "time": _t(4), "uid": "c1", "cert_type": "user",
     "cluster_name": "example", "identity": {"user": "alice", "roles": ["access", "editor"],
                                             "logins": ["root", "ubuntu", "root"]}},
    {"event": "cert.create", "code": "TC000I", "time": _t(5), "uid": "c2", "cert_type": "user",
     "identity": {"user": "bob", "roles": [], "logins": ["deploy"]}},
    {"event": "session.command", "code": "T4000I", "time": _t(6), "uid": "k1", "user": "alice",
     "login": "root", "pid": 28919, "ppid": 1, "cgroup_id": 7, "program": "ls",
     "argv": ["-la", "/etc"], "return_code": 0},
    {"event": "session.command", "code": "T4000I", "time": _t(7), "uid": "k2", "user": "bob",
     "pid": 3, "ppid": 2, "argv": [], "return_code": 1},
    {"event": "user.login", "code": "T1000I", "time": _t(8), "uid": "l1", "user": "alice",
     "method": "local", "success": True},
    {"event": "user.login", "code": "T1000W", "time": _t(9), "uid": "l2", "user": "bob",
     "method": "local", "success": False, "error": "bad password"},
    {"event": "access_request.create", "code": "T5000I", "time": _t(10), "uid": "a1",
     "user": "bob", "id": "r1", "roles": ["admin"], "state": "PENDING",
     "resource_ids": [{"cluster": "example", "kind": "node", "name": "db1"}]},
]  # fmt: skip


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return session_for(build_store(tmp_path_factory.mktemp("corpus"), EVENTS))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_runs_locally_or_is_refused_naming_its_function(case, session, corpus_outcomes):
    try:
        session.run(case.sql, WINDOW)
    except AccessmonError as e:
        message = str(e)
        if REFUSED in message:
            function = message.split(" ", 1)[0]
            assert function in case.sql.lower(), f"the refusal names no function of the case: {e}"
            assert "--engine athena" in message
            corpus_outcomes[case.name] = "refused"
            return
        assert case.fails, f"{case.name} failed locally, where Trino answers: {e}"
    corpus_outcomes[case.name] = "local"


def test_the_corpus_is_large_enough_and_mostly_local():
    assert len(CASES) >= 90
    assert len({c.name for c in CASES}) == len(CASES)
