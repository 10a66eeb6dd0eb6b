"""flow.run() on a schedule: runs at each time with the clock's defaults; run_on_schedule."""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from headwater import Flow, Parameter, task
from headwater.schedules import Schedule, clocks

seen: list[tuple[Any, Any]] = []


@task
def record(region: str) -> str:
    from headwater import context

    seen.append((region, context.scheduled_start_time))
    return region


def build(schedule: Schedule) -> Flow:
    with Flow("every-fifth-second", schedule=schedule) as flow:
        record(Parameter("region", default="us"))
    return flow


def test_runs_at_each_scheduled_time_with_the_clock_defaults() -> None:
    seen.clear()
    start = datetime.now(UTC) + timedelta(seconds=0.2)
    schedule = Schedule(
        clocks=[
            clocks.IntervalClock(
                timedelta(seconds=0.2), start_date=start, parameter_defaults={"region": "eu"}
            )
        ]
    )
    began = _time.monotonic()
    state = build(schedule).run(_max_scheduled_runs=2)
    took = _time.monotonic() - began
    assert state.is_successful() and len(seen) == 2
    assert all(region == "eu" for region, _ in seen)
    first, second = (when for _, when in seen)
    assert first >= start and second > first
    assert (second - start) % timedelta(seconds=0.2) == timedelta(0)
    assert 0.2 <= took < 10  # it waited for the first time


def test_the_loop_ends_when_the_schedule_does() -> None:
    seen.clear()
    now = datetime.now(UTC)
    schedule = Schedule(clocks=[clocks.DatesClock([now + timedelta(seconds=0.05)])])
    state = build(schedule).run(parameters={"region": "ap"})
    assert state.is_successful() and [r for r, _ in seen] == ["ap"]


def test_run_on_schedule_false_runs_once_now() -> None:
    seen.clear()
    far = Schedule(clocks=[clocks.DatesClock([datetime(2100, 1, 1, tzinfo=UTC)])])
    state = build(far).run(run_on_schedule=False)
    assert state.is_successful() and [r for r, _ in seen] == ["us"]


def test_the_configuration_decides_when_the_argument_is_absent() -> None:
    from headwater.utilities.configuration import config

    seen.clear()
    far = Schedule(clocks=[clocks.DatesClock([datetime(2100, 1, 1, tzinfo=UTC)])])
    flows = config["flows"]
    assert flows["run_on_schedule"] is True
    flows["run_on_schedule"] = False
    try:
        assert build(far).run().is_successful() and len(seen) == 1
    finally:
        flows["run_on_schedule"] = True


def test_a_finished_schedule_is_an_error() -> None:
    past = Schedule(clocks=[clocks.DatesClock([datetime(2000, 1, 1, tzinfo=UTC)])])
    with pytest.raises(ValueError, match="its schedule has no upcoming times"):
        build(past).run()


def test_clock_defaults_for_unknown_parameters_are_an_error() -> None:
    soon = Schedule(
        clocks=[
            clocks.DatesClock(
                [datetime.now(UTC) + timedelta(seconds=0.05)], parameter_defaults={"nope": 1}
            )
        ]
    )
    with pytest.raises(ValueError, match="unexpected parameters: nope"):
        build(soon).run()
