"""Trino's JSON values on DuckDB: the text Trino gives, key order included.

Trino keeps a JSON value as Jackson writes it: json_parse (and the JSON it builds) sorts
object keys, recursively, keeps the last of duplicate keys, writes compactly, numbers as Java
does (`1.5`, `1000.0`, `1.0E21`) and escapes control characters and characters beyond the
BMP (`\\u001F`, `\\uD83D\\uDE00`); json_extract of a text keeps the text's key order (and
duplicates) with the same writing. DuckDB keeps keys as written. So the JSON values a query
builds are rewritten through `trino_json`, a function of the local engine's connection
(`register`), and CAST(json AS varchar) fails for an object or array as on Trino. Each is
checked against a real Trino by tests/trino/test_corpus_time_text.py.
"""

from __future__ import annotations

import decimal
import json
from typing import Any

import duckdb
from duckdb.sqltypes import BOOLEAN, VARCHAR
from sqlglot import exp

from accessmon.sql.trino_arrays import is_map
from accessmon.text import double_text

#: Calls of a JSON value that read it without showing its text: no need to rewrite it there.
_READERS = (exp.JSONExtractScalar, exp.JSONArrayContains, exp.Is)
_READER_NAMES = {"json_array_length", "json_size", "is_json_scalar", "json_transform"}
_DONE = "trino_json"


def _string(text: str) -> str:
    """A JSON string as Jackson writes it."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20:
            short = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
            out.append(short.get(ch, f"\\u{code:04X}"))
        elif code > 0xFFFF:
            high, low = divmod(code - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + high:04X}\\u{0xDC00 + low:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _utf16(key: str) -> bytes:
    """Java orders strings by UTF-16 code units."""
    return key.encode("utf-16-be", "surrogatepass")


def _write(value: Any, sort: bool) -> str:
    if isinstance(value, _Pairs):
        pairs = list(dict(value).items()) if sort else list(value)
        if sort:
            pairs.sort(key=lambda kv: _utf16(kv[0]))
        return "{" + ",".join(f"{_string(k)}:{_write(v, sort)}" for k, v in pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_write(v, sort) for v in value) + "]"
    if isinstance(value, str):
        return _string(value)
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    text = double_text(value)
    return _string(text) if text in ("Infinity", "-Infinity") else text


class _Pairs(list):
    """An object's (key, value) pairs in the order written, duplicates kept."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is no JSON value")


def _load(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_Pairs, parse_constant=_no_constant)


def canonical(text: str, sort: bool) -> str:
    """The text Trino gives a JSON value: json_parse's (`sort`), or json_extract's."""
    return _write(_load(text), sort)


def varchar(text: str) -> str | None:
    """CAST(json AS varchar) of a scalar, as Trino: a string's value, a double as Trino
    writes a double as text (`1.5E0`); NULL for null."""
    value = _load(text)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _double_varchar(value)


def _double_varchar(value: float) -> str:
    """CAST(double AS varchar) on Trino: `1.5E0`, `1.0E300`, `-1.25E-3`."""
    shown = double_text(value)
    if "E" in shown or shown in ("NaN", "Infinity", "-Infinity"):
        return shown
    _, digits, exponent = decimal.Decimal(repr(abs(value))).normalize().as_tuple()
    text = "".join(map(str, digits))
    power = len(text) - 1 + int(exponent)
    return f"{'-' if value < 0 else ''}{text[0]}.{text[1:] or '0'}E{power}"


def register(con: duckdb.DuckDBPyConnection) -> None:
    """The functions the rewrites call, on a local engine connection."""
    con.create_function(
        "trino_json", canonical, [VARCHAR, BOOLEAN], duckdb.sqltype("JSON"), side_effects=False
    )
    con.create_function("trino_json_varchar", varchar, [VARCHAR], VARCHAR, side_effects=False)


