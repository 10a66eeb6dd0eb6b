"""State signals: the states they carry and the mirror helper."""

from __future__ import annotations

import pytest

from headwater.engine import signals
from headwater.engine import state as st

PAIRS = [
    (signals.FAIL, st.Failed),
    (signals.TRIGGERFAIL, st.TriggerFailed),
    (signals.VALIDATIONFAIL, st.ValidationFailed),
    (signals.SUCCESS, st.Success),
    (signals.SKIP, st.Skipped),
    (signals.RETRY, st.Retrying),
    (signals.PAUSE, st.Paused),
    (signals.LOOP, st.Looped),
]


@pytest.mark.parametrize(("sig", "cls"), PAIRS, ids=lambda x: x.__name__)
def test_signal_carries_its_state(sig: type[signals.HeadwaterStateSignal], cls: type) -> None:
    exc = sig("the message")
    assert type(exc.state) is cls
    assert exc.state.message == "the message"
    assert exc.state.result is exc  # the result defaults to the signal itself
    assert str(exc) == "the message"


def test_signals_are_base_exceptions_not_exceptions() -> None:
    assert issubclass(signals.FAIL, BaseException)
    assert not issubclass(signals.FAIL, Exception)
    assert signals.ENGINESIGNAL is signals.HeadwaterStateSignal
    assert issubclass(signals.TRIGGERFAIL, signals.FAIL)
    assert issubclass(signals.VALIDATIONFAIL, signals.FAIL)
    with pytest.raises(signals.FAIL):
        try:
            raise signals.FAIL("x")
        except Exception:  # a task's broad handler must not swallow a signal
            pytest.fail("signal caught as Exception")


def test_explicit_result_and_state_kwargs() -> None:
    assert signals.SUCCESS("ok", result=42).state.result == 42
    retry = signals.RETRY("again", run_count=2)
    assert isinstance(retry.state, st.Retrying) and retry.state.run_count == 2
    loop = signals.LOOP("next", result={"i": 1}, loop_count=3)
    assert isinstance(loop.state, st.Looped)
    assert loop.state.result == {"i": 1} and loop.state.loop_count == 3
    assert signals.FAIL().state.message is None


@pytest.mark.parametrize(("sig", "cls"), PAIRS, ids=lambda x: x.__name__)
def test_signal_from_state_mirrors(sig: type, cls: type[st.State]) -> None:
    assert signals.signal_from_state(cls("m")) is sig


@pytest.mark.parametrize(
    "cls",
    [
        st.Cancelled, st.TimedOut, st.Cached, st.Mapped, st.Finished, st.Cancelling,
        st.Submitted, st.Queued, st.ClientFailed, st.Pending, st.Scheduled, st.Running,
        st.Resume,
    ],
    ids=lambda c: c.__name__,
)  # fmt: skip
def test_signal_from_state_without_match(cls: type[st.State]) -> None:
    state = cls("child ended")
    with pytest.raises(ValueError) as info:
        signals.signal_from_state(state)
    assert str(info.value) == f"no signal matches the provided state: {state!r}"


def test_signal_from_state_matches_by_name_for_deserialized_states() -> None:
    back = st.State.deserialize(st.Skipped("s").serialize())
    assert signals.signal_from_state(back) is signals.SKIP


def test_signals_pickle_with_their_state() -> None:
    import pickle

    import cloudpickle

    exc = signals.RETRY("again", run_count=2)
    back = pickle.loads(cloudpickle.dumps(exc))
    assert isinstance(back.state, st.Retrying) and back.state.run_count == 2
    assert back.state.result is back
