"""Notification state handlers: callback_factory and slack_notifier against a local webhook."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

import headwater
from headwater import Flow, task
from headwater.engine.state import Failed, Running, Success
from headwater.utilities.notifications import (
    callback_factory,
    slack_message_formatter,
    slack_notifier,
)


@dataclass
class Webhook:
    """A local HTTP server standing in for Slack; records each request."""

    url: str
    status: list[int]
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(url="", status=[200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hook.requests.append((self.path, json.loads(body or b"{}")))
            self.send_response(hook.status[0])
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    # A short poll interval keeps shutdown() (which waits for one poll) fast.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Tracked:
    name = "load"


def test_callback_factory_calls_only_when_checked() -> None:
    seen: list[tuple[str, str]] = []
    handler = callback_factory(
        lambda obj, state: seen.append((obj.name, type(state).__name__)),
        lambda state: state.is_failed(),
    )
    running, failed = Running(), Failed("boom")
    assert handler(Tracked(), running, failed) is failed
    assert handler(Tracked(), Failed(), running) is running
    assert seen == [("load", "Failed")]
    with pytest.raises(TypeError, match="two callables"):
        callback_factory(print, None)  # type: ignore[arg-type]


def test_slack_notifier_posts_the_state(webhook: Webhook) -> None:
    failed = Failed("Task failed", result=RuntimeError("warehouse unavailable"))
    with headwater.context(secrets={"SLACK_WEBHOOK_URL": webhook.url}):
        assert slack_notifier(Tracked(), Running(), failed) is failed
    [(path, body)] = webhook.requests
    assert path == "/hook"
    [attachment] = body["attachments"]
    assert attachment["title"] == "Failed"
    assert attachment["color"] == Failed.color
    assert "'load' is now in a Failed state" in attachment["text"]
    assert "RuntimeError('warehouse unavailable')" in attachment["fields"][0]["value"]


def test_slack_notifier_is_curried_and_filters(webhook: Webhook) -> None:
    only_failed = slack_notifier(only_states=[Failed])
    not_success = slack_notifier(ignore_states=[Success], webhook_secret="MY_HOOK")
    with headwater.context(secrets={"SLACK_WEBHOOK_URL": webhook.url, "MY_HOOK": webhook.url}):
        only_failed(Tracked(), Running(), Success())
        only_failed(Tracked(), Running(), Running())
        not_success(Tracked(), Running(), Success())
        assert webhook.requests == []
        only_failed(Tracked(), Running(), Failed("x"))
        not_success(Tracked(), Running(), Running("started"))
    assert [body["attachments"][0]["title"] for _, body in webhook.requests] == [
        "Failed",
        "Running",
    ]
    with pytest.raises(TypeError, match="tracked_obj, old_state, new_state"):
        slack_notifier(Tracked(), Running())  # type: ignore[call-overload]


def test_slack_notifier_errors_name_the_secret_not_the_url(webhook: Webhook) -> None:
    with pytest.raises(ValueError, match="SLACK_WEBHOOK_URL' was not found"):
        slack_notifier(Tracked(), Running(), Failed())
    webhook.status[0] = 404
    with headwater.context(secrets={"SLACK_WEBHOOK_URL": webhook.url}):
        with pytest.raises(ValueError, match="answered HTTP 404") as refused:
            slack_notifier(Tracked(), Running(), Failed())
    assert webhook.url not in str(refused.value)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with headwater.context(secrets={"SLACK_WEBHOOK_URL": f"http://127.0.0.1:{closed_port}/x"}):
        with pytest.raises(ValueError, match=r"Failed to send the Slack message .*ConnectError"):
            slack_notifier(Tracked(), Running(), Failed())
    with headwater.context(secrets={"SLACK_WEBHOOK_URL": 5}):
        with pytest.raises(ValueError, match="must hold the Slack webhook URL"):
            slack_notifier(Tracked(), Running(), Failed())


def test_slack_notifier_through_a_proxy(webhook: Webhook) -> None:
    # The local server acts as the proxy: it receives the absolute-form request line.
    proxy = webhook.url.removesuffix("/hook")
    target = "http://hooks.example.invalid/services/T0"
    with headwater.context(secrets={"SLACK_WEBHOOK_URL": target}):
        slack_notifier(Tracked(), Running(), Failed(), proxies={"http": proxy})
        slack_notifier(Tracked(), Running(), Failed(), proxies=proxy)
    assert [path for path, _ in webhook.requests] == [target, target]


def test_backend_info_fields() -> None:
    ctx = {"running_with_backend": True, "flow_run_id": "fr-1", "flow_run_name": "brave-owl"}
    with headwater.context(ctx):
        fields = slack_message_formatter(Tracked(), Success("done"))["attachments"][0]["fields"]
        assert [f["value"] for f in fields] == ["done", "fr-1", "brave-owl"]
        plain = slack_message_formatter(Tracked(), Success(), backend_info=False)
    assert [f["value"] for f in plain["attachments"][0]["fields"]] == ["(no message)"]


def test_in_a_flow(webhook: Webhook) -> None:
    @task(state_handlers=[slack_notifier(only_states=[Failed])])
    def load() -> None:
        raise RuntimeError("warehouse unavailable")

    with Flow("notify") as flow:
        load()
    state = flow.run(context={"secrets": {"SLACK_WEBHOOK_URL": webhook.url}})
    assert state.is_failed()
    assert len(webhook.requests) == 1
    assert "'load'" in webhook.requests[0][1]["text"]
