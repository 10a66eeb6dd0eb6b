"""Connection failures: bounded retries with backoff, then ServerUnavailable naming the URL."""

from __future__ import annotations

import socket
import time

import pytest

from headwater.client import Client
from headwater.exceptions import ServerUnavailable


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connection_refused_raises_server_unavailable_after_bounded_retries() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api"
    with Client(api_url=url, retries=3) as client:
        started = time.monotonic()
        with pytest.raises(ServerUnavailable, match=r"127\.0\.0\.1") as info:
            client.get_flow_run("abc")
        elapsed = time.monotonic() - started
    assert url in str(info.value)
    assert info.value.status_code is None
    # 0.1 + 0.2 + 0.4 s of backoff: retried, but bounded.
    assert 0.6 <= elapsed < 10


def test_non_idempotent_requests_are_also_retried_when_never_sent() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api"
    with Client(api_url=url, retries=1) as client, pytest.raises(ServerUnavailable):
        client.set_flow_run_state("abc", {"type": "Running"})


def test_no_retries_fails_at_once() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api"
    with Client(api_url=url, retries=0) as client:
        started = time.monotonic()
        with pytest.raises(ServerUnavailable):
            client.health()
        assert time.monotonic() - started < 5


def test_bad_arguments_are_refused_before_any_request() -> None:
    with Client(api_url="http://127.0.0.1:9/api", retries=0) as client:
        with pytest.raises(ValueError, match="flow_id, version_group_id or flow_name"):
            client.create_flow_run()
        with pytest.raises(TypeError, match="unknown filter"):
            client.query_flow_runs(colour="red")
        with pytest.raises(TypeError, match="State"):
            client.set_flow_run_state("abc", 42)
        with pytest.raises(ValueError, match="missing flow_run_id"):
            client.get_flow_run("")
