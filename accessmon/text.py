"""How values look to an analyst, once for every front end and the reports: cell text in
Athena's style, escaped HTML tables and byte sizes."""

from __future__ import annotations

import datetime as dt
import decimal
import html
import math
import struct
from collections.abc import Iterable, Sequence
from typing import Any


def millis_text(moment: dt.datetime) -> str:
    """`2024-03-20 12:12:03.374`: a timestamp as Athena prints it, to the millisecond; the
    year has four digits (`0001-01-01 00:00:00.000`, common in real `expires` fields), where
    strftime's `%Y` gives `1`."""
    return (
        f"{date_text(moment)} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
        f".{moment.microsecond // 1000:03d}"
    )


def date_text(day: dt.date) -> str:
    """`0001-01-01`: a date as Athena prints it, the year in four digits."""
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


#: Zones Trino shows as `UTC` (checked on Trino 476).
UTC_ALIASES = frozenset({
    "UTC", "Etc/UTC", "GMT", "Z", "UCT", "Zulu", "Etc/GMT", "Universal", "Greenwich", "UT",
    "GMT0", "Etc/UCT", "Etc/Universal", "Etc/GMT0", "Etc/GMT+0", "GMT+0",
})  # fmt: skip


def zone_text(zone: object) -> str:
    """The zone as Trino prints it after a timestamp with time zone: its region name
    (`Europe/Berlin`, from a `tzinfo`'s key or an Arrow type's tz), `UTC` for UTC."""
    name = getattr(zone, "key", None) or getattr(zone, "zone", None) or str(zone)
    return "UTC" if name in UTC_ALIASES or name in ("+00:00", "utc") else name


def double_text(value: float, bits: int = 64) -> str:
    """A double (or with bits=32 a real) as Athena (Trino, in Java) prints it: `1.5`, `100.0`,
    `1.0E7`, `1.0E-4`, `NaN`, `Infinity`; the shortest digits that read back as the same
    double (as Python's repr has them) or the same 32-bit float (`0.1`, not the double's
    `0.10000000149011612`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    size = abs(value)
    shortest = decimal.Decimal(_digits(size, bits))
    if size == 0 or 1e-3 <= size < 1e7:
        plain = format(shortest.normalize(), "f")
        return sign + (plain if "." in plain else plain + ".0")
    digits = shortest.normalize().as_tuple()
    shown = "".join(map(str, digits.digits))
    exponent = len(shown) - 1 + int(digits.exponent)
    return f"{sign}{shown[0]}.{shown[1:] or '0'}E{exponent}"


def decimal_text(value: decimal.Decimal) -> str:
    """A decimal as Trino prints it: every digit of its scale, never an exponent
    (`0.0000001`, `3.50`), where str() gives `1E-7`."""
    return format(value, "f")


def _digits(size: float, bits: int) -> str:
    """The fewest significant digits, two at least (Java prints `d.d`, and picks the nearest
    two: `4.9E-324`, `1.4E-45`), that read back as the same double or 32-bit float."""
    if bits == 64:
        text = repr(size)
        return (
            text if len(decimal.Decimal(text).normalize().as_tuple().digits) > 1 else f"{size:.1e}"
        )
    exact = struct.unpack("f", struct.pack("f", size))[0]
    for places in range(1, 9):
        text = f"{size:.{places}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == exact:
            return text
    return repr(size)


def is_listlike(value: Any) -> bool:
    """A list, a tuple or a numpy array: what a DataFrame cell holds for an array column."""
    return isinstance(value, list | tuple) or getattr(value, "ndim", 0) > 0


def cell_text(value: Any, nested: bool = False) -> str:
    """A cell as the results table shows it, in Athena's text: timestamps to the millisecond,
    arrays `[a, NULL]`, maps `{a=1}` (a DataFrame holds them as (key, value) pairs), rows
    `{n=1, s=NULL}`; NULL is empty at the top."""
    if value is None or type(value).__name__ == "NaTType":
        return "NULL" if nested else ""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={cell_text(v, True)}" for k, v in value.items()) + "}"
    if is_listlike(value):
        items = list(value)
        if items and all(isinstance(i, tuple) and len(i) == 2 for i in items):  # a map
            return (
                "{"
                + ", ".join(f"{cell_text(k, True)}={cell_text(v, True)}" for k, v in items)
                + "}"
            )
        return "[" + ", ".join(cell_text(v, True) for v in items) + "]"
    if isinstance(value, float) and math.isnan(value):
        return "NaN" if nested else ""
    if isinstance(value, decimal.Decimal):
        return decimal_text(value)
    if isinstance(value, dt.datetime):
        return millis_text(value)
    if isinstance(value, dt.date):
        return date_text(value)
    return str(value)


def html_table(
    columns: Sequence[Any], rows: Iterable[Sequence[Any]], css_class: str | None = None
) -> str:
    """An escaped HTML table: the editor's page of results and the report's sections."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell_text(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    attr = f' class="{css_class}"' if css_class else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def human_bytes(n: int) -> str:
    """`3.0 MB`: bytes in the largest unit under 1024, as the Athena console shows them."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
