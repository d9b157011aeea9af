"""The query window: Teleport's `--days N` (today included) or an inclusive date range, UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from accessmon.errors import AccessmonError
from accessmon.window import MAX_DAYS, MIN_DATE, Window, utc_today

D = dt.date


def test_last_days_ends_today_and_counts_today():
    window = Window.last_days(7, today=D(2024, 3, 20))
    assert (window.start, window.end, window.days) == (D(2024, 3, 14), D(2024, 3, 20), 7)
    assert Window.last_days(1, today=D(2024, 3, 20)).start == D(2024, 3, 20)


def test_last_days_defaults_to_the_utc_date():
    assert Window.last_days(1).end == utc_today() == dt.datetime.now(dt.UTC).date()


@pytest.mark.parametrize("days", [0, -1, 1.5, "7", None, False])
def test_days_must_be_a_positive_whole_number(days):
    with pytest.raises(AccessmonError, match="--days must be a positive whole number"):
        Window.last_days(days)


def test_days_are_capped_at_a_century():
    assert Window.last_days(MAX_DAYS, today=D(2024, 3, 20)).days == MAX_DAYS
    with pytest.raises(AccessmonError, match=f"--days {MAX_DAYS + 1} is too many"):
        Window.last_days(MAX_DAYS + 1)


def test_between_takes_dates_or_iso_strings_inclusively():
    window = Window.between("2024-03-01", D(2024, 3, 7))
    assert (window.start, window.end, window.days) == (D(2024, 3, 1), D(2024, 3, 7), None)
    assert Window.between("2024-03-01", "2024-03-01").start == D(2024, 3, 1)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2024-03-08", "2024-03-07", "--from 2024-03-08 is after --to 2024-03-07"),
        ("03/01/2024", "2024-03-07", "--from must be a date like 2024-03-20, not '03/01/2024'"),
        ("2024-03-01", "tomorrow", "--to must be a date like 2024-03-20, not 'tomorrow'"),
        ("2024-02-30", "2024-03-07", "--from must be a date"),
        ("1969-12-31", "2024-03-07", "--from 1969-12-31 is before 1970-01-01"),
        ("1970-01-01", "2070-01-01", f"spans 36526 days: the limit is {MAX_DAYS}"),
    ],
)
def test_impossible_ranges_name_the_flag(start, end, message):
    with pytest.raises(AccessmonError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Window.between(start, end)


def test_resolve_picks_days_or_the_range_and_defaults_to_seven_days():
    assert Window.resolve().days == 7
    assert Window.resolve(3).days == 3
    assert Window.resolve(None, "2024-03-01", "2024-03-02") == Window.between(
        "2024-03-01", "2024-03-02"
    )
    assert D(1970, 1, 1) == MIN_DATE


@pytest.mark.parametrize(
    ("days", "start", "end", "message"),
    [
        (3, "2024-03-01", "2024-03-02", "give either --days or --from/--to, not both"),
        (3, "2024-03-01", None, "give either --days or --from/--to, not both"),
        (None, "2024-03-01", None, "--from and --to go together"),
        (None, None, "2024-03-02", "--from and --to go together"),
    ],
)
def test_resolve_refuses_mixed_or_half_ranges(days, start, end, message):
    with pytest.raises(AccessmonError, match=message):
        Window.resolve(days, start, end)


def test_previous_is_the_same_length_just_before():
    window = Window.between("2024-03-08", "2024-03-14")
    assert window.previous() == Window(D(2024, 3, 1), D(2024, 3, 7))
    days = Window.last_days(7, today=D(2024, 3, 14))
    assert days.previous() == Window(D(2024, 3, 1), D(2024, 3, 7), 7)


def test_label_and_describe_say_how_the_window_was_asked_for():
    days = Window.last_days(30, today=D(2024, 3, 20))
    assert (days.label(), days.describe()) == ("30d", {"days": 30})
    window = Window.between("2024-03-01", "2024-03-07")
    assert window.label() == "2024-03-01_2024-03-07"
    assert window.describe() == {"from": "2024-03-01", "to": "2024-03-07"}


def test_windows_are_values():
    assert Window.between("2024-03-01", "2024-03-07") == Window(D(2024, 3, 1), D(2024, 3, 7))
    assert (
        len({Window.between("2024-03-01", "2024-03-07"), Window(D(2024, 3, 1), D(2024, 3, 7))}) == 1
    )
    with pytest.raises(AttributeError):
        Window.between("2024-03-01", "2024-03-07").start = D(2024, 1, 1)  # type: ignore[misc]
