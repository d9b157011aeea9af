"""The same seed gives the same events, byte for byte, across refactors of the generator.

The digests were computed on the one-module generator (accessmon/demo/events.py at 712886b)
before it was split; any change to them changes what `accessmon demo` writes. They also depend
on numpy's random streams: if a numpy upgrade moves them, recompute and say so in the commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pyarrow as pa
import pytest

from accessmon.demo import generate, iter_chunks

END = dt.date(2024, 3, 20)


def digest(tables: list[pa.Table]) -> str:
    """A digest of every value of every column (times as epoch ms) and of the schema."""
    h = hashlib.sha256()
    for table in tables:
        for name in table.column_names:
            col = table.column(name)
            if pa.types.is_timestamp(col.type):
                col = col.cast(pa.int64())
            h.update("\x00".join(map(repr, col.to_pylist())).encode())
            h.update(b"\x01")
        h.update(repr(table.schema).encode())
    return h.hexdigest()[:16]


#: name: (arguments of one call, digest on the one-module generator)
CASES = {
    "every type once": (lambda: [generate(35, days=30, end_date=END)], "6afcde04684480a5"),
    "one event": (lambda: [generate(1, days=1, end_date=END)], "67cd9c74d654c279"),
    "ten days, seed 7": (
        lambda: [generate(2000, days=10, seed=7, end_date=END)],
        "e37aaa9fec5a9f7e",
    ),
    "more users than names": (
        lambda: [generate(500, days=3, users=90, seed=3, end_date=END)],
        "d04b9777b090b9c0",
    ),
    "one user": (
        lambda: [generate(400, days=5, users=1, seed=11, end_date=END)],
        "c588d141b34a357b",
    ),
    "children whose parents are in another chunk": (
        lambda: list(iter_chunks(300, days=30, seed=2, end_date=END, chunk_events=40)),
        "189785cf86275041",
    ),
    "days split across chunks": (
        lambda: list(iter_chunks(3000, days=2, seed=5, end_date=END, chunk_events=700)),
        "1572a77eb1b22596",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_same_seed_same_events(case):
    build, expected = CASES[case]
    assert digest(build()) == expected


def test_default_size_same_events(default_table):
    assert digest([default_table]) == "142434395dcde2bd"
