"""Teleport's predicate language, as access_monitoring_rule conditions use it.

`contains_any(access_request.spec.roles, set("dba")) && access_request.spec.user != "x"`
is parsed once (tokenizer, recursive descent, a small AST), type-checked against the
variables the caller offers, then evaluated per request over a plain dict. Pure and
dependency-free, so it is table-tested and a typo fails when a rule loads, not at 3 a.m.

Types are Teleport's: strings, sets of strings, dicts of sets (`user.traits`), booleans.
Lists given in a context are sets; a string is accepted where a set is compared against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from accessmon.errors import AccessmonError
from accessmon.names import did_you_mean

STRING, SET, DICT, BOOL = "string", "set", "dict", "bool"


class PredicateError(AccessmonError):
    """A condition that does not parse, names an unknown field, or mixes types."""

    def __init__(self, message: str, text: str = "", pos: int | None = None) -> None:
        self.pos = pos
        self.line: int | None = None
        self.column: int | None = None
        if pos is not None:
            before = text[:pos]
            self.line = before.count("\n") + 1
            self.column = pos - (before.rfind("\n") + 1) + 1
            where = f"column {self.column}"
            if "\n" in text.strip():
                where = f"line {self.line}, {where}"
            message = f"{where}: {message}"
        super().__init__(message)


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


# -- functions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    params: tuple[str, ...]  # types; the last repeats when variadic
    result: str | Callable[[list[str]], str]
    impl: Callable[..., Any]
    variadic: bool = False
    min_args: int | None = None


def _as_set(value: Any) -> frozenset[str]:
    return frozenset([value]) if isinstance(value, str) else value


def _same(types: list[str]) -> str:
    return types[0] if types else SET


FUNCTIONS: dict[str, Function] = {
    "set": Function((STRING,), SET, lambda *a: frozenset(a), variadic=True, min_args=0),
    "contains": Function((SET, STRING), BOOL, lambda s, x: x in s),
    "contains_all": Function((SET, SET), BOOL, lambda s, t: _as_set(t) <= s),
    "contains_any": Function((SET, SET), BOOL, lambda s, t: bool(s & _as_set(t))),
    "is_empty": Function((SET,), BOOL, lambda s: not s),
    "union": Function((SET,), SET, lambda *a: frozenset().union(*map(_as_set, a)), variadic=True),
    "strings.lower": Function(
        (SET,),
        _same,
        lambda s: s.lower() if isinstance(s, str) else frozenset(x.lower() for x in s),
    ),
    "strings.upper": Function(
        (SET,),
        _same,
        lambda s: s.upper() if isinstance(s, str) else frozenset(x.upper() for x in s),
    ),
}
#: `x.f(args)` is `f(x, args)` for these (Teleport's methods, plus the set functions).
METHODS: dict[str, Function] = {
    "contains": FUNCTIONS["contains"],
    "contains_all": FUNCTIONS["contains_all"],
    "contains_any": FUNCTIONS["contains_any"],
    "is_empty": FUNCTIONS["is_empty"],
    "add": Function((SET, STRING), SET, lambda s, *a: _as_set(s) | frozenset(a), variadic=True),
    "remove": Function((SET, STRING), SET, lambda s, *a: _as_set(s) - frozenset(a), variadic=True),
}
_CONSTANTS = {"true": True, "false": False}


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


# -- types and evaluation -----------------------------------------------------------------------


def _fits(actual: str, wanted: str, first: bool) -> bool:
    # Teleport coerces a string into a one-element set, except for the set being searched.
    return actual == wanted or (wanted == SET and actual == STRING and not first)


@dataclass(frozen=True)
class Predicate:
    """A parsed, type-checked condition; `evaluate(context)` answers it for one subject."""

    text: str
    tree: Node
    variables: frozenset[str]

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        return bool(_eval(self.tree, context, self.text))


def _type(node: Node, variables: Mapping[str, str], text: str) -> str:
    if isinstance(node, Literal):
        return BOOL if isinstance(node.value, bool) else STRING
    if isinstance(node, Var):
        if node.name not in variables:
            raise PredicateError(
                f"unknown field {node.name}{did_you_mean(node.name, variables)}; "
                f"known fields: {', '.join(sorted(variables))}",
                text,
                node.pos,
            )
        return variables[node.name]
    if isinstance(node, Not):
        if (t := _type(node.operand, variables, text)) != BOOL:
            raise PredicateError(f"'!' needs true or false, not a {t}", text, node.pos)
        return BOOL
    if isinstance(node, Binary):
        left, right = _type(node.left, variables, text), _type(node.right, variables, text)
        if node.op in ("&&", "||"):
            for side, t in ((node.left, left), (node.right, right)):
                if t != BOOL:
                    raise PredicateError(
                        f"{node.op} needs true or false on both sides, not a {t}", text, side.pos
                    )
            return BOOL
        if left != right and {left, right} != {STRING, SET}:
            raise PredicateError(f"cannot compare a {left} with a {right}", text, node.pos)
        if DICT in (left, right):
            raise PredicateError("cannot compare dicts: index them first", text, node.pos)
        return BOOL
    if isinstance(node, Index):
        target = _type(node.target, variables, text)
        if target != DICT:
            raise PredicateError(f"only dicts can be indexed, not a {target}", text, node.pos)
        if (key := _type(node.key, variables, text)) != STRING:
            raise PredicateError(f"a dict key must be a string, not a {key}", text, node.key.pos)
        return SET
    if isinstance(node, Call):
        method = node.name.startswith(".")
        fn = METHODS[node.name[1:]] if method else FUNCTIONS[node.name]
        label = f"method {node.name[1:]}" if method else f"{node.name}()"
        low = fn.min_args if fn.min_args is not None else len(fn.params)
        if len(node.args) < low or (len(node.args) > len(fn.params) and not fn.variadic):
            want = low - method
            phrase = f"at least {want}" if fn.variadic else str(want)
            raise PredicateError(
                f"{label} takes {phrase} argument{'s' * (want != 1)}, "
                f"got {len(node.args) - method}",
                text,
                node.pos,
            )
        types = []
        for i, arg in enumerate(node.args):
            wanted = fn.params[min(i, len(fn.params) - 1)]
            actual = _type(arg, variables, text)
            if not _fits(actual, wanted, first=i == 0 and len(fn.params) > 1):
                what = "the receiver" if method and i == 0 else f"argument {i + 1 - method}"
                raise PredicateError(
                    f"{label}: {what} must be a {wanted}, not a {actual}", text, arg.pos
                )
            types.append(actual)
        return fn.result(types) if callable(fn.result) else fn.result
    raise PredicateError(f"unsupported expression {node!r}", text, node.pos)  # pragma: no cover


def compile_predicate(text: str, variables: Mapping[str, str]) -> Predicate:
    """Parse and type-check `text`: unknown fields and mixed types fail here, with a column.

    `variables` maps each field path (e.g. `access_request.spec.roles`) to its type:
    "string", "set", "dict" (of sets) or "bool".
    """
    tree = parse(text)
    result = _type(tree, variables, text)
    if result != BOOL:
        raise PredicateError(f"the condition must be true or false, not a {result}", text, 0)
    return Predicate(text, tree, frozenset(_names(tree)))


def _names(node: Node) -> set[str]:
    if isinstance(node, Var):
        return {node.name}
    children: tuple[Node, ...] = ()
    if isinstance(node, Not):
        children = (node.operand,)
    elif isinstance(node, Binary):
        children = (node.left, node.right)
    elif isinstance(node, Index):
        children = (node.target, node.key)
    elif isinstance(node, Call):
        children = node.args
    return set().union(*(_names(c) for c in children)) if children else set()


def _value(value: Any) -> Any:
    if isinstance(value, list | tuple | set | frozenset):
        return frozenset(str(v) for v in value if v is not None)
    if isinstance(value, Mapping):
        return {
            str(k): _value(v if isinstance(v, list | tuple | set) else [v])
            for k, v in value.items()
        }
    return "" if value is None else value


def _eval(node: Node, context: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Var):
        if node.name not in context:
            raise PredicateError(f"no value for field {node.name}", text, node.pos)
        return _value(context[node.name])
    if isinstance(node, Not):
        return not _eval(node.operand, context, text)
    if isinstance(node, Binary):
        if node.op == "&&":
            return bool(_eval(node.left, context, text)) and bool(_eval(node.right, context, text))
        if node.op == "||":
            return bool(_eval(node.left, context, text)) or bool(_eval(node.right, context, text))
        left, right = _eval(node.left, context, text), _eval(node.right, context, text)
        if isinstance(left, frozenset) or isinstance(right, frozenset):
            left, right = _as_set(left), _as_set(right)
        return (left == right) if node.op == "==" else (left != right)
    if isinstance(node, Index):
        target = _eval(node.target, context, text)
        return target.get(_eval(node.key, context, text), frozenset())
    if isinstance(node, Call):
        fn = METHODS[node.name[1:]] if node.name.startswith(".") else FUNCTIONS[node.name]
        args = [_eval(a, context, text) for a in node.args]
        if fn.params and fn.params[0] == SET and args and len(fn.params) > 1:
            args[0] = _as_set(args[0])
        return fn.impl(*args)
    raise PredicateError(f"unsupported expression {node!r}", text, node.pos)  # pragma: no cover


def evaluate(text: str, context: Mapping[str, Any], variables: Mapping[str, str]) -> bool:
    """One-shot: compile `text` against `variables` and evaluate it over `context`."""
    return compile_predicate(text, variables).evaluate(context)
