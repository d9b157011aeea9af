"""Type-checking a parsed condition against the fields offered, then evaluating it.

A condition that names an unknown field or mixes types fails in `compile_predicate`, when the
rule loads; `Predicate.evaluate` then answers it for each subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accessmon.alerts.predicate.functions import (
    BOOL,
    DICT,
    FUNCTIONS,
    METHODS,
    SET,
    STRING,
    as_set,
)
from accessmon.alerts.predicate.syntax import (
    Binary,
    Call,
    Index,
    Literal,
    Node,
    Not,
    PredicateError,
    Var,
    parse,
)
from accessmon.names import did_you_mean


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
            left, right = as_set(left), as_set(right)
        return (left == right) if node.op == "==" else (left != right)
    if isinstance(node, Index):
        target = _eval(node.target, context, text)
        return target.get(_eval(node.key, context, text), frozenset())
    if isinstance(node, Call):
        fn = METHODS[node.name[1:]] if node.name.startswith(".") else FUNCTIONS[node.name]
        args = [_eval(a, context, text) for a in node.args]
        if fn.params and fn.params[0] == SET and args and len(fn.params) > 1:
            args[0] = as_set(args[0])
        return fn.impl(*args)
    raise PredicateError(f"unsupported expression {node!r}", text, node.pos)  # pragma: no cover


def evaluate(text: str, context: Mapping[str, Any], variables: Mapping[str, str]) -> bool:
    """One-shot: compile `text` against `variables` and evaluate it over `context`."""
    return compile_predicate(text, variables).evaluate(context)
