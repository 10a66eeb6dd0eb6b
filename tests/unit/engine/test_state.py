"""State classes: hierarchy predicates, results, equality, repr and the JSON form."""

from __future__ import annotations

import json
import timeit
from datetime import UTC, datetime, timedelta

import pytest

from headwater.engine import state as st
from headwater.engine.results import HeadwaterResult, LocalResult, NoResult, Result

ALL_STATES = [
    st.State,
    st.Pending,
    st.Scheduled,
    st.Paused,
    st.Resume,
    st.Retrying,
    st.Submitted,
    st.Queued,
    st.ClientFailed,
    st.Running,
    st.Cancelling,
    st.Finished,
    st.Success,
    st.Cached,
    st.Mapped,
    st.Skipped,
    st.Failed,
    st.TimedOut,
    st.TriggerFailed,
    st.ValidationFailed,
    st.Cancelled,
    st.Looped,
]

PREDICATES = {
    "is_pending": {
        "Pending", "Scheduled", "Paused", "Resume", "Retrying", "Submitted", "Queued",
        "ClientFailed",
    },
    "is_scheduled": {"Scheduled", "Paused", "Resume", "Retrying", "Queued"},
    "is_submitted": {"Submitted"},
    "is_queued": {"Queued"},
    "is_paused": {"Paused"},
    "is_running": {"Running", "Cancelling"},
    "is_cancelling": {"Cancelling"},
    "is_finished": {
        "Finished", "Success", "Cached", "Mapped", "Skipped", "Failed", "TimedOut",
        "TriggerFailed", "ValidationFailed", "Cancelled", "Looped",
    },
    "is_successful": {"Success", "Cached", "Mapped", "Skipped"},
    "is_failed": {"Failed", "TimedOut", "TriggerFailed", "ValidationFailed"},
    "is_skipped": {"Skipped"},
    "is_mapped": {"Mapped"},
    "is_cached": {"Cached"},
    "is_looped": {"Looped"},
    "is_retrying": {"Retrying"},
    "is_meta_state": {"Submitted", "Queued", "ClientFailed"},
}  # fmt: skip


@pytest.mark.parametrize("predicate", sorted(PREDICATES))
@pytest.mark.parametrize("cls", ALL_STATES, ids=lambda c: c.__name__)
def test_predicates_follow_the_hierarchy(cls: type[st.State], predicate: str) -> None:
    expected = cls.__name__ in PREDICATES[predicate]
    assert getattr(cls(), predicate)() is expected


def test_cancelled_is_finished_but_neither_successful_nor_failed() -> None:
    state = st.Cancelled("stopped")
    assert state.is_finished()
    assert not state.is_successful()
    assert not state.is_failed()


def test_default_result_is_no_result() -> None:
    state = st.Success()
    assert state._result is NoResult
    assert state.result is None
    assert state.message is None
    assert state.context == {}
    assert state.cached_inputs is None


def test_plain_result_is_wrapped_and_result_objects_are_kept() -> None:
    assert st.Success(result=5)._result == Result(5)
    assert st.Success(result=5).result == 5
    res = HeadwaterResult(value=3, location="3")
    state = st.Success(result=res)
    assert state._result is res
    state.result = 7
    assert type(state._result) is Result and state.result == 7
    state.result = res
    assert state._result is res


def test_repr_shows_type_and_message() -> None:
    assert repr(st.Success("all good")) == '<Success: "all good">'
    assert repr(st.Failed()) == "<Failed>"


def test_equality_by_type_message_and_result() -> None:
    assert st.Success("m", result=1) == st.Success("m", result=1)
    assert st.Success("m", result=1) != st.Success("m", result=2)
    assert st.Success("m", result=1) != st.Success("other", result=1)
    assert st.Success("m") != st.Cached("m")
    assert st.Success() != "Success"
    # states are hashable by identity, so they can be dict keys and set members
    a, b = st.Success(), st.Success()
    assert len({a, b}) == 2


