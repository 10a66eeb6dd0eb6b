"""ServerResult shares one client per process: across threads, renewed after a fork or a
change of the configured server."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from headwater.engine.backend import _server_result as _server
from headwater.engine.results import ServerResult


def test_one_client_per_process_across_results_and_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEADWATER_API_URL", "http://127.0.0.1:1/api")
    first = ServerResult()._client()
    assert ServerResult()._client() is first
    seen: list[Any] = []
    threads = [
        threading.Thread(target=lambda: seen.append(ServerResult()._client())) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(seen) == 8 and all(client is first for client in seen)
    assert first.api_url == "http://127.0.0.1:1/api"


def test_a_new_process_or_server_gets_a_new_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_API_URL", "http://127.0.0.1:1/api")
    first = _server._shared_client()
    real_pid = _server.os.getpid()
    monkeypatch.setattr(_server.os, "getpid", lambda: real_pid + 100_000)
    forked = _server._shared_client()
    assert forked is not first
    assert _server._shared_client() is forked
    monkeypatch.setenv("HEADWATER_API_URL", "http://127.0.0.1:2/api")
    moved = _server._shared_client()
    assert moved is not forked and moved.api_url == "http://127.0.0.1:2/api"
