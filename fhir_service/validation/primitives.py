"""FHIR R4 primitive types checked natively: JSON type, the spec's lexical regexes, real calendar dates, ranges.

Why native: primitives are most of the nodes of a resource; a regex and a calendar check in Python cost far less
than the FHIRPath the definitions carry, and give precise messages ("2023-02-30 is not a valid date").
Returns an error message or None.
"""
from __future__ import annotations

import calendar
import calendar
import re
from datetime import date, timedelta
from typing import Any

_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_TZ = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
REGEXES: dict[str, re.Pattern[str]] = {
    "date": re.compile(rf"{_YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?"),
    "dateTime": re.compile(
        rf"{_YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T{_TIME}{_TZ})?)?)?"),
    "instant": re.compile(rf"{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T{_TIME}{_TZ}"),
    "time": re.compile(_TIME),
    "code": re.compile(r"[^\s]+( [^\s]+)*"),
    "oid": re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+"),
    "id": re.compile(r"[A-Za-z0-9\-\.]{1,64}"),
    "uuid": re.compile(r"urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
    "base64Binary": re.compile(r"(\s*([0-9a-zA-Z\+/=]){4}\s*)+"),
    "uri": re.compile(r"\S*"),
    "url": re.compile(r"\S*"),
    "canonical": re.compile(r"\S*"),
}
STRING_TYPES = frozenset({
    "string", "uri", "url", "canonical", "base64Binary", "instant", "date", "dateTime", "time", "code", "oid", "id",
    "markdown", "uuid", "xhtml", "integer64",
})
HTML_TAG = re.compile(r"<(?:[A-Za-z][A-Za-z0-9\-]*(?:[\s/>]|$)|/[A-Za-z]|!--)")
INTEGER_TYPES = frozenset({"integer", "unsignedInt", "positiveInt"})
INT32_MIN, INT32_MAX = -2147483648, 2147483647
MAX_STRING = 1024 * 1024


def json_type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else type(value).__name__


def _calendar(text: str, kind: str) -> str | None:
    """Reject dates that match the regex but do not exist (2023-02-30, 2023-04-31)."""
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
        if day > calendar.monthrange(year, month)[1]:
            return f"The value '{text}' is not a valid {kind}: day {day} does not exist in {year}-{month:02d}"
    return None


ABSOLUTE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def check_primitive(type_code: str, value: Any) -> str | None:
    """The problem with `value` as a JSON primitive of FHIR type `type_code`, or None when it is fine."""
    if type_code == "boolean":
        if not isinstance(value, bool):
            return f"Error parsing JSON: the primitive value must be a boolean, not a {json_type_name(value)}"
        return None
    if type_code in INTEGER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float):
                return f"The value '{value}' is not a valid integer"
            return f"Error parsing JSON: the primitive value must be a number (integer), not a {json_type_name(value)}"
        if value < INT32_MIN or value > INT32_MAX:
            return f"The value '{value}' is outside the range of a 32-bit integer"
        if type_code == "positiveInt" and value <= 0:
            return f"The value '{value}' is not a valid positiveInt: it must be greater than zero"
        if type_code == "unsignedInt" and value < 0:
            return f"The value '{value}' is not a valid unsignedInt: it must be zero or more"
        return None
    if type_code == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"Error parsing JSON: the primitive value must be a number, not a {json_type_name(value)}"
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            return f"The value '{value}' is not a valid decimal"
        return None
    if not isinstance(value, str):
        return f"Error parsing JSON: the primitive value must be a string, not a {json_type_name(value)}"
    if value == "":
        return "@value cannot be empty"
    if len(value) > MAX_STRING:
        return f"The value is too long: {len(value)} characters (at most {MAX_STRING})"
    if type_code in ("string", "markdown"):
        if not value.strip():
            return "@value cannot be only whitespace" if type_code == "string" else None
        return None
    if type_code == "code":
        if value != value.strip():
            return f"The code '{value}' has leading or trailing whitespace"
    if type_code == "integer64":
        if not re.fullmatch(r"-?([0]|([1-9][0-9]*))", value):
            return f"The value '{value}' is not a valid integer64"
        return None
    regex = REGEXES.get(type_code)
    if regex is not None and not regex.fullmatch(value):
        if type_code in ("uri", "url", "canonical"):
            return f"URI values cannot have whitespace('{value}')"
        if type_code == "instant" and REGEXES["dateTime"].fullmatch(value):
            return f"The instant '{value}' must have a time and a timezone"
        if type_code == "dateTime" and "T" in value and not re.search(r"(Z|[+-]\d\d:\d\d)$", value):
            return f"The dateTime '{value}' has a time but no timezone"
        return f"The value '{value}' is not a valid {type_code}"
    if type_code in ("date", "dateTime", "instant"):
        return _calendar(value, type_code)
    if type_code == "base64Binary" and len(re.sub(r"\s", "", value)) % 4:
        return "The value is not valid base64 content"
    if type_code == "canonical" and not value.startswith("#") and not ABSOLUTE_URI.match(value):
        return f"Canonical URLs must be absolute URLs if they are not fragment references ({value})"
    if type_code in ("uri", "url", "canonical") and value.startswith("urn:"):
        if value.startswith("urn:oid:") and not REGEXES["oid"].fullmatch(value):
            return f"The value '{value}' is not a valid OID"
        if value.startswith("urn:uuid:") and not REGEXES["uuid"].fullmatch(value):
            return f"The value '{value}' is not a valid UUID"
    return None



DURATION_UNITS = {"a": "years", "mo": "months", "wk": "weeks", "d": "days", "h": "hours", "min": "minutes",
                  "s": "seconds"}


def duration_bound(limit: Any, sign: int, today: "date | None" = None) -> str | None:
    """minValueDuration / maxValueDuration on a date: the bound `today - duration` (sign -1, a minimum) or
    `today + duration` (sign +1, a maximum) as YYYY-MM-DD; None when `limit` is not a usable Duration."""
    if not isinstance(limit, dict) or not isinstance(limit.get("value"), (int, float)) \
            or isinstance(limit.get("value"), bool):
        return None
    unit = DURATION_UNITS.get(str(limit.get("code") or limit.get("unit")))
    if unit is None:
        return None
    base = today or date.today()
    amount = sign * limit["value"]
    if unit in ("years", "months"):
        months = base.month - 1 + int(round(amount * (12 if unit == "years" else 1)))
        year, month = base.year + months // 12, months % 12 + 1
        day = min(base.day, calendar.monthrange(year, month)[1]) if 1 <= year <= 9999 else base.day
        if not 1 <= year <= 9999:
            return None
        return date(year, month, day).isoformat()
    try:
        return (base + timedelta(**{unit: amount})).isoformat()
    except OverflowError:
        return None


def outside_duration(value: Any, limit: Any, sign: int, today: "date | None" = None) -> bool:
    """Whether a date/dateTime value lies before the minimum (sign -1) or after the maximum (sign +1) that a
    Duration relative to today sets; compared at the value's own precision."""
    bound = duration_bound(limit, sign, today)
    if bound is None or not isinstance(value, str) or not re.match(r"^\d{4}", value):
        return False
    day = value[:10]
    bound = bound[:len(day)]
    return day < bound if sign < 0 else day > bound
