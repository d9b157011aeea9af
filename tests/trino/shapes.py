"""Events built from the view table (the event shapes of `shared/spec/views.md`): for every
view, one event with every column's JSON path filled with a value of the column's type, and
one with the empty values Teleport may still write (`[]`, `false`, `0`, JSON null), so every
view, accessmon's own two included, has rows and every column is read on both engines.

Values real data carries and the views must hold: `cgroup_id = 4294968064` (issue 17),
nanosecond and year-1 times, a dotted key."""

from __future__ import annotations

import datetime as dt
from typing import Any

from accessmon.sql.render import _row_fields
from accessmon.sql.views import Column, View, all_views

#: A real `session.command` cgroup id: more than an integer holds.
CGROUP_ID = 4294968064
#: The full events' day, inside the tests' window.
DAY = dt.datetime(2024, 3, 19, 12, tzinfo=dt.UTC)
#: Values by column name, where a type's default would not look like Teleport's.
NAMED: dict[str, Any] = {
    "cgroup_id": CGROUP_ID,
    "expires": "2024-03-20T06:56:50.648137154Z",
    "identity_expires": "2024-03-20T06:56:50.648137154Z",
    "identity_prev_identity_expires": "0001-01-01T00:00:00Z",
    "token_expires": "2024-03-19T13:00:00Z",
    "session_start": "2024-03-19T11:59:00.5Z",
    "session_stop": "2024-03-19T12:00:00+02:00",
    "addr_local": "172.31.28.130:3022",
    "addr_remote": "151.181.228.114:51454",
    "data_scanned_in_bytes": 5_000_000_000,
    "estimated_cost_usd": 0.024414062500000003,
}


def _value(name: str, typ: str, n: int) -> Any:
    if name in NAMED:
        return NAMED[name]
    if typ == "varchar":
        return f"{name}-{n}"
    if typ == "integer":
        return 40 + n
    if typ == "bigint":
        return 6_000_000_000 + n
    if typ == "double":
        return 1.5 + n
    if typ == "boolean":
        return True
    if typ == "array(varchar)":
        return [f"{name}-a", f"{name}-b, with comma", ""]
    if fields := _row_fields(typ):
        return [{f: _value(f, t, i) for f, t in fields} for i in range(2)]
    raise ValueError(f"no sample value for {typ}")


def _empty(typ: str) -> Any:
    if typ.startswith("array("):
        return []
    return {"integer": 0, "bigint": 0, "double": 0.0, "boolean": False}.get(typ)


def _put(doc: dict, col: Column, value: Any) -> None:
    node = doc
    for key in (col.path or ())[:-1]:
        node = node.setdefault(key, {})
    node[(col.path or ())[-1]] = value


def _event(view: View, index: int, full: bool) -> dict:
    time = DAY + dt.timedelta(minutes=index, milliseconds=123 + full)
    doc: dict = {}
    for col in view.columns[2:]:
        value = _value(col.name, col.type, index) if full else _empty(col.type)
        _put(doc, col, value)
    doc.update(
        event=view.event_type,
        code=view.codes.split()[0],
        time=time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        uid=f"{view.name}-{'full' if full else 'empty'}",
    )
    return doc


def view_shapes() -> list[dict]:
    """Two events per view (every view has rows): all columns filled, and all empty."""
    return [
        _event(view, i, full)
        for i, view in enumerate(all_views().values())
        for full in (True, False)
    ]


# -- values of another type than their column's (issue 17, point 3) ----------------------------

