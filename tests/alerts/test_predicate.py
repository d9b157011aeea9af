"""Teleport's predicate language: a table of conditions, true and false, and of mistakes."""

from __future__ import annotations

import pytest

from accessmon.alerts.predicate import (
    DICT,
    SET,
    STRING,
    PredicateError,
    compile_predicate,
    evaluate,
    parse,
    tokenize,
)
from accessmon.errors import AccessmonError

FIELDS = {
    "access_request.spec.roles": SET,
    "access_request.spec.user": STRING,
    "access_request.spec.reason": STRING,
    "access_request.spec.resource_ids": SET,
    "access_request.spec.request_id": STRING,
    "user.traits": DICT,
}
CONTEXT = {
    "access_request.spec.roles": ["dba", "access"],
    "access_request.spec.user": "alice",
    "access_request.spec.reason": 'incident "42"',
    "access_request.spec.resource_ids": ["/c/db/prod-pg"],
    "access_request.spec.request_id": "req-1",
    "user.traits": {"team": ["dba", "oncall"], "logins": "root"},
}
R, U = "access_request.spec.roles", "access_request.spec.user"

# condition, expected over CONTEXT
TABLE = [
    # == and != on strings
    (f'{U} == "alice"', True),
    (f'{U} == "bob"', False),
    (f'{U} != "bob"', True),
    (f'{U} != "alice"', False),
    ('"a" == "a"', True),
    # == and != on sets (order does not matter), and a string against a set
    (f'{R} == set("access", "dba")', True),
    (f'{R} == set("dba")', False),
    (f'{R} != set("dba")', True),
    (f'{R} != set("dba", "access")', False),
    ('set("x") == "x"', True),
    # booleans
    ("true", True),
    ("false", False),
    ("true == true", True),
    ("true != false", True),
    # !
    (f'!({U} == "bob")', True),
    (f'!({U} == "alice")', False),
    ("!false", True),
    ("!!true", True),
    # && and ||, and their precedence (&& binds tighter)
    (f'{U} == "alice" && contains({R}, "dba")', True),
    (f'{U} == "alice" && contains({R}, "admin")', False),
    (f'{U} == "bob" || contains({R}, "dba")', True),
    (f'{U} == "bob" || contains({R}, "admin")', False),
    ("true || false && false", True),
    ("(true || false) && false", False),
    ("false && true || true", True),
    # contains
    (f'contains({R}, "dba")', True),
    (f'contains({R}, "admin")', False),
    ('contains(access_request.spec.resource_ids, "/c/db/prod-pg")', True),
    ('contains(access_request.spec.resource_ids, "/c/db/other")', False),
    # contains_all: the first set holds every element of the second
    (f'contains_all({R}, set("dba", "access"))', True),
    (f'contains_all({R}, set("dba", "admin"))', False),
    (f"contains_all({R}, set())", True),
    (f'contains_all({R}, "dba")', True),
    ('contains_all(set("access"), access_request.spec.roles)', False),
    # contains_any
    (f'contains_any({R}, set("admin", "dba"))', True),
    (f'contains_any({R}, set("admin", "root"))', False),
    (f"contains_any({R}, set())", False),
    # set(...) and is_empty, union
    ("is_empty(set())", True),
    ('is_empty(set("x"))', False),
    (f'contains(union({R}, set("admin")), "admin")', True),
    # methods, as Teleport writes them
    (f'{R}.contains("dba")', True),
    (f'{R}.contains("admin")', False),
    (f'{R}.contains_any(set("dba"))', True),
    (f'{R}.add("admin").contains("admin")', True),
    (f'{R}.remove("dba").contains("dba")', False),
    # user.traits["k"], a missing trait is an empty set, a scalar trait a one-element set
    ('contains(user.traits["team"], "dba")', True),
    ('user.traits["team"].contains("web")', False),
    ('contains_any(user.traits["team"], set("dev", "oncall"))', True),
    ('is_empty(user.traits["nope"])', True),
    ('contains(user.traits["logins"], "root")', True),
    # strings with escapes and raw strings
    ('access_request.spec.reason == "incident \\"42\\""', True),
    ('access_request.spec.reason == `incident "42"`', True),
    ('"tab\\there" == "tab\there"', True),
    ('"\\u00e9" == "é"', True),
    # whitespace and newlines are free
    (f'\n  contains({R}, "dba") &&\n  {U} == "alice"\n', True),
    ('strings.lower("ABC") == "abc"', True),
]


