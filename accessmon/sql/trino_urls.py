"""Trino's url_* functions on DuckDB, by RFC 3986's own regular expression, with the answers
java.net.URI gives under Trino (a host that is no server name is '', a bracketed IPv6 host
keeps its brackets)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp


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
    for inner in out.find_all(exp.Anonymous):
        inner.meta["trino_time"] = True
    for inner in out.find_all(exp.RegexpExtract, exp.RegexpReplace):
        inner.meta["trino_time"] = True
    if name in ("url_extract_protocol", "url_extract_host", "url_extract_path"):
        matches = exp.RegexpLike(this=node.expressions[0].copy(), expression=exp.Literal.string(
            scheme if name != "url_extract_path" else "^"))  # fmt: skip
        return exp.Case(ifs=[exp.If(this=matches, true=out)])
    return out
