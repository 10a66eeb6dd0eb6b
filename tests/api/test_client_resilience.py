"""The client across server restarts and with API keys (each test starts its own server)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from headwater import Flow
from headwater.client import Client
from headwater.engine.state import Running, Success
from headwater.exceptions import AuthorizationError
from headwater.testing import temporary_server
from support.waiting import wait_until


def test_event_stream_reconnects_from_its_cursor_across_a_server_restart() -> None:
    with temporary_server() as server:
        # Patient enough to ride out a restart on a busy machine.
        client = Client(api_url=server.api_url, retries=40)
        project = f"p-{uuid.uuid4().hex[:6]}"
        client.create_project(project)
        flow_id = client.register(Flow("restart-me"), project_name=project)
        run_id = client.create_flow_run(flow_id=flow_id)
        client.set_flow_run_state(run_id, Running())

        events: list[dict[str, Any]] = []
        errors: list[BaseException] = []

        def consume() -> None:
            try:
                with Client(api_url=server.api_url, retries=40) as reader:
                    events.extend(reader.stream_flow_run_events(run_id, logs=False))
            except BaseException as exc:  # surfaced by the assertion below
                errors.append(exc)

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        wait_until(lambda: len(events) >= 2 or errors, 30, what="the first events")
        server.restart()
        client.set_flow_run_state(run_id, Success())
        reader.join(90)
        assert not reader.is_alive(), "the stream did not end after the run finished"
        assert errors == []
        states = [e["data"]["state"]["type"] for e in events if e["event"] == "state"]
        assert states == ["Scheduled", "Running", "Success"]
        assert events[-1]["event"] == "end"
        client.close()


def test_api_key_is_sent_and_a_missing_key_is_an_authorization_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HEADWATER_API_KEY", raising=False)
    with temporary_server(api_key="sekrit") as server:
        with Client(api_url=server.api_url, api_key="", retries=0) as anonymous:
            assert anonymous.health()["status"] == "ok"  # health is open
            with pytest.raises(AuthorizationError) as info:
                anonymous.get_projects()
            assert info.value.status_code == 401
        with Client(api_url=server.api_url, api_key="wrong", retries=0) as wrong:
            with pytest.raises(AuthorizationError):
                wrong.get_projects()
        monkeypatch.setenv("HEADWATER_API_KEY", "sekrit")
        with Client(api_url=server.api_url) as keyed:
            keyed.create_project("keyed")
            assert [p["name"] for p in keyed.get_projects()] == ["keyed"]
