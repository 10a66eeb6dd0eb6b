"""The hand-written migrations create exactly the ORM's schema, on both databases."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from headwater.server.database.migrate import HEAD, current_revision, reset


async def test_migrated_schema_matches_the_orm(app: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from headwater.server.database.orm import Base

    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with app.state.db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
    assert await current_revision(app.state.db) == HEAD


async def test_reset_recreates_an_empty_schema(app: Any, api: Any) -> None:
    await api.project("kept?")
    await reset(app.state.db)
    assert await api.call("GET", "/projects") == []
    assert await current_revision(app.state.db) == HEAD


async def test_result_store_on_an_fsspec_url() -> None:
    from headwater.server.result_store import ResultStore

    store = ResultStore("memory://headwater-results")
    location = await store.write("abc", b"bytes")
    assert location == "memory://headwater-results/abc"
    assert await store.read(location) == b"bytes"


def test_head_constant_matches_the_migration_scripts() -> None:
    from headwater.server.database.migrate import head_revision

    assert head_revision() == HEAD


async def test_upgrading_fills_the_schedules_of_registered_versions(app: Any) -> None:
    """Flows registered before server-side scheduling keep their schedule on upgrade."""
    from alembic import command
    from sqlalchemy import text

    from headwater.schedules import CronSchedule
    from headwater.server.database.migrate import _config, _run

    schedule = CronSchedule("0 6 * * *").to_ref()

    def downgrade_and_fill(connection: Any) -> None:
        import sqlalchemy as sa

        from headwater.server.database.orm import JSONType, UTCDateTime

        command.downgrade(_config(connection), "0012")  # to just before 0011
        now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        projects = sa.table(
            "projects", sa.column("id"), sa.column("name"), sa.column("created", UTCDateTime)
        )
        groups = sa.table(
            "flow_groups",
            *(sa.column(c) for c in ("id", "name", "project_id")),
            sa.column("default_parameters", JSONType),
            sa.column("settings", JSONType),
            sa.column("created", UTCDateTime),
        )
        flows = sa.table(
            "flows",
            *(sa.column(c) for c in ("id", "flow_group_id", "project_id", "name")),
            sa.column("project_name"),
            sa.column("version", sa.Integer),
            sa.column("archived", sa.Boolean),
            *(sa.column(c, JSONType) for c in ("serialized_flow", "parameters", "tasks")),
            sa.column("created", UTCDateTime),
        )
        connection.execute(projects.insert().values(id="p", name="p", created=now))
        connection.execute(
            groups.insert().values(
                id="g", name="f", project_id="p", default_parameters={}, settings={}, created=now
            )
        )
        for flow_id, version, body in (
            ("old", 1, {"schedule": schedule}),
            ("plain", 2, {"schedule": None}),
        ):
            connection.execute(
                flows.insert().values(
                    id=flow_id,
                    flow_group_id="g",
                    project_id="p",
                    name="f",
                    project_name="p",
                    version=version,
                    archived=False,
                    serialized_flow=body,
                    parameters=[],
                    tasks=[],
                    created=now,
                )
            )
        command.upgrade(_config(connection), "head")

    await _run(app.state.db, downgrade_and_fill)
    async with app.state.db.read_session() as session:
        rows = dict(
            (await session.execute(text("SELECT id, schedule FROM flows ORDER BY id"))).all()
        )
        active = (
            await session.execute(text("SELECT is_schedule_active FROM flow_groups"))
        ).scalar_one()
    stored = {k: json.loads(v) if isinstance(v, str) else v for k, v in rows.items()}
    assert stored == {"old": schedule, "plain": None}
    assert bool(active) is True
    assert await current_revision(app.state.db) == HEAD
