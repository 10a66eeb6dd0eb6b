"""Reading one row by primary key, the way every run resource needs it."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from headwater.server.models.errors import NotFound

__all__ = ["require_row"]

RowT = TypeVar("RowT")


async def require_row(
    session: AsyncSession, model: type[RowT], row_id: str, *, noun: str, for_update: bool = False
) -> RowT:
    """The ``model`` row with this id, optionally row-locked (``FOR UPDATE`` on PostgreSQL).

    A locked read refreshes an already loaded object, so callers see the committed values
    they now hold the lock on.

    Raises:
        NotFound: no such row; the message names ``noun`` and the id.
    """
    row: Any
    if for_update:
        row = (
            await session.execute(
                select(model)
                .where(model.id == row_id)  # type: ignore[attr-defined]
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
    else:
        row = await session.get(model, row_id)
    if row is None:
        raise NotFound(f"{noun} {row_id} not found.")
    result: RowT = row
    return result
