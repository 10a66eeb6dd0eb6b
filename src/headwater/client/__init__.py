"""``headwater.client``: the only way Headwater code talks to the server.

Contract:
    :class:`Client` offers the methods listed in the internal contracts (section 4) under
    Prefect 1's names. It speaks HTTP only and never imports ``headwater.server``. Errors
    are ``headwater.exceptions`` types; :data:`ROUTES` lists every ``(method, path)`` the
    client calls, for checking against the server's OpenAPI document. :class:`Secret`
    reads local secrets (Headwater's server keeps none).
"""

from __future__ import annotations

from headwater.client._base import ROUTES, Route
from headwater.client._client import Client
from headwater.client._config import DEFAULT_API_URL, resolve_api_key, resolve_api_url
from headwater.client._streaming import SSEParser, parse_sse
from headwater.client.flow_runs import FlowRunInfoResult
from headwater.client.secrets import Secret
from headwater.client.task_runs import TaskRunInfoResult

__all__ = [
    "DEFAULT_API_URL",
    "ROUTES",
    "Client",
    "FlowRunInfoResult",
    "Route",
    "SSEParser",
    "Secret",
    "TaskRunInfoResult",
    "parse_sse",
    "resolve_api_key",
    "resolve_api_url",
]