def _is_json(node: exp.Expression) -> bool:
    """Whether an expression is a Trino JSON value (as the rewrites leave it)."""
    return isinstance(node, exp.Anonymous) and node.name.lower() == _DONE


def _shown(node: exp.Expression) -> bool:
    """Whether the text of a JSON value can reach the answer (not only read by a JSON call)."""
    parent = node.parent
    if isinstance(parent, _READERS) or (
        isinstance(parent, exp.Anonymous) and parent.name.lower() in _READER_NAMES
    ):
        return False
    if isinstance(parent, exp.JSONExtract) and isinstance(node, exp.JSONExtract):
        return False  # the outer extract keeps the inner's order and writes it again
    casts = isinstance(parent, exp.Cast | exp.TryCast)
    return not casts or parent.to.is_type(exp.DataType.Type.JSON, *exp.DataType.TEXT_TYPES)


def _wrap(node: exp.Expression) -> None:
    """json_extract's value as Trino writes it: the order of the text it was taken from."""
    marked = node.copy()
    marked.meta[_DONE] = True
    node.replace(exp.Anonymous(this=_DONE, expressions=[marked, exp.false()]))


def _cast_text(node: exp.Cast) -> None:
    """CAST(json AS varchar): a scalar's text, an error for an object or array (Trino's);
    TRY_CAST gives NULL there."""
    j = node.this
    kind = exp.Anonymous(this="json_type", expressions=[j.copy()])
    message = exp.DPipe(
        this=exp.Literal.string("Cannot cast '"),
        expression=exp.DPipe(
            this=exp.Cast(this=j.copy(), to=exp.DataType.build("VARCHAR")),
            expression=exp.Literal.string("' to varchar"),
        ),
    )
    fails = exp.In(
        this=kind, expressions=[exp.Literal.string("OBJECT"), exp.Literal.string("ARRAY")]
    )
    text = exp.Anonymous(this="trino_json_varchar", expressions=[j.copy()])
    error = exp.Anonymous(this="error", expressions=[message])
    case = exp.Case(
        ifs=[exp.If(this=fails, true=exp.null() if isinstance(node, exp.TryCast) else error)],
        default=text,
    )
    case.meta[_DONE] = True
    node.replace(case)


def trino_json_to_duckdb(node: exp.Expression) -> exp.Expression:
    """The JSON values of a query as Trino writes them (see the module). Runs on the whole
    query once (at its root), innermost calls first."""
    if node.parent is not None or not isinstance(node, exp.Query):
        return node
    kinds = (exp.ParseJSON, exp.JSONExtract, exp.JSONFormat, exp.Cast, exp.TryCast)
    for call in reversed(list(node.find_all(*kinds))):
        if call.meta.get(_DONE):
            continue
        if isinstance(call, exp.ParseJSON):
            if _shown(call):  # of the text itself: DuckDB's JSON() writes big numbers as doubles
                call.replace(exp.Anonymous(this=_DONE, expressions=[call.this.copy(), exp.true()]))
        elif isinstance(call, exp.JSONExtract) and not call.args.get("json_query"):
            if _shown(call):
                _wrap(call)
        elif isinstance(call, exp.JSONFormat) and _is_json(call.this):
            text = exp.Cast(this=call.this.copy(), to=exp.DataType.build("VARCHAR"))
            text.meta[_DONE] = True  # json_format(json) is its text; already Trino's
            call.replace(text)
        elif (
            isinstance(call, exp.Cast)
            and call.to.is_type(*exp.DataType.TEXT_TYPES)
            and _is_json(call.this)
        ):
            _cast_text(call)
        elif (
            isinstance(call, exp.Cast)
            and call.to.is_type(exp.DataType.Type.JSON)
            and is_map(call.this)  # Trino's JSON of a map has its keys sorted
        ):
            marked = call.copy()
            marked.meta[_DONE] = True
            call.replace(exp.Anonymous(this=_DONE, expressions=[marked, exp.true()]))
    return node


TRANSFORMS = [trino_json_to_duckdb]
