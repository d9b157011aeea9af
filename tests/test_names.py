"""Names that become file names, and the "did you mean" every unknown name gets."""

from __future__ import annotations

import pytest

from accessmon.errors import AccessmonError, InvalidName
from accessmon.names import check_name, did_you_mean


@pytest.mark.parametrize("name", ["a", "Weekly", "weekly-report_2.v1", "9lives", "x" * 128])
def test_safe_names_are_returned_as_they_are(name):
    assert check_name(name, "report") == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        ".hidden",
        "-flag",
        "_x",
        "a/b",
        "a\\b",
        "a b",
        "a*",
        "a?",
        "x\n",
        "x" * 129,
        "caf\u00e9",
        7,
        None,
        b"bytes",
    ],
)
def test_unsafe_names_are_refused_naming_what_they_were_for(name):
    with pytest.raises(InvalidName) as info:
        check_name(name, "rule")
    assert str(info.value).startswith(f"invalid rule name {name!r}: use letters, digits")
    assert isinstance(info.value, AccessmonError)


def test_did_you_mean_offers_the_closest_choices_in_order():
    assert did_you_mean("sesion_start", ["session_start", "exec", "session_end"]) == (
        " (did you mean session_start or session_end?)"
    )
    assert did_you_mean("exce", ("exec", "auth")) == " (did you mean exec?)"
    assert did_you_mean("exce", {"exec": 1, "auth": 2}) == " (did you mean exec?)"  # any iterable


def test_did_you_mean_is_empty_when_nothing_is_close():
    assert did_you_mean("zzz", ["exec", "auth"]) == ""
    assert did_you_mean("exec", []) == ""


def test_did_you_mean_offers_at_most_n():
    choices = ["user1", "user2", "user3", "user4"]
    assert did_you_mean("user", choices).count(" or ") == 2
    assert did_you_mean("user", choices, n=1).count(" or ") == 0
