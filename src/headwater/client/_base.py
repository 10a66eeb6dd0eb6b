"""The client's HTTP layer: routes, retries, authentication and error mapping.

Contract:
    Every request the client makes goes through :meth:`HttpTransport.call` with a
    :class:`Route` declared at import time by a resource module; :data:`ROUTES` lists them
    all, so a test can check each exists in the server's OpenAPI document.

    Retries: a request that never reached the server (connection refused, DNS, connect
    timeout) is retried for every method with exponential backoff
    (:func:`headwater.client.retries.backoff`: ``backoff`` doubling to ``max_backoff``,
    ``retries`` times); a request that may have reached it (read timeout, dropped
    connection, HTTP 502/503/504) is retried only when the route is idempotent. After the last attempt the client raises
    :class:`~headwater.exceptions.ServerUnavailable` naming the URL.

    Responses with status >= 400 become ``headwater.exceptions`` types: 404
    ``ObjectNotFound``, 401/403 ``AuthorizationError``, 409 ``ConflictError``, anything
    else ``ClientError``; the message is the server's readable ``detail``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from string import Formatter
from typing import Any
from urllib.parse import quote

# httpx's package init also loads its command-line tool (click, rich, pygments), about
# 40 ms that every flow-run process would pay for nothing. Hide that module while httpx
# loads (its init falls back to a stub), then unhide it so an explicit import still works.
_HIDE_HTTPX_CLI = "httpx" not in sys.modules and "httpx._main" not in sys.modules
if _HIDE_HTTPX_CLI:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]
try:
    import httpx
finally:
    if _HIDE_HTTPX_CLI and "httpx._main" in sys.modules and sys.modules["httpx._main"] is None:
        del sys.modules["httpx._main"]

from headwater.client.retries import backoff  # noqa: E402  (after httpx: it imports httpx too)
from headwater.exceptions import (  # noqa: E402
    AuthorizationError,
    ClientError,
    ConflictError,
    ObjectNotFound,
    ServerUnavailable,
)

__all__ = ["ROUTES", "HttpTransport", "Route", "error_from_response", "route"]

logger = logging.getLogger("headwater.client")

_IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE", "HEAD", "OPTIONS"})
_RETRY_STATUS = frozenset({502, 503, 504})


@dataclass(frozen=True)
class Route:
    """One API route the client calls.

    Attributes:
        method: HTTP method, upper case.
        path: path template under the API root, e.g. ``/flow-runs/{flow_run_id}``.
        idempotent: True when repeating the request cannot change the outcome, so it may
            be retried after a response was possibly lost.
    """

    method: str
    path: str
    idempotent: bool

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the path parameters."""
        return tuple(name for _, name, _, _ in Formatter().parse(self.path) if name)

    def format(self, values: Mapping[str, Any]) -> str:
        """The concrete path with each parameter URL-quoted."""
        missing = [name for name in self.fields if values.get(name) in (None, "")]
        if missing:
            raise ValueError(f"{self.method} {self.path}: missing {', '.join(missing)}")
        return self.path.format(**{k: _quote_segment(str(values[k])) for k in self.fields})


def _quote_segment(value: str) -> str:
    """``value`` as one URL path segment: ``/`` is escaped, and so are the dots of ``.``
    and ``..``, which URL normalisation would otherwise resolve away."""
    quoted = quote(value, safe="")
    if quoted in (".", ".."):
        return quoted.replace(".", "%2E")
    return quoted


#: Every route declared by the client's resource modules.
ROUTES: list[Route] = []


def route(method: str, path: str, *, idempotent: bool | None = None) -> Route:
    """Declare a route the client calls and record it in :data:`ROUTES`.

    Args:
        method: HTTP method.
        path: path template under the API root.
        idempotent: override the method's default (GET/PUT/DELETE are idempotent).
    """
    method = method.upper()
    declared = Route(
        method, path, method in _IDEMPOTENT_METHODS if idempotent is None else idempotent
    )
    ROUTES.append(declared)
    return declared


