"""The public names of headwater.schedules, and that `import headwater` does not load it."""

from __future__ import annotations

import subprocess
import sys

import headwater.schedules as schedules
from headwater.schedules import adjustments, clocks, filters


def test_public_names() -> None:
    assert sorted(schedules.__all__) == [
        "CronSchedule",
        "IntervalSchedule",
        "RRuleSchedule",
        "Schedule",
        "adjustments",
        "clocks",
        "filters",
        "schedule_from_ref",
    ]
    assert set(clocks.__all__) == {
        "Clock",
        "ClockEvent",
        "CronClock",
        "DatesClock",
        "IntervalClock",
        "RRuleClock",
    }
    assert set(filters.__all__) >= {
        "on_datetime",
        "on_date",
        "at_time",
        "between_datetimes",
        "between_dates",
        "between_times",
        "is_weekday",
        "is_weekend",
        "is_month_end",
        "is_month_start",
        "is_day_of_week",
    }
    assert set(adjustments.__all__) >= {"add", "next_weekday"}
    for module in (schedules, clocks, filters, adjustments):
        for name in module.__all__:
            assert getattr(module, name) is not None


def test_import_headwater_leaves_schedules_and_croniter_unloaded() -> None:
    code = (
        "import sys, headwater\n"
        "loaded = [m for m in ('headwater.schedules', 'croniter', 'dateutil.rrule') "
        "if m in sys.modules]\n"
        "print(loaded)\n"
        "import headwater.schedules\n"
        "print('croniter' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "False"


def test_headwater_dot_schedules_works_after_a_bare_import() -> None:
    import headwater

    assert headwater.schedules is schedules
