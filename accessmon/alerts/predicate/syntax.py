"""Reading a condition: tokens, the syntax tree, and a recursive-descent parser.

Mistakes raise PredicateError with the line and column, so a rule file names where it is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accessmon.alerts.predicate.functions import FUNCTIONS, METHODS
from accessmon.errors import PredicateError
from accessmon.names import did_you_mean

_CONSTANTS = {"true": True, "false": False}


# -- tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # ident, string, op, eof
    value: str
    pos: int


_OPS = ("&&", "||", "==", "!=", "!", "(", ")", "[", "]", ",", ".")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def tokenize(text: str) -> list[Token]:
    """Identifiers, double-quoted (escaped) or backquoted (raw) strings, and operators."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c.isalpha() or c == "_":
            start = i
            while i < n and (text[i].isalnum() or text[i] == "_"):
                i += 1
            tokens.append(Token("ident", text[start:i], start))
        elif c == '"':
            token, i = _string(text, i)
            tokens.append(token)
        elif c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise PredicateError("unterminated string", text, i)
            tokens.append(Token("string", text[i + 1 : end], i))
            i = end + 1
        else:
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op is None:
                hint = ""
                if c in "&|=":
                    hint = f" (did you mean {c * 2}?)"
                elif c == "'":
                    hint = ' (strings take double quotes: "...")'
                raise PredicateError(f"unexpected character {c!r}{hint}", text, i)
            tokens.append(Token("op", op, i))
            i += len(op)
    tokens.append(Token("eof", "", n))
    return tokens


def _string(text: str, start: int) -> tuple[Token, int]:
    """A Go-style double-quoted string and the index just past it."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == '"':
            return Token("string", "".join(out), start), i + 1
        if c == "\n":
            break
        if c == "\\":
            if i + 1 >= len(text):
                break
            e = text[i + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
                continue
            if e == "u":
                digits = text[i + 2 : i + 6]
                if len(digits) == 4 and all(d in "0123456789abcdefABCDEF" for d in digits):
                    out.append(chr(int(digits, 16)))
                    i += 6
                    continue
            raise PredicateError(f"invalid escape \\{e} in string", text, i)
        out.append(c)
        i += 1
    raise PredicateError("unterminated string", text, start)


# -- syntax tree --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    pos: int


@dataclass(frozen=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True)
class Var(Node):
    name: str


@dataclass(frozen=True)
class Index(Node):
    target: Node
    key: Node


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # && || == !=
    left: Node
    right: Node


# -- parser -------------------------------------------------------------------------------------


class _Parser:
    """Precedence, loosest first: ||, &&, == !=, !, then calls, indexes and methods."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def error(self, message: str, token: Token | None = None) -> PredicateError:
        token = token or self.peek()
        return PredicateError(message, self.text, token.pos)

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def accept(self, op: str) -> Token | None:
        token = self.peek()
        if token.kind == "op" and token.value == op:
            self.i += 1
            return token
        return None

    def expect(self, op: str, what: str) -> Token:
        token = self.accept(op)
        if token is None:
            raise self.error(f"expected {op!r} {what}, found {self.describe(self.peek())}")
        return token

    @staticmethod
    def describe(token: Token) -> str:
        if token.kind == "eof":
            return "the end of the condition"
        if token.kind == "string":
            return "a string"
        return repr(token.value)

    def parse(self) -> Node:
        if self.peek().kind == "eof":
            raise self.error("the condition is empty")
        node = self.or_()
        if self.peek().kind != "eof":
            token = self.peek()
            hint = " (join conditions with && or ||)" if token.kind in ("ident", "string") else ""
            raise self.error(f"unexpected {self.describe(token)}{hint}")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while token := self.accept("||"):
            node = Binary(token.pos, "||", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.compare()
        while token := self.accept("&&"):
            node = Binary(token.pos, "&&", node, self.compare())
        return node

    def compare(self) -> Node:
        node = self.unary()
        token = self.accept("==") or self.accept("!=")
        if token:
            node = Binary(token.pos, token.value, node, self.unary())
            if (other := self.accept("==") or self.accept("!=")) is not None:
                raise self.error("comparisons do not chain: add parentheses", other)
        return node

    def unary(self) -> Node:
        if token := self.accept("!"):
            return Not(token.pos, self.unary())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if token := self.accept("["):
                key = self.or_()
                self.expect("]", "to close the index")
                node = Index(token.pos, node, key)
            elif self.accept("."):
                name = self.take()
                if name.kind != "ident":
                    raise self.error("expected a method name after '.'", name)
                self.expect("(", f"to call method {name.value}")
                node = self.method(name, node)
            else:
                return node

    def args(self) -> tuple[Node, ...]:
        args: list[Node] = []
        if not self.accept(")"):
            while True:
                args.append(self.or_())
                if self.accept(")"):
                    break
                self.expect(",", "or ')' between arguments")
        return tuple(args)

    def method(self, name: Token, receiver: Node) -> Node:
        if name.value not in METHODS:
            raise self.error(
                f"unknown method {name.value}{did_you_mean(name.value, METHODS)}", name
            )
        return Call(name.pos, "." + name.value, (receiver, *self.args()))

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "string":
            return Literal(token.pos, token.value)
        if token.kind == "op" and token.value == "(":
            node = self.or_()
            self.expect(")", "to close the parenthesis")
            return node
        if token.kind != "ident":
            self.i -= 1
            raise self.error(f"expected a value, found {self.describe(token)}")
        parts = [token]
        while (
            self.peek().kind == "op"
            and self.peek().value == "."
            and self.tokens[self.i + 1].kind == "ident"
        ):
            self.i += 1
            parts.append(self.take())
        name = ".".join(p.value for p in parts)
        if self.accept("("):
            if name in FUNCTIONS:
                return Call(token.pos, name, self.args())
            prefix = ".".join(p.value for p in parts[:-1])
            namespaced = any(f.startswith(prefix + ".") for f in FUNCTIONS)
            if len(parts) > 1 and not namespaced:
                return self.method(parts[-1], Var(token.pos, prefix))
            raise self.error(f"unknown function {name}{did_you_mean(name, FUNCTIONS)}", token)
        if name in _CONSTANTS:
            return Literal(token.pos, _CONSTANTS[name])
        return Var(token.pos, name)


def parse(text: str) -> Node:
    """The syntax tree of a condition; PredicateError carries the column of a mistake."""
    return _Parser(text).parse()
