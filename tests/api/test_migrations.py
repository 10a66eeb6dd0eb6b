"""The hand-written migrations create exactly the ORM's schema, on both databases."""

from __future__ import annotations

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
    from headwater.server.models.results import ResultStore

    store = ResultStore("memory://headwater-results")
    location = await store.write("abc", b"bytes")
    assert location == "memory://headwater-results/abc"
    assert await store.read(location) == b"bytes"


def test_head_constant_matches_the_migration_scripts() -> None:
    from headwater.server.database.migrate import head_revision

    assert head_revision() == HEAD
