"""The local side of the time/text/JSON function corpus (tests/trino/corpus_time_text.py):
every case runs on the DuckDB engine or is refused before it runs, naming the function.
Trino's answers are checked in tests/trino/test_corpus_time_text.py (`make test-trino`)."""

from __future__ import annotations

import datetime as dt

import pytest

from accessmon.errors import QueryError
from accessmon.sql.trino_time import joda_to_strftime
from accessmon.window import Window
from tests.trino.conftest import END, SHAPES
from tests.trino.corpus_time_text import CASES, STOPPED_AT_RUN, refusal

from ..conftest import session_for

WINDOW = Window.between(END - dt.timedelta(days=4), END)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    from accessmon.demo.writer import write_demo
    from accessmon.storage.ingest import ingest
    from tests.conftest import write_jsonl

    tmp = tmp_path_factory.mktemp("corpus")
    store = tmp / "store"
    write_demo(store, events=400, days=5, end_date=END)
    ingest([write_jsonl(tmp / "shapes.jsonl", SHAPES)], store)
    return session_for(store)


@pytest.mark.parametrize(("case", "sql"), CASES, ids=[c for c, _ in CASES])
def test_case_runs_locally_or_is_refused_naming_the_function(case, sql, session):
    expected = refusal(sql)
    if expected is None:
        if case not in STOPPED_AT_RUN:
            session.run(sql, WINDOW)
            return
        with pytest.raises(QueryError, match="is not available on the local engine") as e:
            session.run(sql, WINDOW)
        assert str(e.value).split()[0].lower() in sql.lower()
        return
    with pytest.raises(QueryError) as e:
        session.run(sql, WINDOW)
    message = str(e.value)
    assert message == expected
    assert "is not available on the local engine" in message and "--engine athena" in message
    assert message.split()[0].lower() in sql.lower()


def test_corpus_is_large_and_mostly_local():
    ids = [c for c, _ in CASES]
    assert len(ids) == len(set(ids)) and len(CASES) >= 120
    local = sum(refusal(sql) is None and c not in STOPPED_AT_RUN for c, sql in CASES)
    assert local >= 0.9 * len(CASES)


@pytest.mark.parametrize(
    ("joda", "strftime"),
    [
        ("yyyy-MM-dd", "%Y-%m-%d"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSS", "%Y-%m-%dT%H:%M:%S.%g"),
        ("EEE, d MMM yyyy hh:mm a", "%a, %-d %b %Y %I:%M %p"),
        ("'100%' yy", "100%% %y"),
        ("HH 'o''clock'", "%H o'clock"),
    ],
)
def test_joda_patterns_become_strftime(joda, strftime):
    assert joda_to_strftime(joda, "format_datetime", "use date_format") == strftime


@pytest.mark.parametrize("joda", ["yyyy-MM-dd Z", "ww", "G yyyy", "SS", "'open"])
def test_joda_letters_without_a_twin_are_refused(joda):
    with pytest.raises(QueryError, match=r"^format_datetime .*--engine athena$"):
        joda_to_strftime(joda, "format_datetime", "use date_format")


def test_refusal_names_the_function_its_place_and_the_alternative(session):
    sql = "SELECT login,\n  soundex(login) AS s FROM session_start"
    with pytest.raises(QueryError) as e:
        session.run(sql, WINDOW)
    assert str(e.value) == (
        "soundex is not available on the local engine (line 2, column 3); "
        "compare with levenshtein_distance(a, b) or --engine athena"
    )


def test_refused_functions_are_athenas_to_run(session, tmp_path):
    athena = session_for(session.config.store, engine="athena",
                         athena={"database": "audit_db", "table": "audit_table"})  # fmt: skip
    _, _, sql = athena.prepare("SELECT human_readable_seconds(ei) FROM session_start", WINDOW)
    assert "human_readable_seconds" in sql.lower()
