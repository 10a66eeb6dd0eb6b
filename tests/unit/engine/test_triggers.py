"""Triggers: pass or raise the right signal for each mix of upstream states."""

from __future__ import annotations

import timeit
from typing import Any

import pytest

from headwater import triggers
from headwater.engine import signals
from headwater.engine import state as st


def ups(*states: st.State) -> dict[Any, st.State]:
    # triggers only look at the values; any hashable key stands in for an Edge
    return {i: s for i, s in enumerate(states)}


S, F, SK, C = st.Success(), st.Failed(), st.Skipped(), st.Cancelled()


def test_all_successful() -> None:
    assert triggers.all_successful(ups(S, SK, st.Mapped(), st.Cached()))
    assert triggers.all_successful({})
    with pytest.raises(signals.TRIGGERFAIL, match="all_successful"):
        triggers.all_successful(ups(S, F))
    with pytest.raises(signals.TRIGGERFAIL):
        triggers.all_successful(ups(C))


def test_all_finished_and_always_run() -> None:
    assert triggers.always_run is triggers.all_finished
    assert triggers.all_finished(ups(S, F, SK, C))
    with pytest.raises(signals.TRIGGERFAIL, match="all_finished"):
        triggers.all_finished(ups(S, st.Running()))


def test_manual_only() -> None:
    assert triggers.manual_only({})
    with pytest.raises(signals.PAUSE, match="manual_only"):
        triggers.manual_only(ups(S))


def test_all_failed() -> None:
    assert triggers.all_failed(ups(F, st.TimedOut(), st.TriggerFailed()))
    with pytest.raises(signals.TRIGGERFAIL, match="all_failed"):
        triggers.all_failed(ups(F, S))


def test_any_successful_and_any_failed() -> None:
    assert triggers.any_successful(ups(F, S))
    assert triggers.any_successful({})
    with pytest.raises(signals.TRIGGERFAIL, match="any_successful"):
        triggers.any_successful(ups(F, C))
    assert triggers.any_failed(ups(S, F))
    assert triggers.any_failed({})
    with pytest.raises(signals.TRIGGERFAIL, match="any_failed"):
        triggers.any_failed(ups(S, C))


def test_not_all_skipped() -> None:
    assert triggers.not_all_skipped(ups(SK, S))
    with pytest.raises(signals.SKIP):
        triggers.not_all_skipped(ups(SK, SK))
    with pytest.raises(signals.TRIGGERFAIL):
        triggers.not_all_skipped(ups(SK, F))


def test_some_successful_counts_and_fractions() -> None:
    assert triggers.some_successful(at_least=2)(ups(S, S, F))
    assert triggers.some_successful(at_most=1)(ups(S, F, F))
    assert triggers.some_successful()(ups(F, F))
    assert triggers.some_successful(at_least=0.5)(ups(S, F))
    with pytest.raises(signals.TRIGGERFAIL, match="some_successful"):
        triggers.some_successful(at_least=3)(ups(S, S, F))
    with pytest.raises(signals.TRIGGERFAIL):
        triggers.some_successful(at_most=0)(ups(S, F))
    with pytest.raises(signals.TRIGGERFAIL):
        triggers.some_successful(at_least=0.75)(ups(S, F))


def test_some_failed() -> None:
    assert triggers.some_failed(at_least=1, at_most=2)(ups(S, F, F))
    with pytest.raises(signals.TRIGGERFAIL, match="some_failed"):
        triggers.some_failed(at_least=1)(ups(S, S))
    assert triggers.some_failed(at_least=1)({})


@pytest.mark.parametrize("bad", [-1, "2", True])
def test_bounds_are_validated(bad: Any) -> None:
    with pytest.raises(ValueError, match="at_least"):
        triggers.some_successful(at_least=bad)
    with pytest.raises(ValueError, match="at_most"):
        triggers.some_failed(at_most=bad)


def test_trigger_check_is_cheap() -> None:
    states = ups(*[st.Success() for _ in range(5)])
    per_call = min(timeit.repeat(lambda: triggers.all_successful(states), number=2000, repeat=3))
    assert per_call / 2000 < 10e-6
