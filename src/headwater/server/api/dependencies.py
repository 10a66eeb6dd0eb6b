"""Request dependencies: the database, the settings, API-key authentication.

Contract: routes reach the database only through :data:`DbDep` (``app.state.db``) and
commit their one transaction themselves. :func:`require_api_key` guards every router but
health when the server has an API key.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from headwater.server.database import Database
from headwater.server.result_store import ResultStore
from headwater.server.settings import ServerSettings

__all__ = [
    "DbDep",
    "ResultsDep",
    "SettingsDep",
    "get_db",
    "get_results",
    "get_settings",
    "require_api_key",
]


async def get_db(request: Request) -> Database:
    """The app's :class:`Database`."""
    db: Database = request.app.state.db
    return db


async def get_settings(request: Request) -> ServerSettings:
    """The app's :class:`ServerSettings`."""
    settings: ServerSettings = request.app.state.settings
    return settings


async def get_results(request: Request) -> ResultStore:
    """The app's result store."""
    store: ResultStore = request.app.state.results
    return store


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
ResultsDep = Annotated[ResultStore, Depends(get_results)]


async def require_api_key(request: Request) -> None:
    """Refuse the request (401) unless it carries the configured bearer key."""
    settings: ServerSettings = request.app.state.settings
    if not settings.api_key:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            401,
            "This server requires an API key: send 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(token.strip().encode(), settings.api_key.encode()):
        raise HTTPException(401, "Invalid API key.", headers={"WWW-Authenticate": "Bearer"})
