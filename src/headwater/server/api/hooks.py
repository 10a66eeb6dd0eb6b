"""Routes: state-change hooks (create, list, read, switch on/off, delete, deliveries)."""

from __future__ import annotations

import os

from fastapi import APIRouter, Body, Query, Response, status

from headwater.server.api.dependencies import DbDep
from headwater.server.database.orm_backend import Hook
from headwater.server.models import hooks
from headwater.server.models.errors import InvalidInput
from headwater.server.schemas import backend as schemas

__all__ = ["router"]

router = APIRouter(tags=["hooks"])


def _out(hook: Hook) -> schemas.Hook:
    result = schemas.Hook.model_validate(hook)
    result.configured = bool(os.environ.get(hook.url_env)) and (
        hook.token_env is None or bool(os.environ.get(hook.token_env))
    )
    return result


@router.post("/hooks", status_code=status.HTTP_201_CREATED, response_model=schemas.Hook)
async def create_hook(body: schemas.HookCreate, db: DbDep) -> object:
    """Create a hook; its environment variables must be set in this server's environment."""
    for name in (body.url_env, body.token_env):
        if name is not None and not os.environ.get(name):
            raise InvalidInput(
                f"The environment variable {name} is not set for the server: set it where "
                "the server runs (its value stays out of the database), then create the hook."
            )
    async with db.session() as session:
        hook = await hooks.create_hook(session, **body.model_dump())
        await session.commit()
        return _out(hook)


@router.get("/hooks", response_model=list[schemas.Hook])
async def list_hooks(db: DbDep) -> object:
    """Every hook, by name."""
    async with db.read_session() as session:
        return [_out(h) for h in await hooks.read_hooks(session)]


@router.get("/hooks/{hook_id}", response_model=schemas.Hook)
async def read_hook(hook_id: str, db: DbDep) -> object:
    """One hook, by id or name."""
    async with db.read_session() as session:
        return _out(await hooks.require_hook(session, hook_id))


@router.post("/hooks/{hook_id}/active", response_model=schemas.Hook)
async def set_hook_active(hook_id: str, db: DbDep, active: bool = Body(..., embed=True)) -> object:
    """Switch a hook on (``{"active": true}``) or off."""
    async with db.session() as session:
        hook = await hooks.set_hook_active(session, hook_id, active)
        await session.commit()
        return _out(hook)


@router.delete("/hooks/{hook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_hook(hook_id: str, db: DbDep) -> Response:
    """Delete a hook (by id or name) with its delivery records."""
    async with db.session() as session:
        await hooks.delete_hook(session, hook_id)
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/hooks/{hook_id}/deliveries", response_model=list[schemas.HookDelivery])
async def list_deliveries(
    hook_id: str,
    db: DbDep,
    flow_run_id: str | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> object:
    """A hook's deliveries, newest first."""
    async with db.read_session() as session:
        hook = await hooks.require_hook(session, hook_id)
        return await hooks.read_deliveries(
            session, hook_id=hook.id, flow_run_id=flow_run_id, limit=limit
        )
