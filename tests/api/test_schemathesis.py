"""A bounded schemathesis run over the server's OpenAPI document.

Every operation gets a handful of generated requests, valid and invalid, against a real
server process; no response may be a 5xx, and every documented response must match its
schema and content type. Kept small (a few hundred requests in total) so the whole run
stays well under a minute.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode, checks  # noqa: E402

from headwater.testing import TemporaryServer, temporary_server  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("schemathesis")]

# Checks that hold for this API. Status-code conformance is left out on purpose: the
# OpenAPI document lists the success and validation responses of each route, while the
# readable 401/404/409/413 errors are common to all routes (contracts.md section 3).
CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.content_type_conformance,
]
EXAMPLES = 4


def _openapi() -> dict[str, Any]:
    from headwater.server.app import create_app
    from headwater.server.settings import ServerSettings

    with tempfile.TemporaryDirectory() as home:
        document: dict[str, Any] = create_app(ServerSettings(home=home)).openapi()
    # The document itself describes 422 bodies as {"detail": str, "errors": [...]}.
    detail = document["components"]["schemas"]["HTTPValidationError"]["properties"]["detail"]
    assert detail == {"type": "string"}
    return document


SCHEMA = schemathesis.openapi.from_dict(_openapi())
LABELS = [result.ok().label for result in SCHEMA.get_all_operations()]


@pytest.fixture(scope="module")
def server() -> Iterator[TemporaryServer]:
    with temporary_server() as running:
        yield running


def _bound_long_polls(case: Any) -> None:
    # Long-polls and streams would hold a request open for their whole timeout.
    if isinstance(case.query, dict) and "timeout" in case.query:
        case.query["timeout"] = 0
    if isinstance(case.body, dict) and "timeout" in case.body:
        case.body["timeout"] = 0


@pytest.mark.parametrize("label", LABELS)
def test_operation_never_fails_and_matches_its_schema(label: str, server: TemporaryServer) -> None:
    operation = SCHEMA.find_operation_by_label(label)
    assert operation is not None
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            _bound_long_polls(case)
            if case.path.endswith("/events"):
                # Generated ids name no run (404 JSON); a real run's stream never ends.
                response = case.call(base_url=server.url, timeout=10)
                assert response.status_code < 500, response.text
                return
            case.call_and_validate(base_url=server.url, checks=CHECKS, timeout=30)

        try:
            run()
        except Unsatisfiable:
            # Nothing to make invalid (no parameters and no body): positive cases suffice.
            assert mode is GenerationMode.NEGATIVE
