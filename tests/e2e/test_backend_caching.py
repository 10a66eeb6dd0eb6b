"""Output caching across agent runs: a real server and local agent (SQLite).

A task with ``cache_for`` reuses the newest unexpired Cached state its ``cache_validator``
accepts: from earlier runs of the same flow version, or, with a ``cache_key``, from any
flow sharing the key. Results are read back through the views, so a Cached run's result
is read from the run that stored it.
"""

from __future__ import annotations

import runpy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.testing import TemporaryServer, temporary_server
from headwater.testing_agent import temporary_agent, wait_for_flow_run_state

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

_FLOW = """
import uuid
from datetime import timedelta

from headwater import Flow, Parameter, task
from headwater.engine.cache_validators import all_inputs, all_parameters, never_use


@task(cache_for=timedelta(hours=1))
def stamp():
    return uuid.uuid4().hex


@task(cache_for=timedelta(hours=1), cache_validator=all_inputs)
def by_input(x):
    return [x, uuid.uuid4().hex]


@task(cache_for=timedelta(hours=1), cache_validator=all_parameters)
def by_param():
    return uuid.uuid4().hex


@task(cache_for=timedelta(hours=1), cache_key={key!r})
def keyed():
    return uuid.uuid4().hex


@task(cache_for=timedelta(hours=1), cache_validator=never_use)
def never():
    return uuid.uuid4().hex


@task(cache_for=timedelta(seconds=0))
def expired():
    return uuid.uuid4().hex


@task
def echo(value):
    return value


with Flow({name!r}) as flow:
    x = Parameter("x", default=1)
    echo(stamp())
    by_input(x)
    by_param()
    keyed()
    never()
    expired()
"""

_SLUGS = ("stamp-1", "by_input-1", "by_param-1", "keyed-1", "never-1", "expired-1", "echo-1")


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[TemporaryServer, Any]]:
    with temporary_server() as server, temporary_agent(server.api_url):
        from headwater.client import Client

        client = Client(api_server=server.api_url)
        client.create_project("caching")
        yield server, client


def _register(client: Any, tmp_path: Path, name: str, key: str) -> str:
    from headwater.storage import Local

    script = tmp_path / f"{name}.py"
    script.write_text(_FLOW.format(name=name, key=key))
    flow = runpy.run_path(str(script), run_name="cached_flow")["flow"]
    flow.storage = Local(path=str(script), stored_as_script=True)
    return str(client.register(flow, project_name="caching"))


def _run(client: Any, flow_id: str, x: int) -> dict[str, tuple[str, Any]]:
    """Run the flow once; per task slug, its final state type and result."""
    from headwater.backend import FlowRunView

    run_id = client.create_flow_run(flow_id=flow_id, parameters={"x": x})
    run = wait_for_flow_run_state(client, run_id, timeout=60)
    assert run["state_type"] == "Success", run["state_message"]
    view = FlowRunView.from_flow_run_id(run_id)
    out: dict[str, tuple[str, Any]] = {}
    for slug in _SLUGS:
        task_run = view.get_task_run(task_slug=slug)
        out[slug] = (type(task_run.state).__name__, task_run.get_result())
    return out


def test_cache_for_reuses_valid_cached_states_across_runs_and_flows(
    stack: tuple[TemporaryServer, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, client = stack
    monkeypatch.setenv("HEADWATER_API_URL", server.api_url)
    key = f"shared-{uuid.uuid4().hex[:8]}"
    flow_a = _register(client, tmp_path, "cached-a", key)

    first = _run(client, flow_a, x=1)
    # A cache_for task's own successful run already ends Cached (as in Prefect 1).
    assert first["stamp-1"][0] == "Cached"
    assert first["echo-1"] == ("Success", first["stamp-1"][1])

    second = _run(client, flow_a, x=2)
    assert second["stamp-1"] == first["stamp-1"]
    assert second["echo-1"][1] == first["stamp-1"][1], "downstream gets the cached value"
    assert second["by_input-1"][1][0] == 2 and second["by_input-1"] != first["by_input-1"]
    assert second["by_param-1"][1] != first["by_param-1"][1]
    assert second["keyed-1"] == first["keyed-1"]
    assert second["never-1"][1] != first["never-1"][1]
    assert second["expired-1"][1] != first["expired-1"][1]

    # Back to x=1: the newest Cached state (x=2) is refused, the first run's is reused.
    third = _run(client, flow_a, x=1)
    assert third["by_input-1"] == first["by_input-1"]
    assert third["by_param-1"] == first["by_param-1"]
    assert third["stamp-1"] == first["stamp-1"]

    # Another flow: only the task sharing the cache key reuses the first flow's value.
    flow_b = _register(client, tmp_path, "cached-b", key)
    other = _run(client, flow_b, x=1)
    assert other["keyed-1"] == ("Cached", first["keyed-1"][1])
    assert other["stamp-1"][1] != first["stamp-1"][1]
    assert other["by_input-1"][1] != first["by_input-1"][1]
