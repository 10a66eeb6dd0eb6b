"""``flow.register()`` hands the flow to the client, against a real server process."""

from __future__ import annotations

import pytest

from headwater import Flow, Parameter, task
from headwater.testing import temporary_server


@task
def inc(x: int) -> int:
    return x + 1


@pytest.mark.e2e
def test_register_stores_the_serialized_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    from headwater.client import Client

    with Flow("registered") as flow:
        inc.map(inc.map(Parameter("xs", default=[1, 2])))
    with temporary_server() as server:
        monkeypatch.setenv("HEADWATER_API_URL", server.api_url)
        client = Client(api_url=server.api_url)
        client.create_project("core")
        flow_id = flow.register(project_name="core", labels=["a"], idempotency_key="k1")
        again = flow.register(project_name="core", labels=["a"], idempotency_key="k1")
        stored = client.get_flow(flow_id)
    assert again == flow_id
    assert stored["name"] == "registered" and stored["project_name"] == "core"
    assert sorted(t["slug"] for t in stored["tasks"]) == ["inc-1", "inc-2", "xs"]
    assert stored["parameters"][0]["name"] == "xs"
    assert stored["parameters"][0]["default"] == [1, 2]
    assert stored["serialized_flow"]["edges"] == flow.serialize()["edges"]
