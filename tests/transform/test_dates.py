"""Shifting single FHIR date values: precision kept, partial dates by their middle day."""
from __future__ import annotations

import pytest

from fhir_service.transform.dates import DateShiftError, date_part, shift


@pytest.mark.parametrize("value, days, expected", [
    ("2024-01-01", 31, "2024-02-01"),
    ("2024-01-01", -1, "2023-12-31"),
    ("2024-02-28", 1, "2024-02-29"),  # leap day exists
    ("2024-01-01T10:15:00+02:00", 30, "2024-01-31T10:15:00+02:00"),  # time and offset kept
    ("2024-01-01T23:59:59.123Z", 1, "2024-01-02T23:59:59.123Z"),  # instant precision kept
    ("2023-12", 60, "2024-02"),  # middle of December + 60 days is in February
    ("2023-12", 10, "2023-12"),  # a short shift leaves a month as it is
    ("2019", 20, "2019"),
    ("2019", 2357, "2025"),
    ("2019", -200, "2018"),
])
def test_shift_keeps_precision(value: str, days: int, expected: str) -> None:
    assert shift(value, days) == expected


def test_shift_refuses_what_is_not_a_date() -> None:
    with pytest.raises(DateShiftError):
        shift("yesterday", 1)
    with pytest.raises(DateShiftError):
        shift("2024-02-30", 1)


def test_date_part_only_for_full_precision() -> None:
    assert date_part("2024-03-04T05:06:07Z").isoformat() == "2024-03-04"
    assert date_part("2024-03") is None
