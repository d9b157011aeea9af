"""The time window of a query: Teleport's `--days N`, or an explicit date range."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from accessmon.errors import AccessmonError

#: No audit event predates the Unix epoch; a window reaches at most a century (a report's
#: trend also reads the window before it, which must stay a valid date).
MIN_DATE = dt.date(1970, 1, 1)
MAX_DAYS = 36525


@dataclass(frozen=True)
class Window:
    """Inclusive range of partition dates (`event_date`), both UTC."""

    start: dt.date
    end: dt.date
    days: int | None = None

    @classmethod
    def last_days(cls, days: int, today: dt.date | None = None) -> Window:
        """Teleport's window: event_date from today-(N-1) through today."""
        if not isinstance(days, int) or days < 1:
            raise AccessmonError(f"--days must be a positive whole number, not {days!r}")
        if days > MAX_DAYS:
            raise AccessmonError(f"--days {days} is too many: the limit is {MAX_DAYS} (a century)")
        today = today or utc_today()
        return cls(today - dt.timedelta(days=days - 1), today, days)

    @classmethod
    def between(cls, start: dt.date | str, end: dt.date | str) -> Window:
        start, end = _date(start, "--from"), _date(end, "--to")
        if start > end:
            raise AccessmonError(f"--from {start} is after --to {end}")
        if (end - start).days + 1 > MAX_DAYS:
            raise AccessmonError(
                f"--from {start} --to {end} spans {(end - start).days + 1} days: "
                f"the limit is {MAX_DAYS} (a century)"
            )
        return cls(start, end)

    @classmethod
    def resolve(
        cls,
        days: int | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
    ) -> Window:
        """One window from the usual trio of options; --days and --from/--to exclude each other."""
        if start is not None or end is not None:
            if days is not None:
                raise AccessmonError("give either --days or --from/--to, not both")
            if start is None or end is None:
                raise AccessmonError("--from and --to go together")
            return cls.between(start, end)
        return cls.last_days(7 if days is None else days)

    def previous(self) -> Window:
        """The window of the same length just before this one, for trends."""
        length = (self.end - self.start).days + 1
        return Window(
            self.start - dt.timedelta(days=length), self.start - dt.timedelta(days=1), self.days
        )

    def label(self) -> str:
        return f"{self.days}d" if self.days else f"{self.start}_{self.end}"

    def describe(self) -> dict[str, object]:
        """The window as Teleport's audit events record it."""
        if self.days:
            return {"days": self.days}
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _date(value: dt.date | str, flag: str) -> dt.date:
    if isinstance(value, dt.date):
        date = value
    else:
        try:
            date = dt.date.fromisoformat(str(value))
        except ValueError:
            raise AccessmonError(f"{flag} must be a date like 2024-03-20, not {value!r}") from None
    if date < MIN_DATE:
        raise AccessmonError(f"{flag} {date} is before {MIN_DATE}: no audit event is that old")
    return date
