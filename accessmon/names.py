"""Names: those that end up in file names (reports, rules, saved queries, their state and
locks), and the "did you mean" that every unknown name gets.

One rule, checked with `fullmatch` before any file work, so a name can never carry a `/`,
a `..`, a glob character or a trailing newline (`$` in a regex matches before one).
"""

from __future__ import annotations

import difflib
import re

from accessmon.errors import InvalidName

#: A letter or digit first (no `.`, `..` or hidden files), then letters, digits, `_ . -`.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
_NAME = re.compile(NAME_PATTERN)


def check_name(name: object, what: str) -> str:
    """`name` itself when it is a safe file name; else InvalidName naming `what` it was for."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidName(
            f"invalid {what} name {name!r}: use letters, digits, '_', '.' or '-', "
            "starting with a letter or digit, at most 128 characters"
        )
    return name


def did_you_mean(word: str, choices, n: int = 3) -> str:
    """` (did you mean x?)` for the closest choices, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(close) + "?)"
