"""FHIRPath Date, DateTime and Time values as explicit components with a precision.

fhirpathpy keeps these as strings behind FP_DateTime/FP_Time and re-derives parts ad hoc; date arithmetic there
converts to UTC and loses the original offset, and it has no boundaries or precision(). This module parses the
literal form once into components, so arithmetic keeps the value's own offset and precision, and the
boundary functions (FHIRPath 2.0 lowBoundary/highBoundary) are simple to state.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal

from dateutil.relativedelta import relativedelta
from fhirpathpy.engine.nodes import FP_DateTime, FP_Time

_DATETIME_RE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?"
    r"(?:T(?:(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?(Z|[+-]\d{2}:\d{2})?)?$")
_TIME_RE = re.compile(r"^T?(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$")

#: FHIRPath precision (number of digits) per last present component.
DATE_PRECISIONS = {"year": 4, "month": 6, "day": 8, "hour": 10, "minute": 12, "second": 14, "millisecond": 17}
TIME_PRECISIONS = {"hour": 2, "minute": 4, "second": 6, "millisecond": 9}
_FIELDS = ("year", "month", "day", "hour", "minute", "second", "millisecond")

#: calendar-duration and UCUM time units -> the component they step.
DURATION_UNITS = {
    # UCUM 'a' and 'mo' are not calendar years/months (their lengths are averages): not usable here
    **{u: "year" for u in ("year", "years", "'year'", "'years'")},
    **{u: "month" for u in ("month", "months", "'month'", "'months'")},
    **{u: "week" for u in ("week", "weeks", "'wk'")},
    **{u: "day" for u in ("day", "days", "'d'")},
    **{u: "hour" for u in ("hour", "hours", "'h'")},
    **{u: "minute" for u in ("minute", "minutes", "'min'")},
    **{u: "second" for u in ("second", "seconds", "'s'")},
    **{u: "millisecond" for u in ("millisecond", "milliseconds", "'ms'")},
}
_SECONDS = {"week": Decimal(604800), "day": Decimal(86400), "hour": Decimal(3600), "minute": Decimal(60),
            "second": Decimal(1), "millisecond": Decimal("0.001")}


@dataclass(frozen=True)
class Temporal:
    """A partial date/time: components up to `unit` (the finest present), plus an optional offset."""

    kind: str  # "date", "dateTime" or "time"
    year: int = 0
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    millisecond: int | None = None
    tz: str | None = None  # "Z" or "+hh:mm"

    @property
    def unit(self) -> str:
        present = [f for f in _FIELDS if getattr(self, f) is not None]
        if self.kind == "time":
            present = [f for f in present if f not in ("year", "month", "day")]
        return present[-1]

    @property
    def precision(self) -> int:
        table = TIME_PRECISIONS if self.kind == "time" else DATE_PRECISIONS
        return table[self.unit]

    def render(self) -> str:
        """The FHIRPath literal text without '@'."""
        time = ""
        if self.hour is not None:
            time = f"{self.hour:02d}"
            if self.minute is not None:
                time += f":{self.minute:02d}"
                if self.second is not None:
                    time += f":{self.second:02d}"
                    if self.millisecond is not None:
                        time += f".{self.millisecond:03d}"
        if self.kind == "time":
            return time
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
            if self.day is not None:
                text += f"-{self.day:02d}"
        if time:
            text += "T" + time + (self.tz or "")
        return text

    def to_fp(self) -> FP_DateTime | FP_Time:
        return FP_Time(self.render()) if self.kind == "time" else FP_DateTime(self.render())


def _int(text: str | None) -> int | None:
    return int(text) if text is not None else None


def _millis(text: str | None) -> int | None:
    return int((text + "00")[:3]) if text is not None else None


def parse(text: str, kind_hint: str | None = None) -> Temporal | None:
    """Parse a FHIRPath/FHIR date, dateTime or time string (without '@'); None if it is none of them."""
    if text.startswith("@"):
        text = text[1:]
    if text.startswith("T") or kind_hint == "time":
        match = _TIME_RE.match(text)
        if not match:
            return None
        h, m, s, ms = match.groups()
        return Temporal("time", hour=int(h), minute=_int(m), second=_int(s), millisecond=_millis(ms))
    match = _DATETIME_RE.match(text)
    if not match:
        return None
    y, mo, d, h, mi, s, ms, tz = match.groups()
    kind = "dateTime" if "T" in text or kind_hint == "dateTime" else "date"
    return Temporal(kind, int(y), _int(mo), _int(d), _int(h), _int(mi), _int(s), _millis(ms), tz)


def from_value(value: object) -> Temporal | None:
    """A Temporal for an FP_DateTime/FP_Time (its original text) or None."""
    if isinstance(value, FP_Time):
        return parse(value.asStr if hasattr(value, "asStr") else str(value), "time")
    if isinstance(value, FP_DateTime):
        return parse(value.asStr)
    return None


def _offset(tz: str | None) -> timezone:
    if tz is None or tz == "Z":
        return timezone.utc
    sign = 1 if tz[0] == "+" else -1
    hours, minutes = int(tz[1:3]), int(tz[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


# ---------------------------------------------------------------------------------------------- arithmetic

def add(value: Temporal, amount: Decimal, unit_text: str) -> Temporal:
    """value + amount unit, keeping value's precision and offset (FHIRPath §6.6.1 date/time arithmetic).

    An amount in a unit finer than the value's precision is converted to that precision and truncated;
    years/months step the calendar (day clamped to the month's end).
    """
    step = DURATION_UNITS.get(unit_text)
    if step is None:
        raise ValueError(f"cannot add a quantity in {unit_text} to a date/time: a time unit is required")
    if value.kind == "time" and step in ("year", "month", "week", "day"):
        raise ValueError(f"cannot add {unit_text} to a time")
    precision_unit = value.unit
    whole = int(Decimal(amount).to_integral_value(ROUND_DOWN))  # decimal parts of durations are ignored
    if step in ("year", "month"):
        months = whole * (12 if step == "year" else 1)
        delta: timedelta | relativedelta = (relativedelta(years=int(months / 12)) if precision_unit == "year"
                                            else relativedelta(months=months))
    elif precision_unit in ("year", "month"):
        days = whole * _SECONDS[step] / _SECONDS["day"]
        delta = (relativedelta(years=int(days / 365)) if precision_unit == "year"
                 else relativedelta(months=int(days / 30)))
    else:
        seconds = whole * _SECONDS[step]
        unit_seconds = _SECONDS["week" if precision_unit == "week" else precision_unit]
        truncated = int(seconds / unit_seconds) * unit_seconds  # to the value's own precision
        delta = timedelta(milliseconds=int(truncated * 1000))
    base = datetime(value.year or 2000, value.month or 1, value.day or 1, value.hour or 0, value.minute or 0,
                    value.second or 0, (value.millisecond or 0) * 1000, tzinfo=_offset(value.tz))
    moved = base + delta
    fields = {f: getattr(moved, f) if getattr(value, f) is not None else None
              for f in ("year", "month", "day", "hour", "minute", "second")}
    millis = moved.microsecond // 1000 if value.millisecond is not None else None
    if value.kind == "time":
        fields.update(year=0, month=None, day=None)
    return replace(value, millisecond=millis, **fields)


# ---------------------------------------------------------------------------------------------- boundaries

def _valid_precision(value: Temporal, precision: int) -> bool:
    table = TIME_PRECISIONS if value.kind == "time" else DATE_PRECISIONS
    if value.kind == "date":
        return precision in (4, 6, 8)
    return precision in table.values()


def boundary(value: Temporal, precision: int | None, high: bool) -> Temporal | None:
    """lowBoundary/highBoundary of a partial date/time at `precision` digits (None: the finest)."""
    if precision is None:
        precision = 9 if value.kind == "time" else (8 if value.kind == "date" else 17)
    if not _valid_precision(value, precision):
        return None
    if value.kind != "time" and value.hour is not None and value.minute is None:
        value = replace(value, minute=0)  # "T08" is not legal FHIR: read it as 08:00
    table = TIME_PRECISIONS if value.kind == "time" else DATE_PRECISIONS
    keep = [f for f, p in table.items() if p <= precision]
    year = value.year
    month = value.month if value.month is not None else (12 if high else 1)
    day = value.day if value.day is not None else (calendar.monthrange(year, month)[1] if high else 1)
    hour = value.hour if value.hour is not None else (23 if high else 0)
    minute = value.minute if value.minute is not None else (59 if high else 0)
    second = value.second if value.second is not None else (59 if high else 0)
    milli = value.millisecond if value.millisecond is not None else (999 if high else 0)
    full = dict(year=year, month=month, day=day, hour=hour, minute=minute, second=second, millisecond=milli)
    parts = {f: (full[f] if f in keep else None) for f in _FIELDS if f in full}
    if value.kind == "time":
        parts.update(year=0, month=None, day=None)
        return Temporal("time", **parts)
    kind = "dateTime" if precision > 8 else "date"
    tz = None
    if kind == "dateTime":
        tz = value.tz if value.tz is not None else ("-12:00" if high else "+14:00")
    return Temporal(kind, tz=tz, **parts)


# ---------------------------------------------------------------------------------------------- comparison

def _components(value: Temporal, to_utc: bool) -> list[Decimal | int | None]:
    year, month, day, hour, minute = value.year, value.month, value.day, value.hour, value.minute
    if to_utc and value.hour is not None and value.tz is not None:
        moment = datetime(year or 2000, month or 1, day or 1, hour, minute or 0, tzinfo=_offset(value.tz))
        moment = moment.astimezone(timezone.utc)
        year, month, day, hour = moment.year, moment.month, moment.day, moment.hour
        minute = moment.minute if value.minute is not None else None
    second: Decimal | None = None
    if value.second is not None:
        second = Decimal(value.second) + Decimal(value.millisecond or 0) / 1000
    if value.kind == "time":
        return [hour, minute, second]
    return [year, month, day, hour, minute, second]


def compare(a: Temporal, b: Temporal) -> int | None:
    """-1/0/1, or None when the answer depends on precision one side lacks (FHIRPath §6.1.1 / §6.2).

    Components are compared from the most significant; seconds and milliseconds form one precision. Values with
    times are normalised to UTC when both carry an offset; if only one does, the result is unknown (None).
    """
    if (a.kind == "time") != (b.kind == "time"):
        raise ValueError("cannot compare a Time with a Date/DateTime")
    both_times = a.hour is not None and b.hour is not None
    if both_times and a.kind != "time" and (a.tz is None) != (b.tz is None):
        return None
    left, right = _components(a, both_times), _components(b, both_times)
    for x, y in zip(left, right):
        if x is None and y is None:
            return 0
        if x is None or y is None:
            return None
        if x != y:
            return -1 if x < y else 1
    return 0


def equivalent(a: Temporal, b: Temporal) -> bool:
    """`~`: same precision and equal (different precisions are simply not equivalent)."""
    if (a.kind == "time") != (b.kind == "time"):
        return False
    def level(value: Temporal) -> str:
        return "second" if value.unit == "millisecond" else value.unit

    try:
        return level(a) == level(b) and compare(a, b) == 0
    except ValueError:
        return False
