"""Trino's url_* functions on DuckDB, by RFC 3986's own regular expression, with the answers
java.net.URI gives under Trino (a host that is no server name is '', a bracketed IPv6 host
keeps its brackets)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

_H = "[0-9A-Fa-f]{1,4}"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_LS32 = f"(?:{_H}:{_H}|(?:{_OCTET}\\.){{3}}{_OCTET})"
#: An IPv6 address as RFC 3986 writes it (java.net.URI takes these, and no others, in [...]).
_IPV6 = "|".join([
    f"(?:{_H}:){{6}}{_LS32}", f"::(?:{_H}:){{5}}{_LS32}", f"(?:{_H})?::(?:{_H}:){{4}}{_LS32}",
    f"(?:(?:{_H}:){{0,1}}{_H})?::(?:{_H}:){{3}}{_LS32}",
    f"(?:(?:{_H}:){{0,2}}{_H})?::(?:{_H}:){{2}}{_LS32}",
    f"(?:(?:{_H}:){{0,3}}{_H})?::{_H}:{_LS32}", f"(?:(?:{_H}:){{0,4}}{_H})?::{_LS32}",
    f"(?:(?:{_H}:){{0,5}}{_H})?::{_H}", f"(?:(?:{_H}:){{0,6}}{_H})?::",
])  # fmt: skip
_AUTHORITY = "^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?"
_SCOPED_ERROR = (
    "{name} of an IPv6 host with a zone ([fe80::1%25eth0]) is not available on the local "
    "engine; use regexp_extract or --engine athena"
)


def _bracketed(name: str, arg: str, out: exp.Expression) -> exp.Expression:
    """A bracketed host that is no IPv6 address fails java.net.URI: every part is NULL on
    Trino. One with a zone (`%25eth0`) stops the query rather than guess Java's rules."""
    sql = (
        f"CASE WHEN regexp_matches({arg}, '{_AUTHORITY}\\[[^\\]/?#@]*%') "
        f"THEN error('{_SCOPED_ERROR.format(name=name)}') "
        f"WHEN regexp_matches({arg}, '{_AUTHORITY}\\[') AND NOT regexp_matches({arg}, "
        f"'{_AUTHORITY}\\[(?:{_IPV6})\\](?::[0-9]*)?(?:[/?#]|$)') THEN NULL END"
    )
    case = sqlglot.parse_one(sql, read="duckdb")
    case.set("default", out)
    return case


def url(node: exp.Expression) -> exp.Expression:
    """url_extract_* by RFC 3986's own regular expression; url_encode/decode with `+`."""
    if (
        not isinstance(node, exp.Anonymous)
        or len(node.expressions) != 1
        or node.meta.get("trino_time")
    ):
        return node
    name, arg = node.name.lower(), node.expressions[0].sql("duckdb")
    scheme = "^([A-Za-z][A-Za-z0-9+.-]*):"
    authority = (
        "^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\\[[^\\]/?#@]*\\]|[^:/?#]*)(?::([0-9]+))?"
    )
    host = f"regexp_extract({arg}, '{authority}', 1)"
    server = f"regexp_full_match({host}, '[A-Za-z0-9.-]*|\\[[0-9A-Fa-f:.]*\\]')"
    sql = {
        "url_extract_protocol": f"regexp_extract({arg}, '{scheme}', 1)",
        # java.net.URI, under Trino, keeps no host (and no port) when the host is not a
        # server name: `cluster_name-29` (an underscore) gives '' and NULL on Trino.
        "url_extract_host": f"CASE WHEN {server} THEN {host} ELSE '' END",
        "url_extract_port": f"CASE WHEN {server} THEN TRY_CAST(NULLIF("
        f"regexp_extract({arg}, '{authority}', 2), '') AS BIGINT) END",
        "url_extract_path": (
            f"regexp_extract({arg}, '^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://[^/?#]*)?([^?#]*)', 1)"
        ),
        "url_encode": f"replace(replace(replace(url_encode({arg}), '%20', '+'), '~', '%7E'), '%2A', '*')",
        "url_decode": f"url_decode(replace({arg}, '+', ' '))",
    }.get(name)
    if sql is None:
        return node
    out = sqlglot.parse_one(sql, read="duckdb")
    if name.startswith("url_extract_"):
        out = _bracketed(name, arg, out)
    for inner in out.find_all(exp.Anonymous):
        inner.meta["trino_time"] = True
    for inner in out.find_all(exp.RegexpExtract, exp.RegexpReplace):
        inner.meta["trino_time"] = True
    if name in ("url_extract_protocol", "url_extract_host", "url_extract_path"):
        matches = exp.RegexpLike(this=node.expressions[0].copy(), expression=exp.Literal.string(
            scheme if name != "url_extract_path" else "^"))  # fmt: skip
        return exp.Case(ifs=[exp.If(this=matches, true=out)])
    return out
