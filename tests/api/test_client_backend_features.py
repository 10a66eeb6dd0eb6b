"""The client and the user modules (``headwater.backend.kv_store``, ``artifacts``) against
a real temporary server, and their behaviour outside backend runs."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from headwater import Flow, task
from headwater.backend import artifacts as backend_artifacts
from headwater.backend import delete_key, get_key_value, list_keys, set_key_value
from headwater.client import Client
from headwater.exceptions import ClientError, ObjectNotFound
from headwater.testing import (
    TemporaryServer,
    postgres_available,
    temporary_postgres_database,
    temporary_server,
)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def hw_server(request: pytest.FixtureRequest) -> Iterator[TemporaryServer]:
    env = {"HEADWATER_HOOK_CLIENT_URL": "http://127.0.0.1:9/unused"}
    if request.param == "sqlite":
        with temporary_server(env=env) as server:
            yield server
        return
    if not postgres_available() and os.environ.get("CI") != "true":
        pytest.skip("PostgreSQL is not reachable")
    with (
        temporary_postgres_database() as url,
        temporary_server(database_url=url, env=env) as server,
    ):
        yield server


@pytest.fixture
def hw(hw_server: TemporaryServer) -> Iterator[Client]:
    with Client(api_url=hw_server.api_url, retries=2) as client:
        for key in client.list_keys():
            client.delete_key(key)
        yield client


def test_kv_store_functions_round_trip_odd_keys_and_values(hw: Client) -> None:
    values = {
        "plain": "text",
        "a/b/c": [1, 2.5, None, True],
        "with space": {"nested": {"x": "ü"}},
        "..": 0,
        ".": False,
        "%41": "percent",
        "?q=1&x#frag": "query-like",
        "ünï": None,
    }
    ids = {key: set_key_value(key, value, client=hw) for key, value in values.items()}
    for key, value in values.items():
        assert get_key_value(key, client=hw) == value
    assert list_keys(client=hw) == sorted(values)
    assert set_key_value("plain", "again", client=hw) == ids["plain"]
    assert delete_key("..", client=hw) is True
    with pytest.raises(ValueError, match=r"No value found for key '\.\.'"):
        get_key_value("..", client=hw)
    with pytest.raises(ValueError, match="nothing was deleted"):
        delete_key("..", client=hw)
    assert hw.delete_key("..") is False
    with pytest.raises(ObjectNotFound):
        hw.get_key_value("..")


def test_kv_store_refuses_bad_values_with_clear_errors(hw: Client) -> None:
    with pytest.raises(TypeError, match="JSON-serializable"):
        set_key_value("k", object(), client=hw)
    with pytest.raises(ValueError, match="NaN"):
        set_key_value("k", float("nan"), client=hw)
    with pytest.raises(ValueError, match="at most 10240 bytes"):
        set_key_value("k", "x" * 11_000, client=hw)
    with pytest.raises(ValueError, match="255"):
        set_key_value("k" * 300, 1, client=hw)
    with pytest.raises(ValueError, match="empty"):
        set_key_value("", 1, client=hw)
    with pytest.raises(TypeError, match="key must be a string"):
        get_key_value(3, client=hw)  # type: ignore[arg-type]
    assert hw.list_keys() == []


def test_artifact_and_hook_client_methods(hw: Client) -> None:
    project = "client-features"
    try:
        hw.create_project(project)
    except ClientError:
        pass

    @task
    def one() -> int:
        return 1

    with Flow("client-features-flow") as flow:
        one()
    flow_id = hw.register(flow, project_name=project)
    run_id = hw.create_flow_run(flow_id=flow_id)
    task_run = hw.get_or_create_task_run(run_id, "one-1")
    artifact_id = hw.create_task_run_artifact(task_run["id"], "link", {"link": "https://a"})
    run_level = hw.create_flow_run_artifact(run_id, "markdown", {"markdown": "*run*"})
    assert hw.update_task_run_artifact(artifact_id, {"link": "https://b"}) is True
    assert hw.get_artifact(artifact_id)["data"] == {"link": "https://b"}
    assert [a["id"] for a in hw.get_flow_run_artifacts(run_id)] == [artifact_id, run_level]
    assert [a["id"] for a in hw.get_task_run_artifacts(task_run["id"])] == [artifact_id]
    assert [a["id"] for a in hw.get_flow_run_artifacts(run_id, kind="markdown")] == [run_level]
    assert hw.delete_task_run_artifact(artifact_id) is True
    assert hw.delete_task_run_artifact(artifact_id) is False
    with pytest.raises(ObjectNotFound):
        hw.update_task_run_artifact(artifact_id, {"link": "x"})

    hook = hw.create_hook("client-hook", "slack", "HEADWATER_HOOK_CLIENT_URL", states=["Failed"])
    assert hook["configured"] is True and hook["states"] == ["Failed"]
    assert hw.set_hook_active("client-hook", False)["active"] is False
    assert [h["name"] for h in hw.get_hooks()] == ["client-hook"]
    assert hw.get_hook(hook["id"])["active"] is False
    assert hw.get_hook_deliveries("client-hook") == []
    with pytest.raises(ClientError, match="HEADWATER_HOOK_"):
        hw.create_hook("bad", "webhook", "PATH")
    assert hw.delete_hook("client-hook") is True
    assert hw.delete_hook("client-hook") is False


def test_outside_a_backend_run_artifacts_do_nothing(hw: Client) -> None:
    seen: list[object] = []

    @task
    def publish() -> None:
        artifact_id = backend_artifacts.create_link_artifact("https://example.com")
        seen.append(artifact_id)
        seen.append(backend_artifacts.create_markdown_artifact("# local"))
        backend_artifacts.update_link_artifact("unknown", "https://x")
        backend_artifacts.delete_artifact("unknown")

    with Flow("local-artifacts") as flow:
        publish()
    state = flow.run()
    assert state.is_successful()
    assert seen == [None, None]
    with pytest.raises(TypeError, match="link must be a string"):
        backend_artifacts.create_link_artifact(42)  # type: ignore[arg-type]
