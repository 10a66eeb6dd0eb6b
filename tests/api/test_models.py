"""Models and orchestration called directly, as services and the push endpoints do."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.server import orchestration
from headwater.server.models import flow_runs, flows, projects, task_runs
from headwater.server.models.errors import Conflict, InvalidInput, NotFound
from headwater.server.orchestration.rules import Rule, TransitionContext


async def _flow_run(session: Any) -> str:
    await projects.create_project(session, "p")
    flow, _ = await flows.register_flow(
        session, name="f", project_name="p", serialized_flow={"tasks": [{"slug": "t"}]}
    )
    run, created = await flow_runs.create_flow_run(session, flow_id=flow.id)
    assert created
    return run.id


async def test_set_state_results_and_errors(app: Any) -> None:
    async with app.state.db.session() as session:
        run_id = await _flow_run(session)
        result = await orchestration.set_flow_run_state(
            session, run_id, {"type": "Submitted"}, agent_id="agent"
        )
        assert (result.status, result.version, result.detail) == ("accepted", 2, None)
        rejected = await orchestration.set_flow_run_state(session, run_id, {"type": "Submitted"})
        assert rejected.status == "rejected" and rejected.state == result.state
        with pytest.raises(Conflict, match="version 2"):
            await orchestration.set_flow_run_state(
                session, run_id, {"type": "Running"}, expected_version=1
            )
        with pytest.raises(NotFound, match="missing"):
            await orchestration.set_flow_run_state(session, "missing", {"type": "Running"})
        with pytest.raises(InvalidInput, match="Nope"):
            await orchestration.set_flow_run_state(session, run_id, {"type": "Nope"})
        await session.commit()
    async with app.state.db.read_session() as session:
        run = await flow_runs.read_flow_run(session, run_id)
        assert run is not None and run.agent_id == "agent" and run.state_type == "Submitted"


async def test_services_may_pass_their_own_rules(app: Any) -> None:
    class NeverRun(Rule):
        to_types = frozenset({"Running"})

        def check(self, ctx: TransitionContext) -> str | None:
            return "not today"

    async with app.state.db.session() as session:
        run_id = await _flow_run(session)
        result = await orchestration.set_flow_run_state(
            session, run_id, {"type": "Running"}, rules=(NeverRun(),)
        )
        assert result.status == "rejected" and result.detail == "not today"
        # Without the default rules a finished run can be moved anywhere (services only).
        await orchestration.set_flow_run_state(session, run_id, {"type": "Failed"})
        forced = await orchestration.set_flow_run_state(
            session, run_id, {"type": "Running"}, rules=()
        )
        assert forced.status == "accepted"
        await session.commit()


async def test_cancelled_flow_run_cancels_unfinished_task_runs(app: Any) -> None:
    async with app.state.db.session() as session:
        run_id = await _flow_run(session)
        await orchestration.set_flow_run_state(session, run_id, {"type": "Running"})
        done, _ = await task_runs.get_or_create_task_run(session, flow_run_id=run_id, task_slug="d")
        await orchestration.set_task_run_state(session, done.id, {"type": "Running"})
        await orchestration.set_task_run_state(session, done.id, {"type": "Success"})
        await orchestration.set_flow_run_state(session, run_id, {"type": "Cancelled"})
        await session.commit()
    async with app.state.db.read_session() as session:
        states = {
            t.task_slug: t.state_type
            for t in await task_runs.read_task_runs(session, flow_run_id=run_id)
        }
        assert states == {"d": "Success", "t": "Cancelled"}
