"""FHIR date/dateTime/instant values as half-open ranges [low, high) of microseconds since 1970-01-01 UTC.

A FHIR date carries its own precision (`2020` is the whole year), and search prefixes compare ranges
(`eq` = the target lies within the search range, `sa` = it starts after it ends, ...). Storing every date as
such a range at write time makes every prefix one integer comparison, on SQLite and PostgreSQL alike.
Values without a time zone are read as UTC (documented server behaviour).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MIN_US = (datetime(1, 1, 1, tzinfo=timezone.utc) - EPOCH) // timedelta(microseconds=1)
MAX_US = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc) - EPOCH) // timedelta(microseconds=1) + 1

_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2})(?::(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


class DateFormatError(ValueError):
    """A string that is not a FHIR date, dateTime or instant."""


def _to_us(dt: datetime) -> int:
    return (dt - EPOCH) // timedelta(microseconds=1)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def date_range(text: str) -> tuple[int, int]:
    """The [low, high) range in microseconds that a FHIR date/dateTime/instant string denotes."""
    match = _DATE_RE.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise DateFormatError(f"not a FHIR date or dateTime: {text!r}")
    g = match.groupdict()
    tz = timezone.utc
    if g["tz"] and g["tz"] != "Z":
        sign = 1 if g["tz"][0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(g["tz"][1:3]), minutes=int(g["tz"][4:6])))
    try:
        year = int(g["y"])
        if g["m"] is None:
            low = datetime(year, 1, 1, tzinfo=tz)
            high = _safe(lambda: datetime(year + 1, 1, 1, tzinfo=tz))
        elif g["d"] is None:
            month = int(g["m"])
            low = datetime(year, month, 1, tzinfo=tz)
            ny, nm = _add_months(year, month, 1)
            high = _safe(lambda: datetime(ny, nm, 1, tzinfo=tz))
        elif g["H"] is None:
            low = datetime(year, int(g["m"]), int(g["d"]), tzinfo=tz)
            high = _safe(lambda: low + timedelta(days=1))
        else:
            if g["M"] is None:
                raise DateFormatError(f"a time needs hours and minutes: {text!r}")
            fraction = g["f"] or ""
            micro = int((fraction + "000000")[:6]) if fraction else 0
            low = datetime(year, int(g["m"]), int(g["d"]), int(g["H"]), int(g["M"]), int(g["S"] or 0), micro, tzinfo=tz)
            if g["S"] is None:
                step = timedelta(minutes=1)
            elif not fraction:
                step = timedelta(seconds=1)
            else:
                step = timedelta(microseconds=max(1, 10 ** (6 - min(len(fraction), 6))))
            high = _safe(lambda: low + step)
    except ValueError as exc:  # month 13, day 31 of February, hour 25 ...
        raise DateFormatError(f"not a valid date: {text!r} ({exc})") from None
    return _to_us(low), (MAX_US if high is None else _to_us(high))


def _safe(build):  # type: ignore[no-untyped-def]
    """The upper bound of a range at the end of year 9999 does not exist: None means 'open'."""
    try:
        return build()
    except (OverflowError, ValueError):
        return None


def now_us() -> int:
    return _to_us(datetime.now(timezone.utc))


def instant(us: int) -> str:
    """FHIR instant text (UTC, microseconds) for a microsecond timestamp."""
    dt = EPOCH + timedelta(microseconds=us)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def http_date(us: int) -> str:
    """RFC 7231 date for Last-Modified headers."""
    dt = EPOCH + timedelta(microseconds=us)
    return dt.strftime("%a, %d %b %Y %H:%M:%S GMT")
