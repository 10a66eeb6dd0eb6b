"""Route: ``GET /health``, the one route that never needs the API key."""

from __future__ import annotations

from fastapi import APIRouter, Request

from headwater.server.schemas import api as schemas
from headwater.server.version import server_version

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", response_model=schemas.Health)
async def health(request: Request) -> schemas.Health:
    """Liveness: the server runs and knows its database kind (no auth needed)."""
    return schemas.Health(
        status="ok", version=server_version(), database=request.app.state.db.dialect
    )