#: Trino's cast from JSON fails the query on this value.
FAILS = "fails"
NAN, INF = float("nan"), float("inf")
#: JSON values of another type than their integer, bigint, boolean or double column (or one
#: the type cannot hold), with Trino 476's answer
#: to the views' `CAST(json_extract(event_data, '$["x"]') AS type)`. tests/trino/test_views.py
#: holds the real Trino to each answer; tests/storage/test_cache.py holds the local engine,
#: from the JSON and from the cache, to the same, or to a failure naming the column.
WRONG_TYPED: dict[str, list[tuple[str, Any]]] = {
    "integer": [
        ("12.5", 13), ("13.5", 14), ("-12.5", -13), ("12.4999", 12), ('"12"', 12),
        ('"12.5"', FAILS), ("true", 1), ("false", 0), ('" 12"', 12), ('"\\t12\\n"', 12),
        ('"+0012"', 12), ('"-0"', 0), ('"1e2"', FAILS), ("1e2", 100), ('"0x10"', FAILS),
        ('"1_000"', FAILS), ('"-"', FAILS), ('"12a"', FAILS), ('""', FAILS),
        ("2147483647", 2147483647), ("2147483648", FAILS), ('"2147483648"', FAILS),
        ("1e10", FAILS), ("1.5e9", 1500000000), ("-2147483648.4", -2147483648),
        ("-2147483648.6", FAILS), ("1e400", FAILS), ("[]", FAILS), ("{}", FAILS),
        ("null", None), ('"\\u0661\\u0662"', 12),
    ],
    "bigint": [
        ("9223372036854775807", 9223372036854775807), ("9223372036854775808", FAILS),
        ('"9223372036854775808"', FAILS), ("12.5", 13), ("1e10", 10000000000), ('"12"', 12),
        ("true", 1), ('"1e2"', FAILS), ("9.3e18", FAILS), ("-9.2e18", -9200000000000000000),
        ("4294968064", 4294968064), ("[1]", FAILS),
    ],
    "boolean": [
        ('"true"', True), ('"TRUE"', True), ('"t"', True), ('"F"', False), ('"1"', True),
        ('"0"', False), ('"yes"', FAILS), ('"no"', FAILS), ('""', FAILS), ('"1.5"', FAILS),
        ('" true"', FAILS), ('"-0"', FAILS), ("1", True), ("0", False), ("2", True),
        ("-1", True), ("1.5", True), ("0.0", False), ("-0.0", False), ("1e3", True),
        ("1e400", FAILS), ("9223372036854775807", True), ("9223372036854775808", FAILS),
        ("[]", FAILS), ("{}", FAILS), ("null", None), ("true", True), ("false", False),
    ],
    "double": [
        ('"1.5"', 1.5), ('"abc"', FAILS), ("true", 1.0), ("false", 0.0), ('" 2e3 "', 2000.0),
        ('"\\t1.5\\n"', 1.5), ('"1.5d"', 1.5), ('"1e5F"', 100000.0), ('"NaN"', NAN),
        ('"-NaN"', NAN), ('"-Infinity"', -INF), ('"+Infinity"', INF), ('"inf"', FAILS),
        ('"nan"', FAILS), ('"Infinityd"', FAILS), ('".5"', 0.5), ('"5."', 5.0),
        ('"1.e5"', 100000.0), ('"-0"', -0.0), ('"00012"', 12.0), ('""', FAILS),
        ('"1,5"', FAILS), ('"true"', FAILS), ("1e400", INF),
        ("12345678901234567890123", 1.2345678901234568e22), ("-0.0", -0.0), ("[1]", FAILS),
        ("{}", FAILS), ("null", None), ("1.25", 1.25), ('"0x1p3"', 8.0),
    ],
}  # fmt: skip
#: Where Trino gives a value that the local engine refuses to compute (fails naming the
#: column, never another value): Java's hexadecimal floating-point text, and digits other
#: than ASCII's (Java's parseInt reads Arabic-Indic "١٢" as 12).
REFUSED_LOCALLY = {("double", '"0x1p3"'), ("integer", '"\\u0661\\u0662"')}
#: The view columns the values are read through: a top-level and a nested boolean, a double.
WRONG_TYPED_COLUMNS = [
    ("session_command", "pid"),
    ("session_command", "cgroup_id"),
    ("user_login", "success"),
    ("cert_create", "identity_disallow_reissue"),
    ("secreports_audit_query_run", "estimated_cost_usd"),
]
