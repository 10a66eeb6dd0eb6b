"""The retention service on SQLite and PostgreSQL: it deletes what is older than each
kind's age and nothing else, in batches, while other runs are being written."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from typing import Any

import pytest
from _core_support import Api
from sqlalchemy import func, select, update

from headwater.server.database import orm
from headwater.server.database.orm_backend import Artifact
from headwater.server.services.retention import RetentionService
from headwater.server.settings import ServerSettings, parse_age

DAY = 86400.0


async def _finished_run(api: Api, flow_id: str, *, final: str = "Success") -> dict[str, Any]:
    run = await api.run(flow_id=flow_id)
    await api.set_state(run["id"], "Running")
    task_run = await api.call(
        "POST", "/task-runs", 201, json={"flow_run_id": run["id"], "task_slug": "t"}
    )
    await api.set_task_state(task_run["id"], "Running")
    await api.call("PUT", f"/task-runs/{task_run['id']}/result", content=b"value")
    await api.set_task_state(task_run["id"], "Success")
    await api.call(
        "POST",
        "/logs",
        json={"logs": [{"flow_run_id": run["id"], "task_run_id": task_run["id"], "message": "hi"}]},
    )
    await api.call(
        "POST",
        "/artifacts",
        201,
        json={"task_run_id": task_run["id"], "kind": "markdown", "data": {"markdown": "m"}},
    )
    if final != "Running":
        await api.set_state(run["id"], final)
    run["task_run_id"] = task_run["id"]
    return run


async def _age(app: Any, run_id: str, days: float) -> None:
    """Move a run, its task runs, logs and artifacts ``days`` into the past."""
    then = orm.utcnow() - dt.timedelta(days=days)
    async with app.state.db.session() as session:
        await session.execute(
            update(orm.FlowRun)
            .where(orm.FlowRun.id == run_id)
            .values(end_time=then, state_timestamp=then, updated=then)
        )
        await session.execute(
            update(orm.TaskRun)
            .where(orm.TaskRun.flow_run_id == run_id)
            .values(state_timestamp=then, updated=then)
        )
        await session.execute(
            update(orm.Log).where(orm.Log.flow_run_id == run_id).values(timestamp=then)
        )
        await session.execute(
            update(Artifact).where(Artifact.flow_run_id == run_id).values(updated=then)
        )
        await session.commit()


async def _count(app: Any, model: Any, *where: Any) -> int:
    async with app.state.db.read_session() as session:
        return int(
            (await session.execute(select(func.count()).select_from(model).where(*where))).scalar()
            or 0
        )


def _service(app: Any, batch_size: int = 2, **ages: float) -> RetentionService:
    return RetentionService(app.state.db, app.state.results, ages=ages, batch_size=batch_size)


def test_ages_parse_with_units_and_are_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_age("30d") == 30 * DAY and parse_age("12h") == 12 * 3600
    assert parse_age("15m") == 900 and parse_age("90s") == 90 and parse_age("2") == 2 * DAY
    assert parse_age("") is None and parse_age("0") is None and parse_age("off") is None
    with pytest.raises(ValueError, match="an age such as 30d"):
        parse_age("soon", "HEADWATER_SERVER_RETENTION_LOGS")
    with pytest.raises(ValueError, match="positive"):
        parse_age("-1d")
    settings = ServerSettings.from_env()
    assert settings.retention_flow_runs is None and settings.retention_logs is None
    monkeypatch.setenv("HEADWATER_SERVER_RETENTION_LOGS", "7d")
    monkeypatch.setenv("HEADWATER_SERVER_RETENTION_BATCH_SIZE", "50")
    settings = ServerSettings.from_env()
    assert settings.retention_logs == 7 * DAY and settings.retention_batch_size == 50


async def test_old_finished_runs_go_with_everything_they_own(app: Any, api: Api) -> None:
    flow = await api.flow()
    old = [await _finished_run(api, flow["id"]) for _ in range(5)]
    old_failed = await _finished_run(api, flow["id"], final="Failed")
    recent = await _finished_run(api, flow["id"])
    old_running = await _finished_run(api, flow["id"], final="Running")
    child = await api.run(flow_id=flow["id"], parent_flow_run_id=old[0]["id"])
    for run in [*old, old_failed, old_running]:
        await _age(app, run["id"], 10)
    files = {r["id"]: (await api.call("GET", f"/task-runs/{r['task_run_id']}"))["id"] for r in old}
    store = app.state.results
    paths = [store.location_for(task_run_id) for task_run_id in files.values()]
    assert all(os.path.exists(p) for p in paths)

    deleted = await _service(app, flow_runs=5 * DAY).run_pass()

    assert deleted["flow_runs"] == 6
    for run in [*old, old_failed]:
        await api.call("GET", f"/flow-runs/{run['id']}", 404)
        await api.call("GET", f"/task-runs/{run['task_run_id']}", 404)
        assert await api.call("GET", "/artifacts", params={"flow_run_id": run["id"]}) == []
    assert not any(os.path.exists(p) for p in paths)
    for run in (recent, old_running):
        assert (await api.call("GET", f"/flow-runs/{run['id']}"))["id"] == run["id"]
        assert await api.call("GET", f"/task-runs/{run['task_run_id']}/result") == b"value"
        assert len(await api.call("GET", "/logs", params={"flow_run_id": run["id"]})) == 1
        assert len(await api.call("GET", "/artifacts", params={"flow_run_id": run["id"]})) == 1
    assert (await api.call("GET", f"/flow-runs/{child['id']}"))["parent_flow_run_id"] is None
    assert await _count(app, orm.FlowRunState) == await _count(
        app,
        orm.FlowRunState,
        orm.FlowRunState.flow_run_id.in_([recent["id"], old_running["id"], child["id"]]),
    )
    # A second pass finds nothing more.
    assert (await _service(app, flow_runs=5 * DAY).run_pass())["flow_runs"] == 0


async def test_logs_artifacts_results_and_task_runs_each_by_their_own_age(
    app: Any, api: Api
) -> None:
    flow = await api.flow()
    old = await _finished_run(api, flow["id"])
    recent = await _finished_run(api, flow["id"])
    running = await _finished_run(api, flow["id"], final="Running")
    await _age(app, old["id"], 3)
    await _age(app, running["id"], 3)

    deleted = await _service(app, logs=DAY, artifacts=DAY, results=DAY).run_pass()
    assert deleted == {"flow_runs": 0, "task_runs": 0, "logs": 2, "artifacts": 2, "results": 1}
    assert await api.call("GET", "/logs", params={"flow_run_id": old["id"]}) == []
    assert await api.call("GET", "/artifacts", params={"flow_run_id": old["id"]}) == []
    missing = await api.call("GET", f"/task-runs/{old['task_run_id']}/result", 404)
    assert "no stored result" in missing["detail"]
    # The running run keeps its result (its flow run is not finished); its old logs go.
    assert await api.call("GET", f"/task-runs/{running['task_run_id']}/result") == b"value"
    assert await api.call("GET", "/logs", params={"flow_run_id": running["id"]}) == []
    assert len(await api.call("GET", "/logs", params={"flow_run_id": recent["id"]})) == 1
    # The flow run and its task run stay.
    assert (await api.call("GET", f"/task-runs/{old['task_run_id']}"))["state_type"] == "Success"

    deleted = await _service(app, task_runs=DAY).run_pass()
    assert deleted["task_runs"] == 1
    await api.call("GET", f"/task-runs/{old['task_run_id']}", 404)
    assert (await api.call("GET", f"/flow-runs/{old['id']}"))["state_type"] == "Success"
    assert (await api.call("GET", f"/task-runs/{running['task_run_id']}"))["id"]


async def test_retention_runs_while_runs_are_being_written(app: Any, api: Api) -> None:
    flow = await api.flow()
    old = [await _finished_run(api, flow["id"]) for _ in range(12)]
    for run in old:
        await _age(app, run["id"], 10)
    service = _service(app, batch_size=3, flow_runs=DAY, logs=DAY)
    written: list[str] = []

    async def writer() -> None:
        for _ in range(8):
            run = await _finished_run(api, flow["id"])
            written.append(run["id"])

    results = await asyncio.gather(writer(), writer(), service.run_pass())
    deleted = results[2]
    assert deleted["flow_runs"] == 12
    assert len(written) == 16
    for run_id in written:
        answer = await api.call("GET", f"/flow-runs/{run_id}")
        assert answer["state_type"] == "Success"
        assert len(await api.call("GET", "/logs", params={"flow_run_id": run_id})) == 1
    assert await _count(app, orm.FlowRun) == 16


def test_vacuum_command_reports_sizes_and_refuses_a_missing_file(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from headwater.cli.server import server

    runner = CliRunner()
    missing = runner.invoke(
        server, ["database", "vacuum", "--database-url", str(tmp_path / "none.db")]
    )
    assert missing.exit_code == 2 and "no SQLite database" in missing.output
    assert not (tmp_path / "none.db").exists()
    path = tmp_path / "hw.db"
    assert (
        runner.invoke(server, ["database", "upgrade", "--database-url", str(path)]).exit_code == 0
    )
    done = runner.invoke(server, ["database", "vacuum", "--database-url", str(path)])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("Vacuumed the sqlite database:")


async def test_vacuum_on_the_test_database(app: Any, api: Api) -> None:
    from headwater.server.database.maintenance import vacuum

    flow = await api.flow()
    for _ in range(3):
        await _finished_run(api, flow["id"])
    outcome = await vacuum(app.state.db.url)
    assert outcome["database"] == app.state.db.dialect
    assert outcome["before_bytes"] > 0 and outcome["after_bytes"] > 0
    assert len(await api.call("GET", "/flow-runs")) == 3
