"""The synchronous :class:`Client`: every resource's methods over one HTTP session.

Contract:
    ``Client(api_url=None, api_key=None, timeout=30.0, retries=6)`` resolves its address and
    key as :mod:`headwater.client._config` says (``api_server`` is Prefect 1's name for
    ``api_url``). One client may be shared by threads; it never imports server code.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from headwater.client._base import HttpTransport, route
from headwater.client._config import resolve_api_key, resolve_api_url
from headwater.client._streaming import StreamsMixin
from headwater.client.agents import AgentsMixin
from headwater.client.artifacts import ArtifactsMixin
from headwater.client.concurrency_limits import ConcurrencyLimitsMixin
from headwater.client.flow_runs import FlowRunsMixin
from headwater.client.flows import FlowsMixin
from headwater.client.hooks import HooksMixin
from headwater.client.kv_store import KVStoreMixin
from headwater.client.logs import LogsMixin
from headwater.client.projects import ProjectsMixin
from headwater.client.results import ResultsMixin
from headwater.client.schedules import SchedulesMixin
from headwater.client.task_runs import TaskRunsMixin

__all__ = ["Client"]

_HEALTH = route("GET", "/health")


class Client(
    ProjectsMixin,
    FlowsMixin,
    SchedulesMixin,
    FlowRunsMixin,
    TaskRunsMixin,
    LogsMixin,
    AgentsMixin,
    ResultsMixin,
    StreamsMixin,
    ArtifactsMixin,
    KVStoreMixin,
    HooksMixin,
    ConcurrencyLimitsMixin,
):
    """Talks to a Headwater server's REST API.

    Args:
        api_url: the API root (default: ``HEADWATER_API_URL``, then
            ``config.server.api_url``, then ``http://127.0.0.1:4200/api``).
        api_key: sent as a bearer token (default: ``HEADWATER_API_KEY``, then
            ``config.server.api_key``).
        timeout: seconds for connect, read and write of ordinary requests; long-polls
            extend the read timeout beyond the time the server may hold them.
        retries: attempts after the first when the server cannot be reached.
        api_server: Prefect 1's name for ``api_url``.

    Example::

        from headwater import Client

        client = Client()
        flow_run_id = client.create_flow_run(flow_name="etl", project_name="demo")
    """

    def __init__(
        self,
        api_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        retries: int = 6,
        *,
        api_server: str | None = None,
    ) -> None:
        self.api_url = resolve_api_url(api_url or api_server)
        self.api_key = resolve_api_key(api_key)
        self._transport = HttpTransport(
            self.api_url, self.api_key, timeout=timeout, retries=retries
        )

    @property
    def api_server(self) -> str:
        """Prefect 1's name for :attr:`api_url`."""
        return self.api_url

    def health(self) -> dict[str, Any]:
        """The server's health document (``{status, version, database}``)."""
        result: dict[str, Any] = self._transport.json(_HEALTH)
        return result

    def close(self) -> None:
        """Release the connections (interrupts a stream blocked on a read)."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(api_url={self.api_url!r})"
