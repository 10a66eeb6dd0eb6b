"""Filters and adjustments as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from headwater.schedules import adjustments, filters


def dt(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_day_filters() -> None:
    assert filters.is_weekday(dt(2030, 1, 4)) and not filters.is_weekday(dt(2030, 1, 5))
    assert filters.is_weekend(dt(2030, 1, 6)) and not filters.is_weekend(dt(2030, 1, 7))
    assert filters.is_month_start(dt(2030, 2, 1)) and not filters.is_month_start(dt(2030, 2, 2))
    assert filters.is_month_end(dt(2028, 2, 29)) and not filters.is_month_end(dt(2030, 2, 27))
    assert filters.is_month_end(dt(2030, 12, 31))
    assert filters.is_day_of_week(0)(dt(2030, 1, 7))  # Monday
    assert not filters.is_day_of_week(6)(dt(2030, 1, 7))
    with pytest.raises(ValueError, match="day_of_week must be 0"):
        filters.is_day_of_week(7)


def test_point_filters() -> None:
    assert filters.on_datetime(dt(2030, 1, 1, 5))(dt(2030, 1, 1, 5))
    assert not filters.on_datetime(dt(2030, 1, 1, 5))(dt(2030, 1, 1, 6))
    assert filters.on_date(3, 15)(dt(2031, 3, 15, 8))
    assert filters.at_time(time(8, 30))(dt(2030, 1, 1, 8, 30))
    assert not filters.at_time(time(8, 30))(dt(2030, 1, 1, 8, 31))
    with pytest.raises(ValueError, match="day must be 1-30 for month 4"):
        filters.on_date(4, 31)
    with pytest.raises(TypeError, match="t must be a time"):
        filters.at_time("08:30")  # type: ignore[arg-type]


def test_range_filters_include_bounds_and_wrap() -> None:
    window = filters.between_datetimes(dt(2030, 1, 1), dt(2030, 1, 2))
    assert window(dt(2030, 1, 1)) and window(dt(2030, 1, 2)) and not window(dt(2030, 1, 3))
    night = filters.between_times(time(22), time(2))
    assert night(dt(2030, 1, 1, 23)) and night(dt(2030, 1, 1, 2)) and not night(dt(2030, 1, 1, 12))
    day = filters.between_times(time(9), time(17))
    assert day(dt(2030, 1, 1, 9)) and not day(dt(2030, 1, 1, 18))
    winter = filters.between_dates(12, 1, 1, 31)
    assert winter(dt(2030, 12, 5)) and winter(dt(2030, 1, 5)) and not winter(dt(2030, 6, 1))
    spring = filters.between_dates(3, 1, 5, 31)
    assert spring(dt(2030, 4, 1)) and not spring(dt(2030, 2, 28))
    assert repr(spring) == (
        "filters.between_dates(start_month=3, start_day=1, end_month=5, end_day=31)"
    )


def test_adjustments() -> None:
    assert adjustments.next_weekday(dt(2030, 1, 5, 9)) == dt(2030, 1, 7, 9)
    assert adjustments.next_weekday(dt(2030, 1, 4, 9)) == dt(2030, 1, 4, 9)
    assert adjustments.add(timedelta(minutes=5))(dt(2030, 1, 1)) == dt(2030, 1, 1, 0, 5)
    with pytest.raises(TypeError, match="interval must be a timedelta"):
        adjustments.add(5)  # type: ignore[arg-type]
