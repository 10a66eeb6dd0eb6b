"""Runaway-protection bookkeeping: load-failure streaks and spawn counts (pure logic, with
a controlled clock; the agent's use of it against a real server is in tests/e2e)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from headwater.agent._runaway import (
    LOAD_FAILURE_PREFIX,
    LoadFailures,
    SpawnStats,
    StatsReporter,
    is_load_failure,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _failed(message: str) -> dict[str, Any]:
    return {"state_type": "Failed", "state_message": message}


LOAD_FAILED = _failed(f"{LOAD_FAILURE_PREFIX}: FlowStorageError: module 'gone' is missing")


def test_the_prefix_is_what_the_flow_run_process_writes() -> None:
    import inspect

    from headwater.engine.backend import _main

    assert f'f"{LOAD_FAILURE_PREFIX}: ' in inspect.getsource(_main)


def test_is_load_failure() -> None:
    assert is_load_failure(LOAD_FAILED)
    assert is_load_failure(
        {"state_type": "Failed", "state": {"message": LOAD_FAILED["state_message"]}}
    )
    assert not is_load_failure(_failed("Some task failed"))
    assert not is_load_failure(
        {"state_type": "Success", "state_message": LOAD_FAILED["state_message"]}
    )
    assert not is_load_failure(None)


def test_refused_after_limit_failures_in_a_row_within_the_window() -> None:
    clock = Clock()
    failures = LoadFailures(limit=3, window=60.0, clock=clock)
    for _ in range(2):
        failures.record("flow-1", LOAD_FAILED)
        clock.now += 1
        assert failures.refusal("flow-1") is None
    failures.record("flow-1", LOAD_FAILED)
    message = failures.refusal("flow-1", "broken")
    assert message is not None
    assert message.startswith("Not started: flow 'broken' (flow id flow-1) failed to load 3 times")
    assert "within 60 s" in message and "module 'gone' is missing" in message
    assert failures.refused == 1
    # another flow version is unaffected
    assert failures.refusal("flow-2") is None
    # once the failures are older than the window, the version gets another attempt
    clock.now += 61
    assert failures.refusal("flow-1") is None


def test_a_successful_load_ends_the_streak() -> None:
    clock = Clock()
    failures = LoadFailures(limit=2, window=60.0, clock=clock)
    failures.record("f", LOAD_FAILED)
    failures.record("f", _failed("task 'x' failed"))  # the flow loaded; the run failed later
    failures.record("f", LOAD_FAILED)
    assert failures.refusal("f") is None
    failures.record("f", LOAD_FAILED)
    assert failures.refusal("f") is not None


def test_slow_failures_never_add_up() -> None:
    clock = Clock()
    failures = LoadFailures(limit=3, window=10.0, clock=clock)
    for _ in range(10):
        failures.record("f", LOAD_FAILED)
        clock.now += 6
        assert failures.refusal("f") is None


def test_limit_zero_never_refuses_and_bad_settings_are_errors() -> None:
    failures = LoadFailures(limit=0)
    for _ in range(5):
        failures.record("f", LOAD_FAILED)
    assert failures.refusal("f") is None
    with pytest.raises(ValueError, match="must not be negative"):
        LoadFailures(limit=-1)
    with pytest.raises(ValueError, match="must be positive"):
        LoadFailures(window=0)


def test_spawn_stats_count_live_processes_and_the_last_minute() -> None:
    clock = Clock()
    stats = SpawnStats(clock=clock)
    for _ in range(3):
        stats.started()
    stats.ended()
    assert stats.snapshot(max_concurrent=4) == {
        "live_processes": 2,
        "spawned": 3,
        "spawned_last_minute": 3,
        "max_concurrent": 4,
    }
    clock.now += 61
    stats.started()
    assert stats.snapshot()["spawned_last_minute"] == 1
    for _ in range(5):
        stats.ended()
    assert stats.live == 0


def test_reporter_sends_changes_and_warns_about_runaway_spawning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[dict[str, Any]] = []
    got = threading.Event()
    current = {"live_processes": 70, "spawned_last_minute": 75, "max_concurrent": None}

    def send(stats: dict[str, Any]) -> None:
        sent.append(dict(stats))
        got.set()

    reporter = StatsReporter(send, lambda: dict(current), interval=0.01, warn_rate=60)
    with caplog.at_level(logging.WARNING, logger="headwater.agent"):
        reporter.start()
        assert got.wait(10)
        reporter.stop()
        reporter.join(10)
    assert sent[0] == current
    # unchanged snapshots are not sent again (only the final one at stop)
    assert len(sent) <= 2
    warnings = [r.getMessage() for r in caplog.records if "in the last minute" in r.getMessage()]
    assert len(warnings) == 1
    assert "started 75 flow-run processes in the last minute (70 alive now" in warnings[0]
    assert "--max-concurrent" in warnings[0]
