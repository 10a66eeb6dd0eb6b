"""Backend runners against an in-memory stand-in for the client.

What the server does with the writes is covered end to end in tests/e2e; these tests pin
what the runners send: one task run per (slug, map index), the same id across retries,
every state in order, and a refused flow state stopping the run.
"""

from __future__ import annotations

import datetime
import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from headwater import Flow, task
from headwater.engine.backend._runners import BackendFlowRunner, RunRefused, use_client
from headwater.engine.state import Cancelled, State
from headwater.utilities.context import context


class RecordingClient:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.task_runs: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.task_states: dict[str, list[str]] = {}
        self.flow_states: list[str] = []
        self.refuse: set[str] = set()

    def get_or_create_task_run(
        self, flow_run_id: str, task_slug: str, map_index: int = -1, task_name: str | None = None
    ) -> dict[str, Any]:
        with self.lock:
            key = (flow_run_id, task_slug, map_index)
            if key not in self.task_runs:
                self.task_runs[key] = {"id": f"tr-{next(self.ids)}", "version": 0, "run_count": 0}
            return self.task_runs[key]

    def get_or_create_task_runs(
        self, flow_run_id: str, task_runs: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        # The bulk form the flow runner uses: same rows, with their keys.
        rows = []
        for key in task_runs:
            slug, index = key["task_slug"], key.get("map_index", -1)
            row = self.get_or_create_task_run(flow_run_id, slug, map_index=index)
            rows.append({**row, "task_slug": slug, "map_index": index})
        return rows

    def set_task_run_state(
        self, task_run_id: str, state: State | dict[str, Any], version: Any = None
    ) -> State | dict[str, Any]:
        # The client takes a State or its JSON form (the runner sends the JSON form, with
        # the cache details a Cached state carries).
        name = state["type"] if isinstance(state, dict) else type(state).__name__
        with self.lock:
            self.task_states.setdefault(task_run_id, []).append(name)
        return state

    def set_flow_run_state(self, flow_run_id: str, state: State, **kwargs: Any) -> State:
        name = type(state).__name__
        self.flow_states.append(name)
        if name in self.refuse:
            return Cancelled("Flow run is cancelled")
        return state


@pytest.fixture
def client() -> Iterator[RecordingClient]:
    fake = RecordingClient()
    use_client(fake)  # type: ignore[arg-type]
    yield fake


def _run(flow: Flow, client: RecordingClient) -> State:
    runner = BackendFlowRunner(flow, client=client, flow_run_id="fr-1")  # type: ignore[arg-type]
    return runner.run(context={"flow_run_id": "fr-1", "checkpointing": False})


def test_mapped_children_get_their_own_task_runs(client: RecordingClient) -> None:
    @task
    def numbers() -> list[int]:
        return [1, 2, 3]

    @task
    def double(x: int) -> tuple[int, Any, Any]:
        return 2 * x, context.get("task_run_id"), context.get("map_index")

    with Flow("mapped") as flow:
        doubled = double.map(numbers())

    state = _run(flow, client)
    assert state.is_successful()
    assert client.flow_states == ["Running", "Success"]
    indexes = sorted(i for (_, slug, i) in client.task_runs if slug == doubled.slug)
    assert indexes == [-1, 0, 1, 2]
    children = state.result[doubled].map_states
    for index, child in enumerate(children):
        value, task_run_id, map_index = child.result
        assert value == 2 * (index + 1)
        assert map_index == index
        assert task_run_id == client.task_runs[("fr-1", doubled.slug, index)]["id"]
    parent_id = client.task_runs[("fr-1", doubled.slug, -1)]["id"]
    assert client.task_states[parent_id][-1] == "Mapped"


def test_a_retried_task_keeps_its_task_run_id(client: RecordingClient) -> None:
    attempts: list[tuple[Any, Any]] = []

    @task(max_retries=1, retry_delay=datetime.timedelta(0))
    def flaky() -> int:
        attempts.append((context.get("task_run_id"), context.get("task_run_count")))
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")
        return 1

    with Flow("retries") as flow:
        flaky()

    assert _run(flow, client).is_successful()
    (first_id, first_count), (second_id, second_count) = attempts
    assert first_id == second_id
    assert (first_count, second_count) == (1, 2)
    assert client.task_states[first_id] == ["Running", "Failed", "Retrying", "Running", "Success"]


def test_a_refused_running_state_stops_the_run(client: RecordingClient) -> None:
    ran: list[int] = []

    @task
    def never() -> None:
        ran.append(1)

    with Flow("refused") as flow:
        never()

    client.refuse.add("Running")
    with pytest.raises(RunRefused, match="refused state Running"):
        _run(flow, client)
    assert ran == []
    assert client.task_runs == {}
