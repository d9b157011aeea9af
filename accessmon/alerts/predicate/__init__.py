"""Teleport's predicate language, as access_monitoring_rule conditions use it.

`contains_any(access_request.spec.roles, set("dba")) && access_request.spec.user != "x"`
is parsed once (`syntax`: tokenizer, recursive descent, a small AST), type-checked against the
variables the caller offers, then evaluated per request over a plain dict (`evaluator`). Pure
and dependency-free, so it is table-tested and a typo fails when a rule loads, not at 3 a.m.

Types are Teleport's: strings, sets of strings, dicts of sets (`user.traits`), booleans.
Lists given in a context are sets; a string is accepted where a set is compared against.
"""

from accessmon.alerts.predicate.evaluator import Predicate, compile_predicate, evaluate
from accessmon.alerts.predicate.functions import BOOL, DICT, FUNCTIONS, METHODS, SET, STRING
from accessmon.alerts.predicate.syntax import PredicateError, Token, parse, tokenize

__all__ = [
    "BOOL",
    "DICT",
    "FUNCTIONS",
    "METHODS",
    "SET",
    "STRING",
    "Predicate",
    "PredicateError",
    "Token",
    "compile_predicate",
    "evaluate",
    "parse",
    "tokenize",
]
