"""Uuids and RFC 3339 timestamps built as byte matrices read as Python would write them."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import numpy as np

from accessmon.demo.fixed_width import (
    DAY_MS,
    EPOCH,
    fixed_column,
    put_digits,
    time_bytes,
    uuid_bytes,
    uuid_str,
)


def test_uuids_are_version_4_and_follow_the_seed():
    rows = [r.tobytes().decode() for r in uuid_bytes(np.random.default_rng(1), 500)]
    assert len(set(rows)) == 500
    for text in rows:
        u = uuid.UUID(text)
        assert u.version == 4 and str(u) == text
    again = uuid_bytes(np.random.default_rng(1), 500)
    assert [r.tobytes().decode() for r in again] == rows
    assert uuid.UUID(uuid_str(np.random.default_rng(2))).version == 4


def test_timestamps_match_isoformat_in_utc():
    rng = np.random.default_rng(0)
    ms = np.concatenate(
        [[DAY_MS, DAY_MS - 1 + DAY_MS, 19_800 * DAY_MS], rng.integers(DAY_MS, 2**42, 300)]
    )
    texts = [r.tobytes().decode() for r in time_bytes(ms)]
    for value, text in zip(ms, texts, strict=True):
        want = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=int(value))
        assert text == want.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value % 1000:03d}Z"
    ns = time_bytes(ms[:3], sub_ns=np.array([0, 999_999, 123_456]))
    assert [r.tobytes().decode() for r in ns] == [
        "1970-01-02T00:00:00.000000000Z",
        "1970-01-02T23:59:59.999999999Z",
        (EPOCH + dt.timedelta(days=19_800)).isoformat() + "T00:00:00.000123456Z",
    ]
    assert time_bytes(np.array([], np.int64)).shape == (0, 24)


def test_digits_are_zero_padded():
    out = np.zeros((3, 5), np.uint8)
    put_digits(out, 0, np.array([0, 42, 65535]), 5)
    assert [r.tobytes().decode() for r in out] == ["00000", "00042", "65535"]


def test_fixed_column_wraps_rows_and_honours_validity():
    body = np.frombuffer(b"abcdef", np.uint8).reshape(3, 2)
    col = fixed_column(body, '"k":"', '"', valid=np.array([True, False, True]))
    assert col.to_pylist() == ['"k":"ab"', None, '"k":"ef"']
    assert fixed_column(body).to_pylist() == ["ab", "cd", "ef"]
    assert re.fullmatch(r"\d{5}", fixed_column(np.full((1, 5), ord("7"), np.uint8))[0].as_py())
