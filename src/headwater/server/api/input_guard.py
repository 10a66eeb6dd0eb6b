"""One guard at the edge of every route: input the server stores, it can always give back.

Contract:

- Every JSON request body (content type ``application/json``, ``+json`` or none) is read
  (never more than ``max_request_bytes``, even without a declared length) and parsed once
  here before any route sees it. It is refused with a 422 naming the field and the limit
  when it nests deeper than ``max_json_depth`` levels, when a text (value or key) holds a
  lone surrogate or a NUL character (neither SQLite's UTF-8 nor PostgreSQL's text can
  store them), when it holds ``NaN``/``Infinity`` (not JSON), or when it does not parse.
  Raw result uploads (``PUT .../result``) are bytes and pass untouched.
- The path and every query parameter are checked the same way: valid UTF-8 once
  percent-decoded, no NUL, each value at most ``max_query_chars`` characters.
- A refused request never reaches a route, so nothing of it is committed; because every
  stored JSON value is at most ``max_json_depth`` deep, every response that embeds it
  serialises, and one bad request cannot break list or read endpoints for everybody.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_MAX_JSON_DEPTH", "DEFAULT_MAX_QUERY_CHARS", "InputGuard", "check_json"]

#: Deepest accepted nesting of a JSON body (the body itself is level 1).
DEFAULT_MAX_JSON_DEPTH = 64
#: Longest accepted query-parameter value, in characters.
DEFAULT_MAX_QUERY_CHARS = 8192

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


class InputRefused(ValueError):
    """A request input breaks a limit; the message names the field and the limit.

    Args:
        message: The readable ``detail`` of the 422 answer.
        kind: The error's ``type`` in the answer's ``errors`` list, as request validation
            errors have one (``json_invalid`` for a body that does not parse).
    """

    def __init__(self, message: str, kind: str = "input_refused") -> None:
        super().__init__(message)
        self.kind = kind


def _where(path: list[str | int]) -> str:
    if not path:
        return "body"
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    if len(path) > 8:
        head = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[:6])
        text = f"{head.lstrip('.')}...(+{len(path) - 6} levels)"
    return text if len(text) <= 200 else text[:200] + "..."


def _text_problem(text: str) -> str | None:
    found = _BAD_TEXT.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000), which cannot be stored"
    return (
        f"contains a lone surrogate (\\u{ord(found.group()):04x}), which is not valid UTF-8 "
        "and cannot be stored"
    )


def check_json(value: Any, max_depth: int) -> None:
    """Raise :class:`InputRefused` if ``value`` breaks the depth or text rules.

    Args:
        value: A parsed JSON value.
        max_depth: Deepest accepted nesting (a scalar body has depth 1).
    """
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                raise InputRefused(f"{_where(path)}: the text {problem}.")
            continue
        if not isinstance(item, dict | list):
            continue
        if len(path) + 1 > max_depth:
            raise InputRefused(
                f"{_where(path)}: JSON is nested deeper than the limit of {max_depth} levels."
            )
        if isinstance(item, dict):
            for key, child in item.items():
                problem = _text_problem(key)
                if problem:
                    raise InputRefused(f"{_where(path)}: the key {key!r} {problem}.")
                stack.append((child, [*path, key]))
        else:
            stack.extend((child, [*path, i]) for i, child in enumerate(item))


def _no_constant(name: str) -> Any:
    raise InputRefused(f"body: {name} is not a JSON number.")


def parse_json_body(body: bytes, max_depth: int) -> Any:
    """Parse and check a JSON body; :class:`InputRefused` says what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputRefused(f"body: the request body is not valid UTF-8 ({exc.reason}).") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except InputRefused:
        raise
    except RecursionError:
        raise InputRefused(
            f"body: JSON is nested deeper than the limit of {max_depth} levels."
        ) from None
    except ValueError as exc:
        raise InputRefused(
            f"Invalid request: The request body is not valid JSON ({exc}).", kind="json_invalid"
        ) from None
    check_json(value, max_depth)
    return value


def _check_query(raw: bytes, max_chars: int) -> None:
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name_raw, _, value_raw = pair.partition(b"=")
        name_bytes = unquote_to_bytes(name_raw.replace(b"+", b" "))
        value_bytes = unquote_to_bytes(value_raw.replace(b"+", b" "))
        try:
            name = name_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise InputRefused("A query parameter name is not valid UTF-8.") from None
        label = f"query parameter {name[:100]!r}"
        try:
            value = value_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise InputRefused(f"The {label} is not valid UTF-8.") from None
        for text in (name, value):
            problem = _text_problem(text)
            if problem:
                raise InputRefused(f"The {label} {problem}.")
        if len(value) > max_chars:
            raise InputRefused(
                f"The {label} has {len(value)} characters; the limit is {max_chars}."
            )


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind: bytes = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return True  # FastAPI parses a body without a content type as JSON


class InputGuard:
    """ASGI middleware applying the contract above to every HTTP request.

    Args:
        app: The application.
        max_json_depth: Deepest accepted JSON nesting.
        max_request_bytes: Largest accepted JSON body (counted while reading).
        max_query_chars: Longest accepted query value.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
        max_request_bytes: int = 16 * 1024 * 1024,
        max_query_chars: int = DEFAULT_MAX_QUERY_CHARS,
    ) -> None:
        self.app = app
        self.max_json_depth = max_json_depth
        self.max_request_bytes = max_request_bytes
        self.max_query_chars = max_query_chars

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            raw_path = scope.get("raw_path") or str(scope.get("path", "")).encode()
            path_bytes = unquote_to_bytes(raw_path)
            try:
                path_text = path_bytes.decode("utf-8")
            except UnicodeDecodeError:
                raise InputRefused("The request path is not valid UTF-8.") from None
            problem = _text_problem(path_text)
            if problem:
                raise InputRefused(f"The request path {problem}.")
            _check_query(scope.get("query_string", b""), self.max_query_chars)
        except InputRefused as exc:
            await _refuse(send, 422, exc)
            return
        method = scope.get("method", "GET")
        path = str(scope.get("path", ""))
        if (
            method in ("GET", "HEAD", "DELETE", "OPTIONS")
            or path.endswith("/result")
            or not _is_json(scope)
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_request_bytes:
                await _refuse(
                    send,
                    413,
                    InputRefused(
                        f"The request body has more than {self.max_request_bytes} bytes; "
                        f"this server accepts at most {self.max_request_bytes} bytes here.",
                        kind="body_too_large",
                    ),
                )
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        if body.strip():
            try:
                parse_json_body(body, self.max_json_depth)
            except InputRefused as exc:
                await _refuse(send, 422, exc)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, status: int, refused: InputRefused) -> None:
    detail = str(refused)
    error = {"loc": ["body"], "msg": detail, "type": refused.kind}
    payload = json.dumps({"detail": detail, "errors": [error]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
