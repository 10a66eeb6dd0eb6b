"""State-change hooks through the API and the dispatcher, against a real HTTP receiver on
loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from _core_support import Api

from headwater.server.services.hooks import HookDispatcher
from support.waiting import wait_until_async


class Receiver:
    """An HTTP server on 127.0.0.1 that records POSTs and answers with set statuses."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                with receiver._lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    try:
        yield running
    finally:
        running.close()


async def _until(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    async def check() -> Any:
        value = predicate()
        return await value if inspect.isawaitable(value) else value

    return await wait_until_async(check, timeout=timeout, interval=0.05)


async def _count(api: Api, hook_id: str, count: int) -> bool:
    found = await api.call("GET", f"/hooks/{hook_id}/deliveries")
    return len([d for d in found if d["status"] != "pending"]) == count


async def _dispatcher(app: Any, **options: Any) -> HookDispatcher:
    dispatcher = HookDispatcher(app.state.db, retry_delay=0.05, timeout=5.0, **options)
    await dispatcher.start()
    return dispatcher


async def test_hooks_are_validated_listed_switched_and_deleted(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"name": "ops", "kind": "webhook", "url_env": "HEADWATER_HOOK_OPS"}
    unset = await api.call("POST", "/hooks", 422, json=body)
    assert "HEADWATER_HOOK_OPS is not set" in unset["detail"]
    monkeypatch.setenv("HEADWATER_HOOK_OPS", "http://127.0.0.1:9/never")
    bad_env = await api.call("POST", "/hooks", 422, json={**body, "url_env": "AWS_SECRET_KEY"})
    assert "HEADWATER_HOOK_" in bad_env["detail"]
    bad_state = await api.call("POST", "/hooks", 422, json={**body, "states": ["Exploded"]})
    assert "Exploded" in bad_state["detail"]
    await api.call("POST", "/hooks", 422, json={**body, "kind": "email"})
    hook = await api.call("POST", "/hooks", 201, json={**body, "states": ["Failed", "Failed"]})
    assert hook["configured"] is True and hook["states"] == ["Failed"]
    assert "url" not in hook and "http://" not in json.dumps(hook)
    assert "already exists" in (await api.call("POST", "/hooks", 409, json=body))["detail"]
    assert [h["name"] for h in await api.call("GET", "/hooks")] == ["ops"]
    assert (await api.call("GET", "/hooks/ops"))["id"] == hook["id"]
    off = await api.call("POST", f"/hooks/{hook['id']}/active", json={"active": False})
    assert off["active"] is False
    monkeypatch.delenv("HEADWATER_HOOK_OPS")
    assert (await api.call("GET", "/hooks/ops"))["configured"] is False
    await api.call("DELETE", "/hooks/ops", 204)
    await api.call("DELETE", "/hooks/ops", 404)
    await api.call("GET", f"/hooks/{hook['id']}/deliveries", 404)


async def test_a_hook_fires_once_per_matching_state_change(
    app: Any, api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_HOOK_URL", receiver.url + "/hook")
    monkeypatch.setenv("HEADWATER_HOOK_TOKEN", "s3cret")
    project = (await api.project())["name"]
    etl = await api.flow("etl", project_name=project)
    other = await api.flow("other", project_name=project)
    hook = await api.call(
        "POST",
        "/hooks",
        201,
        json={
            "name": "etl-watch",
            "kind": "webhook",
            "url_env": "HEADWATER_HOOK_URL",
            "token_env": "HEADWATER_HOOK_TOKEN",
            "flow_name": "etl",
            "project_name": project,
            "states": ["Running", "Success"],
        },
    )
    first = await _dispatcher(app)
    # A second dispatcher on the same database stands for a second server process.
    second = await _dispatcher(app)
    try:
        run = await api.run(flow_id=etl["id"])
        unrelated = await api.run(flow_id=other["id"])
        await api.set_state(unrelated["id"], "Running")
        await api.set_state(run["id"], "Submitted")
        await api.set_state(run["id"], "Running")
        await api.set_state(run["id"], "Success", state={"message": "all <done> & dusted"})

        async def both_sent() -> bool:
            found = await api.call("GET", f"/hooks/{hook['id']}/deliveries")
            return len(found) == 2 and all(d["status"] == "sent" for d in found)

        await _until(both_sent)
        for dispatcher in (first, second):
            await dispatcher.run_once()
    finally:
        await first.stop()
        await second.stop()
    assert len(receiver.requests) == 2
    bodies = [r["body"] for r in receiver.requests]
    assert [b["state"]["type"] for b in bodies] == ["Running", "Success"]
    assert {b["flow_run"]["id"] for b in bodies} == {run["id"]}
    assert bodies[1]["state"]["message"] == "all <done> & dusted"
    assert bodies[0]["hook"]["name"] == "etl-watch" and bodies[0]["event"] == "flow_run.state"
    assert receiver.requests[0]["path"] == "/hook"
    assert receiver.requests[0]["headers"]["Authorization"] == "Bearer s3cret"
    deliveries = await api.call("GET", f"/hooks/{hook['id']}/deliveries")
    assert sorted(d["state_version"] for d in deliveries) == [3, 4]
    assert all(d["attempts"] == 1 and d["response_status"] == 200 for d in deliveries)


async def test_hook_calls_retry_then_give_up_and_slack_messages_escape(
    app: Any, api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_HOOK_SLACK", receiver.url + "/slack")
    flow = await api.flow("<b>flow</b>")
    hook = await api.call(
        "POST",
        "/hooks",
        201,
        json={
            "name": "slack",
            "kind": "slack",
            "url_env": "HEADWATER_HOOK_SLACK",
            "states": ["Running", "Failed"],
        },
    )
    dispatcher = await _dispatcher(app, retries=2)
    try:
        receiver.statuses = [503, 500]  # two failures, then success
        run = await api.run(flow_id=flow["id"])
        await api.set_state(run["id"], "Running")

        async def finished(count: int) -> bool:
            found = await api.call("GET", f"/hooks/{hook['id']}/deliveries")
            return len(found) == count and all(d["status"] != "pending" for d in found)

        await _until(lambda: finished(1))
        receiver.statuses = [404]  # final at once
        await api.set_state(run["id"], "Failed")
        await _until(lambda: finished(2))
    finally:
        await dispatcher.stop()
    newest, oldest = await api.call("GET", f"/hooks/{hook['id']}/deliveries")
    assert (oldest["status"], oldest["attempts"], oldest["response_status"]) == ("sent", 3, 200)
    assert (newest["status"], newest["attempts"], newest["response_status"]) == ("failed", 1, 404)
    assert "HTTP 404" in newest["error"]
    assert len(receiver.requests) == 4
    text = receiver.requests[0]["body"]["text"]
    assert "&lt;b&gt;flow&lt;/b&gt;" in text and "<b>" not in text and "Running" in text


async def test_a_missing_variable_fails_the_delivery_without_calling(
    app: Any, api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_HOOK_GONE", receiver.url)
    flow = await api.flow()
    hook = await api.call(
        "POST",
        "/hooks",
        201,
        json={"name": "g", "kind": "webhook", "url_env": "HEADWATER_HOOK_GONE"},
    )
    monkeypatch.delenv("HEADWATER_HOOK_GONE")
    dispatcher = await _dispatcher(app)
    try:
        run = await api.run(flow_id=flow["id"])
        await api.set_state(run["id"], "Running")

        async def failed() -> list[dict[str, Any]]:
            found = await api.call("GET", f"/hooks/{hook['id']}/deliveries")
            return [d for d in found if d["status"] == "failed"]

        # The run's first state (Scheduled, at creation) and Running: no filter on states.
        await _until(lambda: _count(api, hook["id"], 2))
        deliveries = await failed()
    finally:
        await dispatcher.stop()
    assert sorted(d["state_type"] for d in deliveries) == ["Running", "Scheduled"]
    assert all("HEADWATER_HOOK_GONE is not set" in d["error"] for d in deliveries)
    assert receiver.requests == []


async def test_a_new_hook_ignores_older_states(
    app: Any, api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_HOOK_LATE", receiver.url)
    flow = await api.flow()
    dispatcher = await _dispatcher(app)
    try:
        run = await api.run(flow_id=flow["id"])
        await api.set_state(run["id"], "Running")
        hook = await api.call(
            "POST",
            "/hooks",
            201,
            json={"name": "late", "kind": "webhook", "url_env": "HEADWATER_HOOK_LATE"},
        )
        await api.set_state(run["id"], "Success")
        await _until(lambda: _count(api, hook["id"], 1))
        await dispatcher.run_once()
    finally:
        await dispatcher.stop()
    assert [r["body"]["state"]["type"] for r in receiver.requests] == ["Success"]


async def test_the_services_include_the_dispatcher_and_retention_only_when_asked(
    app: Any,
) -> None:
    from headwater.server.services import HookDispatcher, RetentionService, create_services

    settings = app.state.settings
    try:
        app.state.settings = settings.replace(start_services=True)
        kinds = [type(s) for s in create_services(app)]
        assert HookDispatcher in kinds and RetentionService not in kinds
        app.state.settings = settings.replace(start_services=True, retention_logs=86400.0)
        (retention,) = [s for s in create_services(app) if isinstance(s, RetentionService)]
        assert retention.ages == {"logs": 86400.0} and retention.batch_size == 200
    finally:
        app.state.settings = settings