def test_equality_with_values_that_have_no_truth_value() -> None:
    class Weird:
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("no comparison")

    assert st.Success(result=Weird()) != st.Success(result=Weird())


def test_scheduled_start_time_defaults_to_now_utc() -> None:
    before = datetime.now(UTC)
    state = st.Scheduled()
    assert state.start_time is not None
    assert before <= state.start_time <= datetime.now(UTC)
    assert state.start_time.tzinfo is not None


def test_paused_defaults_far_in_the_future() -> None:
    state = st.Paused()
    assert state.start_time is not None
    assert state.start_time > datetime.now(UTC) + timedelta(days=365)


def test_subclass_specific_attributes() -> None:
    assert st.Retrying(run_count=3).run_count == 3
    assert st.Looped(loop_count=2).loop_count == 2
    children = [st.Success(result=i) for i in range(3)]
    mapped = st.Mapped(map_states=children)
    assert mapped.map_states == children and mapped.n_map_states == 3
    assert st.Mapped(n_map_states=5).n_map_states == 5
    inner = st.Scheduled()
    assert st.Submitted(state=inner).state is inner
    queued = st.Queued(state=inner)
    assert queued.state is inner and queued.start_time is not None
    cached = st.Cached(cached_parameters={"x": 1}, hashed_inputs={"a": "h"})
    assert cached.cached_parameters == {"x": 1} and cached.hashed_inputs == {"a": "h"}


def test_children_and_parents() -> None:
    assert st.Failed in st.Finished.children()
    assert st.TimedOut in st.Finished.children()
    assert st.Retrying.parents()[:3] == [st.Scheduled, st.Pending, st.State]


@pytest.mark.parametrize("cls", ALL_STATES, ids=lambda c: c.__name__)
def test_serialize_round_trip_every_type(cls: type[st.State]) -> None:
    state = cls("a message", context={"tags": ["x"]})
    data = state.serialize()
    assert json.loads(json.dumps(data)) == data  # JSON-safe
    assert data["type"] == cls.__name__
    back = st.State.deserialize(data)
    assert type(back) is cls
    assert back.message == "a message"
    assert back.context == {"tags": ["x"]}
    assert back.result is None and back._result is NoResult


def test_serialize_fields_per_type() -> None:
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = st.Retrying("again", start_time=start, run_count=2).serialize()
    assert data["start_time"] == "2026-01-02T03:04:05+00:00"
    assert data["run_count"] == 2
    assert st.Looped(loop_count=4).serialize()["loop_count"] == 4
    assert st.Mapped(map_states=[st.Success()] * 3).serialize()["n_map_states"] == 3
    assert "start_time" not in st.Success().serialize()

    back = st.State.deserialize(st.Retrying("again", start_time=start, run_count=2).serialize())
    assert isinstance(back, st.Retrying)
    assert back.start_time == start and back.run_count == 2
    loop = st.State.deserialize({"type": "Looped", "loop_count": 4})
    assert isinstance(loop, st.Looped) and loop.loop_count == 4
    mapped = st.State.deserialize({"type": "Mapped", "n_map_states": 3})
    assert isinstance(mapped, st.Mapped) and mapped.n_map_states == 3


def test_meta_states_serialize_the_wrapped_state() -> None:
    inner = st.Scheduled("later")
    back = st.State.deserialize(st.Submitted("claimed", state=inner).serialize())
    assert isinstance(back, st.Submitted)
    assert isinstance(back.state, st.Scheduled) and back.state.message == "later"
    back_q = st.State.deserialize(st.Queued(state=None).serialize())
    assert isinstance(back_q, st.Queued) and back_q.state is None
    assert back_q.start_time is not None


