"""The functions and methods of Teleport's predicate language, with their types.

A table, as a dialect is data in sqlglot: the parser reads the names, the type checker the
parameter and result types, the evaluator the implementations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STRING, SET, DICT, BOOL = "string", "set", "dict", "bool"


@dataclass(frozen=True)
class Function:
    params: tuple[str, ...]  # types; the last repeats when variadic
    result: str | Callable[[list[str]], str]
    impl: Callable[..., Any]
    variadic: bool = False
    min_args: int | None = None


def as_set(value: Any) -> frozenset[str]:
    """Teleport reads a string as a one-element set."""
    return frozenset([value]) if isinstance(value, str) else value


def _same(types: list[str]) -> str:
    return types[0] if types else SET


FUNCTIONS: dict[str, Function] = {
    "set": Function((STRING,), SET, lambda *a: frozenset(a), variadic=True, min_args=0),
    "contains": Function((SET, STRING), BOOL, lambda s, x: x in s),
    "contains_all": Function((SET, SET), BOOL, lambda s, t: as_set(t) <= s),
    "contains_any": Function((SET, SET), BOOL, lambda s, t: bool(s & as_set(t))),
    "is_empty": Function((SET,), BOOL, lambda s: not s),
    "union": Function((SET,), SET, lambda *a: frozenset().union(*map(as_set, a)), variadic=True),
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
    "add": Function((SET, STRING), SET, lambda s, *a: as_set(s) | frozenset(a), variadic=True),
    "remove": Function((SET, STRING), SET, lambda s, *a: as_set(s) - frozenset(a), variadic=True),
}