def _detail_text(detail: Any) -> str:
    """Flatten FastAPI's validation detail (a list of errors) into one readable line."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(x) for x in item.get("loc", ()) if x != "body")
                msg = str(item.get("msg", item))
                parts.append(f"{loc}: {msg}" if loc else msg)
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return json.dumps(detail) if detail is not None else ""


def error_from_response(response: httpx.Response) -> ClientError:
    """The exception for an error response (status >= 400).

    Args:
        response: the HTTP response.

    Returns:
        An instance of the ``headwater.exceptions`` type matching the status code,
        carrying ``status_code`` and the server's ``detail``.
    """
    code = response.status_code
    detail = ""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict) and "detail" in body:
        detail = _detail_text(body["detail"])
    if not detail:
        detail = response.text.strip()[:500] or response.reason_phrase or "request failed"
    request = response.request
    where = f"{request.method} {request.url.path}"
    message = f"{detail} (HTTP {code} from {where})"
    cls: type[ClientError]
    if code == 404:
        cls = ObjectNotFound
    elif code in (401, 403):
        cls = AuthorizationError
    elif code == 409:
        cls = ConflictError
    else:
        cls = ClientError
    return cls(message, status_code=code, detail=detail)


class HttpTransport:
    """A thread-safe httpx session bound to one server, with retries and error mapping.

    Args:
        api_url: the API root, e.g. ``http://127.0.0.1:4200/api``.
        api_key: sent as ``Authorization: Bearer <key>`` when given.
        timeout: default seconds for connect/read/write.
        retries: how many times a failed attempt is repeated (0: never).
        backoff: first retry delay in seconds; it doubles up to ``max_backoff``.
        max_backoff: the longest delay between two attempts.
    """

    def __init__(
        self,
        api_url: str,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        retries: int = 6,
        backoff: float = 0.1,
        max_backoff: float = 2.0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        headers = {"Accept": "application/json", "User-Agent": "headwater-client"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=self.api_url + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout),
            # A long-poll and a short request may run side by side from different threads.
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        )

    def close(self) -> None:
        """Close the connection pool; a stream blocked on a read is interrupted."""
        self._http.close()

    def _url(self, path: str) -> str:
        return path.lstrip("/")

    def _delays(self) -> Iterator[float]:
        return backoff(self.backoff, self.max_backoff, attempts=self.retries)

    def send(
        self,
        declared: Route,
        path_params: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> httpx.Response:
        """Send one request (retrying as the module contract says) and return the response.

        Error responses are returned, not raised; :meth:`call` raises them.
        """
        path = declared.format(path_params or {})
        query = _clean_params(params)
        delays = self._delays()
        last: Exception | None = None
        while True:
            try:
                response = self._http.request(
                    declared.method,
                    self._url(path),
                    params=query,
                    json=json_body,
                    content=content,
                    headers=dict(headers) if headers else None,
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                last = exc  # never reached the server: always safe to repeat
            except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError) as exc:
                if not declared.idempotent:
                    raise ServerUnavailable(
                        f"{declared.method} {self.api_url}{path} got no answer: {exc}"
                    ) from exc
                last = exc
            except httpx.TransportError as exc:
                last = exc
            else:
                if response.status_code in _RETRY_STATUS and declared.idempotent:
                    delay = next(delays, None)
                    if delay is None:
                        return response
                    response.close()
                    time.sleep(delay)
                    continue
                return response
            delay = next(delays, None)
            if delay is not None:
                logger.debug(
                    "%s %s failed (%s); retrying in %.1f s", declared.method, path, last, delay
                )
            if delay is None:
                raise ServerUnavailable(
                    f"Cannot reach the Headwater server at {self.api_url}: {last}"
                ) from last
            time.sleep(delay)

    def call(
        self,
        declared: Route,
        path_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Like :meth:`send`, but raise the mapped exception for an error response."""
        response = self.send(declared, path_params, **kwargs)
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def json(
        self,
        declared: Route,
        path_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call a route and decode its JSON body (None for an empty body)."""
        response = self.call(declared, path_params, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ClientError(
                f"{declared.method} {declared.path}: the server answered with invalid JSON",
                status_code=response.status_code,
            ) from exc

    def open_stream(
        self,
        declared: Route,
        path_params: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> Any:
        """A context manager streaming a response (errors raised before it is entered)."""
        path = declared.format(path_params or {})
        return self._http.stream(
            declared.method,
            self._url(path),
            params=_clean_params(params),
            headers=dict(headers) if headers else None,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )


def _clean_params(params: Mapping[str, Any] | None) -> httpx.QueryParams | None:
    """Query parameters without None values; lists repeat the key; bools are lowercase."""
    if not params:
        return None
    items: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple | set | frozenset) else [value]
        for item in values:
            if isinstance(item, bool):
                items.append((key, "true" if item else "false"))
            elif hasattr(item, "isoformat"):
                items.append((key, item.isoformat()))
            else:
                items.append((key, str(item)))
    return httpx.QueryParams(items)