def test_result_travels_as_a_reference(tmp_path: object) -> None:
    written = LocalResult(dir=str(tmp_path)).write({"big": "value"})
    data = st.Success("ok", result=written).serialize()
    assert data["result"] == {
        "type": "LocalResult",
        "location": written.location,
        "serializer": {"type": "PickleSerializer"},
        "dir": str(tmp_path),
    }
    back = st.State.deserialize(data)
    assert back.result is None  # the value is not in the JSON form
    assert back._result.location == written.location
    assert back.load_result().result == {"big": "value"}


def test_headwater_result_value_survives_the_json_form() -> None:
    state = st.Success(result=HeadwaterResult().write([1, 2]))
    back = st.State.deserialize(json.loads(json.dumps(state.serialize())))
    assert back._result.location == "[1, 2]"
    assert back.load_result().result == [1, 2]


def test_cached_inputs_round_trip() -> None:
    cached = {"x": HeadwaterResult().write(5)}
    back = st.State.deserialize(st.Retrying(cached_inputs=cached).serialize())
    assert back.cached_inputs is not None
    assert back.load_cached_results().cached_inputs == {"x": HeadwaterResult(5, "5")}


def test_deserialize_keeps_server_timestamp_and_ignores_unknown_keys() -> None:
    back = st.State.deserialize(
        {"type": "Running", "timestamp": "2026-11-23T20:00:00+00:00", "extra": [1]}
    )
    assert isinstance(back, st.Running)
    assert back.timestamp == datetime(2026, 11, 23, 20, tzinfo=UTC)
    assert back.message is None


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"type": "Nope"}, "unknown state type: 'Nope'"),
        ({}, "unknown state type: None"),
        ("Success", "must be a dict"),
        ({"type": "Scheduled", "start_time": "not a time"}, "start_time"),
        ({"type": "Retrying", "run_count": "two"}, "run_count"),
        ({"type": "Success", "context": [1]}, "context"),
        ({"type": "Success", "result": {"location": "x"}}, "invalid result reference"),
    ],
)
def test_deserialize_rejects_bad_input(data: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        st.State.deserialize(data)  # type: ignore[arg-type]


def test_construction_is_cheap() -> None:
    # the engine's budget is 100 us per task; a state must cost a small fraction of it
    per_call = min(timeit.repeat(lambda: st.Success("done", result=1), number=2000, repeat=3))
    assert per_call / 2000 < 10e-6


def test_serialize_makes_context_and_times_json_safe() -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    state = st.Scheduled(
        "m", start_time=naive, context={"tags": {"b", "a"}, "when": naive, "obj": object}
    )
    data = state.serialize()
    assert data["start_time"] == "2026-01-01T12:00:00+00:00"
    assert data["context"]["tags"] == ["a", "b"]
    assert data["context"]["when"] == "2026-01-01T12:00:00+00:00"
    assert isinstance(data["context"]["obj"], str)
    json.dumps(data)


def test_prefect1_meta_state_name() -> None:
    assert st._MetaState is st.MetaState


def test_missing_start_time_means_now_except_for_an_indefinite_pause() -> None:
    before = datetime.now(UTC)
    for type_name in ("Scheduled", "Retrying", "Resume", "Queued"):
        for data in ({"type": type_name}, {"type": type_name, "start_time": None}):
            back = st.State.deserialize(data)
            assert back.start_time is not None and back.start_time >= before  # type: ignore[attr-defined]
    paused = st.State.deserialize({"type": "Paused", "start_time": None})
    assert isinstance(paused, st.Paused) and paused.start_time is None
    default_pause = st.State.deserialize({"type": "Paused"})
    assert isinstance(default_pause, st.Paused) and default_pause.start_time is not None


def test_unknown_result_types_survive_a_round_trip() -> None:
    ref = {"type": "MyOwnResult", "location": "somewhere", "custom": 1}
    back = st.State.deserialize({"type": "Success", "message": "m", "result": ref})
    assert isinstance(back, st.Success) and back.result is None
    assert back.serialize()["result"] == ref
    with pytest.raises(ValueError, match="'MyOwnResult' is not known in this process"):
        back.load_result()
