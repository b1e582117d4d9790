"""FHIR dates become [low, high) ranges with the precision they were written with."""
from __future__ import annotations

import pytest

from fhir_service.store.dates import DateFormatError, date_range, instant

DAY = 86_400 * 1_000_000


def test_a_day_spans_24_hours() -> None:
    low, high = date_range("2020-01-02")
    assert high - low == DAY
    assert instant(low) == "2020-01-02T00:00:00.000000Z"


def test_year_and_month_precision() -> None:
    assert date_range("2020")[1] == date_range("2021")[0]
    assert date_range("2020-02")[1] == date_range("2020-03")[0]
    assert date_range("2020-12")[1] == date_range("2021-01")[0]


def test_time_zone_is_honoured_and_seconds_are_the_precision() -> None:
    low, high = date_range("2020-01-02T10:00:00+02:00")
    assert instant(low) == "2020-01-02T08:00:00.000000Z"
    assert high - low == 1_000_000


def test_fractional_seconds_set_a_finer_precision() -> None:
    low, high = date_range("2020-01-02T10:00:00.5Z")
    assert high - low == 100_000


@pytest.mark.parametrize("bad", ["2020-13", "2020-02-30", "20200101", "yesterday", "2020-01-02T10Z"])
def test_invalid_dates_are_rejected(bad: str) -> None:
    with pytest.raises(DateFormatError):
        date_range(bad)
