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


# -- stateful phase ------------------------------------------------------------------------

# Operations only links lead to (they need ids made by earlier calls): a bounded stateful
# run must reach each with a real id. States of runs and task runs sit one link further
# (project, flow, run, task run, state); a bounded run reaches them in some seeds only.
_STATEFUL_TARGETS = {
    "GET /api/flow-runs/{flow_run_id}",
    "POST /api/task-runs",
    "POST /api/agents/{agent_id}/claim",
}


def test_links_chain_creates_to_the_routes_using_their_ids() -> None:
    document = _openapi()
    responses = document["paths"]["/api/flow-runs"]["post"]["responses"]["201"]
    targets = {link["operationId"] for link in responses["links"].values()}
    ids = {
        op["operationId"]: f"{method.upper()} {path}"
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    }
    assert {ids[t] for t in targets} >= {
        "GET /api/flow-runs/{flow_run_id}",
        "POST /api/flow-runs/{flow_run_id}/state",
        "POST /api/task-runs",
        "POST /api/flow-runs/{flow_run_id}/restart",
    }
    agent = document["paths"]["/api/agents"]["post"]["responses"]["200"]["links"]
    assert ids[agent["ClaimFlowRuns"]["operationId"]] == "POST /api/agents/{agent_id}/claim"


def _empty_database(server: TemporaryServer) -> None:
    import sqlite3

    tables = [
        "logs",
        "task_run_states",
        "task_runs",
        "flow_run_states",
        "flow_run_labels",
        "flow_runs",
        "flows",
        "flow_groups",
        "projects",
        "agents",
    ]
    with sqlite3.connect(server.home / "headwater.db", timeout=30) as conn:
        for table in tables:
            conn.execute(f"DELETE FROM {table}")


@pytest.mark.timeout(600)
def test_stateful_phase_reaches_runs_task_runs_and_agents(server: TemporaryServer) -> None:
    reached: set[str] = set()

    schema = schemathesis.openapi.from_dict(_openapi())
    # Valid requests only: invalid ones are the per-operation test's business, and a
    # chain stops at the first refused step.
    schema.config.generation.update(modes=[GenerationMode.POSITIVE], allow_x00=False)
    # Only the document's own links: the test is that they chain the API together.
    schema.config.phases.stateful.inference.algorithms = []

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Every scenario starts from an empty database, so a replayed scenario gets
            # the same answers (hypothesis requires it) instead of, say, a 409 for a
            # project created by an earlier one.
            _empty_database(server)

        def before_call(self, case: Any) -> None:
            # Linked calls may leave a long-poll's timeout out: never wait here.
            if case.path.endswith("/wait"):
                case.query = {**(case.query or {}), "timeout": 0}
            if case.path.endswith("/claim") and isinstance(case.body, dict):
                case.body["timeout"] = 0
            _bound_long_polls(case)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": server.url, "timeout": 30}

        def after_call(self, response: Any, case: Any) -> None:
            if response.status_code < 400:
                reached.add(f"{case.method.upper()} {case.operation.path}")

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            if case.path.endswith("/events"):
                assert response.status_code < 500, response.text
                return
            case.validate_response(response, checks=CHECKS)

    # Which link a step follows is drawn at random among dozens, and the answers (ids,
    # versions) differ from run to run, so even a derandomized run does not always take
    # the same path. Bounded runs are repeated until every target was reached by one of
    # them, at most five times: a target no run reaches is a broken chain, not bad luck.
    for _ in range(5):
        Workflow.run(
            settings=settings(
                max_examples=40,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
        )
        missing = _STATEFUL_TARGETS - reached
        if not missing:
            break
    assert not missing, f"not reached: {sorted(missing)}; reached: {sorted(reached)}"