@pytest.mark.parametrize(("condition", "expected"), TABLE)
def test_table(condition, expected):
    assert evaluate(condition, CONTEXT, FIELDS) is expected


# condition, (column, words the message holds)
ERRORS = [
    ("", (1, "empty")),
    ("   ", (4, "empty")),
    (f'{U} = "alice"', (26, "did you mean ==")),
    (f'{U} == "alice" & true', (37, "did you mean &&")),
    (f"{U} == 'alice'", (29, "double quotes")),
    (f'{U} == "alice', (29, "unterminated string")),
    ('contains(access_request.spec.roles, "x"', (40, "expected ',' or ')'")),
    ("(true", (6, "expected ')'")),
    ("true)", (5, "unexpected ')'")),
    ('true "x"', (6, "join conditions with && or ||")),
    ("&& true", (1, "expected a value")),
    ("true ==", (8, "expected a value, found the end")),
    ('"a" == "a" == "a"', (12, "do not chain")),
    ('"\\q" == "q"', (2, "invalid escape")),
    ("access_request.spec.role == set()", (1, "unknown field access_request.spec.role")),
    ("access_request.spec.role == set()", (1, "did you mean access_request.spec.roles")),
    ('contain(access_request.spec.roles, "x")', (1, "unknown function contain")),
    ('strings.lowr("X") == "x"', (1, "did you mean strings.lower")),
    (f'{R}.contain("x")', (27, "unknown method contain")),
    (f"{R} && true", (1, "needs true or false")),
    (f'contains({U}, "x")', (10, "must be a set, not a string")),
    (f"{R} == user.traits", (27, "cannot compare a set with a dict")),
    (f"contains({R})", (1, "takes 2 arguments, got 1")),
    (f"{R}.contains()", (27, "takes 1 argument, got 0")),
    (f'{U}["k"] == "x"', (25, "only dicts can be indexed")),
    ("user.traits[true] == set()", (13, "key must be a string")),
    (f'set("a", {R}) == set()', (10, "must be a string, not a set")),
    ("set()", (1, "must be true or false, not a set")),
    (f"!{U}", (1, "'!' needs true or false")),
    ("true == 1", (9, "unexpected character '1'")),
]


@pytest.mark.parametrize(("condition", "expected"), ERRORS)
def test_errors_name_the_column(condition, expected):
    column, words = expected
    with pytest.raises(PredicateError) as info:
        compile_predicate(condition, FIELDS)
    assert info.value.column == column, str(info.value)
    assert words in str(info.value)
    assert str(info.value).startswith(f"column {column}: ")
    assert isinstance(info.value, AccessmonError)


def test_multiline_errors_name_line_and_column():
    with pytest.raises(PredicateError, match=r"^line 2, column 3: unknown field nope"):
        compile_predicate('true &&\n  nope == "x"', FIELDS)


def test_unknown_field_lists_the_known_ones():
    with pytest.raises(PredicateError) as info:
        compile_predicate('resource.metadata.labels["env"] == "prod"', FIELDS)
    assert "known fields: access_request.spec.reason" in str(info.value)


def test_compiled_predicate_is_reusable_and_names_its_fields():
    predicate = compile_predicate(f'contains({R}, "dba") && user.traits["team"] == "x"', FIELDS)
    assert predicate.variables == {R, "user.traits"}
    assert predicate.evaluate(CONTEXT) is False
    assert predicate.evaluate({**CONTEXT, "user.traits": {"team": ["x"]}}) is True
    assert predicate.evaluate({**CONTEXT, R: []}) is False


def test_short_circuit_does_not_read_missing_fields():
    predicate = compile_predicate(f'false && {U} == "x"', FIELDS)
    assert predicate.evaluate({}) is False
    with pytest.raises(PredicateError, match="no value for field"):
        compile_predicate(f'true && {U} == "x"', FIELDS).evaluate({})


def test_tokens_and_tree():
    assert [t.value for t in tokenize('a.b["k"] != "v"')][:-1] == [
        "a", ".", "b", "[", "k", "]", "!=", "v",
    ]  # fmt: skip
    tree = parse('contains(a.b, "x") || !c')
    assert type(tree).__name__ == "Binary" and tree.op == "||"
