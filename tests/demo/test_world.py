"""The fixed world: the cast, their addresses, the hosts."""

from __future__ import annotations

from accessmon.demo import generate

from .conftest import END


def test_more_users_get_distinct_names():
    table = generate(3000, users=90, end_date=END)
    users = set(table.column("user").to_pylist())
    assert "alice2" in users or "alice3" in users
