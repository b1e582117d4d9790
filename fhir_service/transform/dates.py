"""Shifting FHIR date, dateTime and instant values by whole days, keeping their precision.

- `YYYY-MM-DD` (and the date part of a dateTime/instant) moves by exactly `days`; the time of day and the
  offset are kept as written, so every interval between two full dates is unchanged.
- Partial dates cannot move by a number of days and stay partial. Rule chosen: the middle day of the period
  they denote (the 16th of a 31-day month, 2 July of a year) moves by `days`, and the result is cut back to
  the same precision. So a shift of a few days leaves `2019` alone, a shift of 60 days moves `2023-12` to
  `2024-02`, and the error against an exact shift is at most half the period (which the partial date
  could not resolve anyway). Order is preserved: shifting is monotone.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re

DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
DATE_TYPES = frozenset({"date", "dateTime", "instant"})


class DateShiftError(ValueError):
    """A value of a date type that is not a FHIR date (left as it is, reported)."""


def _middle(year: int, month: int | None) -> dt.date:
    if month is None:
        return dt.date(year, 7, 2)
    return dt.date(year, month, (calendar.monthrange(year, month)[1] + 1) // 2)


def shift(value: str, days: int) -> str:
    match = DATE_RE.match(value)
    if not match:
        raise DateShiftError(f"{value!r} is not a FHIR date")
    year, month, day = match.group(1), match.group(2), match.group(3)
    rest = value[match.end():]
    try:
        if day is not None:
            moved = dt.date(int(year), int(month), int(day)) + dt.timedelta(days=days)
            return moved.isoformat() + rest
        moved = _middle(int(year), int(month) if month else None) + dt.timedelta(days=days)
    except (ValueError, OverflowError) as exc:
        raise DateShiftError(f"{value!r} cannot be shifted by {days} days: {exc}") from None
    if month is not None:
        return f"{moved.year:04d}-{moved.month:02d}" + rest
    return f"{moved.year:04d}" + rest


def date_part(value: str) -> dt.date | None:
    """The calendar day of a full-precision date/dateTime/instant, else None."""
    match = DATE_RE.match(value)
    if not match or match.group(3) is None:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
