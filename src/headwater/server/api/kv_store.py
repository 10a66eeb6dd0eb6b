"""Routes: the key-value store (set, get, delete, list)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response, status

from headwater.server.api.dependencies import DbDep, SettingsDep
from headwater.server.models import kv_store
from headwater.server.schemas import backend as schemas

__all__ = ["router"]

router = APIRouter(tags=["key-value store"])


@router.get("/kv", response_model=list[schemas.KeyValue])
async def list_keys(
    db: DbDep,
    prefix: str | None = Query(None, max_length=kv_store.MAX_KEY_LENGTH),
    limit: int = Query(10_000, ge=1, le=10_000),
) -> object:
    """Every entry (or those whose key starts with ``prefix``), ordered by key."""
    async with db.read_session() as session:
        return await kv_store.list_keys(session, prefix=prefix, limit=limit)


@router.put("/kv/{key:path}", response_model=schemas.KeyValue)
async def set_key(key: str, body: schemas.KeyValueSet, db: DbDep, settings: SettingsDep) -> object:
    """Set a key (created, or its value replaced)."""
    async with db.session() as session:
        row = await kv_store.set_key(
            session, key, body.value, max_value_bytes=settings.kv_max_value_bytes
        )
        await session.commit()
        return row


@router.get("/kv/{key:path}", response_model=schemas.KeyValue)
async def read_key(key: str, db: DbDep) -> object:
    """A key's entry; 404 when there is none."""
    async with db.read_session() as session:
        return await kv_store.read_key(session, key)


@router.delete("/kv/{key:path}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_key(key: str, db: DbDep) -> Response:
    """Delete a key; 404 when there is none."""
    async with db.session() as session:
        await kv_store.delete_key(session, key)
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
