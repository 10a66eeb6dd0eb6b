"""Error responses map to ``headwater.exceptions`` types with readable messages."""

from __future__ import annotations

import httpx
import pytest

from headwater.client._base import Route, error_from_response
from headwater.exceptions import (
    AuthorizationError,
    ClientError,
    ConflictError,
    ObjectNotFound,
)


def _response(status: int, body: object = None, text: str | None = None) -> httpx.Response:
    request = httpx.Request("GET", "http://h/api/flow-runs/abc")
    if text is not None:
        return httpx.Response(status, text=text, request=request)
    return httpx.Response(status, json=body, request=request)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (404, ObjectNotFound),
        (401, AuthorizationError),
        (403, AuthorizationError),
        (409, ConflictError),
        (400, ClientError),
        (413, ClientError),
        (422, ClientError),
    ],
)
def test_status_codes_map_to_exception_types(status: int, cls: type[ClientError]) -> None:
    error = error_from_response(_response(status, {"detail": "Flow run abc not found."}))
    assert type(error) is cls
    assert error.status_code == status
    assert error.detail == "Flow run abc not found."
    assert "Flow run abc not found." in str(error)
    assert f"HTTP {status}" in str(error)
    assert "/api/flow-runs/abc" in str(error)


def test_validation_detail_list_becomes_one_line() -> None:
    detail = [
        {"loc": ["body", "name"], "msg": "Field required", "type": "missing"},
        {"loc": ["query", "limit"], "msg": "Input should be greater than 0"},
    ]
    error = error_from_response(_response(422, {"detail": detail}))
    assert error.detail == "name: Field required; query.limit: Input should be greater than 0"
    assert "\n" not in str(error)


def test_non_json_body_keeps_its_text() -> None:
    error = error_from_response(_response(400, text="plain failure"))
    assert error.detail == "plain failure"


def test_route_formats_and_quotes_path_parameters() -> None:
    route = Route("GET", "/projects/by-name/{name}", True)
    assert route.fields == ("name",)
    assert route.format({"name": "a b/c"}) == "/projects/by-name/a%20b%2Fc"
    with pytest.raises(ValueError, match="missing name"):
        route.format({"name": ""})
