"""complete(): view names after FROM/JOIN, the columns of the views in the query, keywords."""

from __future__ import annotations

import pytest

from accessmon.sql.complete import complete

SCHEMA = {
    "session_start": ["uid", "user", "login", "event_time"],
    "exec": ["uid", "user", "command", "exit_code"],
    "session_join": ["sid", "user"],
}


def at(text: str) -> list[str]:
    """Completions where `|` marks the cursor."""
    cursor = text.index("|")
    return complete(text.replace("|", "", 1), cursor, SCHEMA)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT * FROM sess|", ["session_start", "session_join"]),
        ("select * from SESS|", ["session_start", "session_join"]),
        ("SELECT * FROM |", ["session_start", "exec", "session_join"]),
        ("SELECT * FROM session_start s JOIN e|", ["exec"]),
        ("SELECT * FROM session_start, e|", ["exec"]),
        ("SELECT s.| FROM session_start s", ["uid", "user", "login", "event_time"]),
        ("SELECT s.LO| FROM session_start AS s", ["login"]),
        ("SELECT exec.c| FROM exec", ["command"]),
        ('SELECT x.u| FROM "session_start" x', ["uid", "user"]),
        ("SELECT nope.| FROM exec", []),
        ("SELECT * FROM exec WHERE exit_| AND", ["exit_code"]),
        ("SEL|", ["SELECT"]),
    ],
)
def test_completions(text, expected):
    assert at(text) == expected


def test_columns_of_the_views_in_the_query_then_keywords():
    words = at("SELECT | FROM exec JOIN session_join j ON true")
    assert words[:5] == ["uid", "user", "command", "exit_code", "sid"]
    assert "SELECT" in words and "login" not in words  # session_start is not in the query
    assert at("SELECT u| FROM exec, session_start")[:2] == ["uid", "user"]


@pytest.mark.parametrize(
    "text",
    ["SELECT 'open quote FROM ex|", "SELECT (((| FROM", "|", "FROM FROM JOIN |", 'SELECT "x|'],
)
def test_incomplete_sql_never_raises(text):
    assert isinstance(at(text), list)
