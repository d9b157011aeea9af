"""Completion of analyst SQL: view names after FROM/JOIN, the columns of the views the query
names, SQL keywords elsewhere. One pure function, so the editor and the magic complete alike.

It reads the query with sqlglot's tokenizer, which accepts text that does not parse yet (a
query being typed is rarely complete); text it cannot tokenize falls back to plain words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import sqlglot
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from accessmon.sql.validate import DIALECT

#: The keywords offered where neither a view nor only columns fit.
KEYWORDS = (
    "SELECT", "DISTINCT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE",
    "BETWEEN", "GROUP BY", "HAVING", "ORDER BY", "ASC", "DESC", "LIMIT", "OFFSET", "JOIN",
    "LEFT JOIN", "INNER JOIN", "CROSS JOIN", "ON", "USING", "AS", "WITH", "UNION ALL", "CASE",
    "WHEN", "THEN", "ELSE", "END", "COUNT", "SUM", "MIN", "MAX", "AVG", "CAST", "COALESCE",
    "date_trunc", "approx_distinct", "TRUE", "FALSE",
)  # fmt: skip

#: `alias.col|` or `col|` before the cursor: the qualifier and the prefix being typed.
_WORD = re.compile(r"(?:([A-Za-z_][\w$]*)\s*\.\s*)?([A-Za-z_][\w$]*)?$")
_TABLE_START = (TokenType.FROM, TokenType.JOIN)
_PLAIN = re.compile(r"[A-Za-z_][\w$]*|[.,()]")


def complete(sql: str, cursor: int, schema: Mapping[str, Sequence[str]]) -> list[str]:
    """The completions at `cursor` (an offset in `sql`) for the word being typed there;
    `schema` maps each view the analyst may query to its column names."""
    before = sql[: max(0, min(cursor, len(sql)))]
    match = _WORD.search(before)
    qualifier, prefix = (match.group(1), match.group(2) or "") if match else (None, "")
    head = before[: match.start()] if match else before
    views = {name.lower(): name for name in schema}
    tokens = _tokens(sql)
    aliases = _tables(tokens, views)
    if qualifier is not None:
        view = aliases.get(qualifier.lower()) or views.get(qualifier.lower())
        return _starting(schema[view] if view else (), prefix)
    previous = _tokens(head)
    if previous and (previous[-1].token_type in _TABLE_START or _after_table_comma(previous)):
        return _starting(schema, prefix)
    named = dict.fromkeys(aliases.values())  # in order, once
    columns = [c for view in named for c in schema[view]]
    return _starting([*dict.fromkeys(columns), *KEYWORDS], prefix)


def _starting(words: Iterable[str], prefix: str) -> list[str]:
    """The words that start with `prefix`, ignoring case, each once, in the order given."""
    low = prefix.lower()
    return [w for w in dict.fromkeys(words) if w.lower().startswith(low)]


class _Word:
    """A token of the fallback reader: the part of sqlglot's Token that is used here."""

    def __init__(self, text: str) -> None:
        self.text = text
        upper = text.upper()
        self.token_type = {
            "FROM": TokenType.FROM, "JOIN": TokenType.JOIN, "AS": TokenType.ALIAS,
            ",": TokenType.COMMA, ".": TokenType.DOT,
        }.get(upper, TokenType.VAR)  # fmt: skip


def _tokens(sql: str) -> list[Token] | list[_Word]:
    try:
        return sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)
    except (TokenError, ValueError):  # an open quote, say: plain words are enough here
        return [_Word(w) for w in _PLAIN.findall(sql)]


def _name(token: Token | _Word) -> str | None:
    """The identifier a token spells, if it can name a table or an alias."""
    if token.token_type in (TokenType.VAR, TokenType.IDENTIFIER) or (
        token.text.isidentifier() and token.token_type not in _NOT_NAMES
    ):
        return token.text
    return None


_NOT_NAMES = {
    TokenType.FROM, TokenType.JOIN, TokenType.WHERE, TokenType.ON, TokenType.USING,
    TokenType.GROUP_BY, TokenType.ORDER_BY, TokenType.LIMIT, TokenType.HAVING, TokenType.SELECT,
    TokenType.LEFT, TokenType.RIGHT, TokenType.INNER, TokenType.OUTER, TokenType.CROSS,
    TokenType.FULL, TokenType.UNION, TokenType.WITH, TokenType.ALIAS, TokenType.COMMA,
    TokenType.NATURAL, TokenType.WINDOW, TokenType.QUALIFY, TokenType.EXCEPT,
    TokenType.INTERSECT, TokenType.L_PAREN, TokenType.R_PAREN,
}  # fmt: skip


def _tables(tokens: Sequence[Token | _Word], views: Mapping[str, str]) -> dict[str, str]:
    """alias (or view name), lowercased -> view, for each view after FROM, JOIN or a comma of
    a FROM list; names that are no view (CTEs, typos) are left out."""
    found: dict[str, str] = {}
    in_from = False
    i = 0
    while i < len(tokens):
        kind = tokens[i].token_type
        if kind in _TABLE_START or (in_from and kind == TokenType.COMMA):
            in_from = True
            name = _name(tokens[i + 1]) if i + 1 < len(tokens) else None
            view = views.get(name.lower()) if name else None
            if view:
                found[view.lower()] = view
                j = i + 2
                if j < len(tokens) and tokens[j].token_type == TokenType.ALIAS:
                    j += 1
                alias = _name(tokens[j]) if j < len(tokens) else None
                if alias:
                    found[alias.lower()] = view
            i += 2
            continue
        if kind in _NOT_NAMES - {TokenType.COMMA, TokenType.ALIAS}:
            in_from = kind == TokenType.JOIN
        i += 1
    return found


def _after_table_comma(tokens: Sequence[Token | _Word]) -> bool:
    """Whether the last token is the comma of a FROM list (`FROM a, |`)."""
    if tokens[-1].token_type != TokenType.COMMA:
        return False
    for token in reversed(tokens[:-1]):
        if token.token_type in _TABLE_START:
            return True
        if token.token_type in _NOT_NAMES - {TokenType.COMMA, TokenType.ALIAS}:
            return False
    return False
