"""The server application: ``create_app(settings) -> FastAPI``.

Contract:

- Routes are mounted under ``/api`` (OpenAPI at ``/api/openapi.json``, docs at
  ``/api/docs``); every route but ``GET /api/health`` requires the API key when one is set.
- The lifespan upgrades the database schema (unless ``settings.run_migrations`` is off),
  starts the event bus and the background services, and stores ``app.state.settings``,
  ``app.state.db`` (:class:`~headwater.server.database.Database`), ``app.state.events``
  (:class:`~headwater.server.events.EventBus`) and ``app.state.results``
  (:class:`~headwater.server.result_store.ResultStore`).
- Services: ``await headwater.server.services.start_services(app)`` runs after the bus started
  (unless ``settings.start_services`` is off) and ``await stop_services(services)`` before
  the bus stops.
- The web UI (``headwater.server.ui``) is served at ``/`` unless ``settings.ui`` is off;
  its routes stay out of the OpenAPI document.
- Request bodies over ``settings.max_request_bytes`` (result uploads: over
  ``settings.max_result_bytes``) are refused with 413 before they are read. Every other
  input passes :mod:`headwater.server.api.input_guard` (JSON depth, text that can be
  stored, query values) before any route runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from headwater.server import services
from headwater.server.api import health_router, resource_routers
from headwater.server.api.dependencies import require_api_key
from headwater.server.api.errors import install_error_handlers
from headwater.server.api.input_guard import InputGuard
from headwater.server.api.links import add_links
from headwater.server.database import Database
from headwater.server.database.migrate import upgrade
from headwater.server.events import EventBus
from headwater.server.result_store import ResultStore
from headwater.server.settings import ServerSettings
from headwater.server.version import server_version

__all__ = ["create_app", "server_version"]

logger = logging.getLogger("headwater.server")


class BodySizeLimit:
    """Refuse bodies whose declared length exceeds the limit, with a readable 413."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope.get("path", "")
            is_result = path.endswith("/result")
            limit = self.settings.max_result_bytes if is_result else self.settings.max_request_bytes
            for name, value in scope.get("headers", ()):
                if name == b"content-length":
                    try:
                        length = int(value)
                    except ValueError:
                        length = 0
                    if length > limit:
                        await _send_json(
                            send,
                            413,
                            {
                                "detail": f"The request body has {length} bytes; this server "
                                f"accepts at most {limit} bytes here."
                            },
                        )
                        return
        await self.app(scope, receive, send)


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """Build the server application.

    Args:
        settings: Configuration; defaults to :meth:`ServerSettings.from_env`.
    """
    settings = settings or ServerSettings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.resolved_database_url
        events = EventBus(url)
        db = Database(url, events, sqlite_synchronous=settings.sqlite_synchronous)
        app.state.settings = settings
        app.state.db = db
        app.state.events = events
        app.state.results = ResultStore(settings.resolved_results_url)
        running: list[Any] = []
        try:
            if settings.run_migrations:
                await upgrade(db)
            await events.start()
            if settings.start_services:
                running = list(await services.start_services(app))
            yield
        finally:
            if running:
                try:
                    await services.stop_services(running)
                except Exception:
                    logger.exception("Stopping the background services failed")
            await events.stop()
            await db.dispose()

    app = FastAPI(
        title="Headwater",
        version=server_version(),
        description="The Headwater orchestration server.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    # Also available before the lifespan ran (tests that build the app and inspect it).
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health_router(), prefix="/api")
    auth = [Depends(require_api_key)]
    for router in resource_routers():
        app.include_router(router, prefix="/api", dependencies=auth)
    if settings.ui:
        # deferred: the UI loads Jinja2, needed only when the UI is served
        from headwater.server.ui import install_ui

        install_ui(app)
    app.add_middleware(
        InputGuard,
        max_json_depth=settings.max_json_depth,
        max_request_bytes=settings.max_request_bytes,
    )
    app.add_middleware(BodySizeLimit, settings=settings)
    _describe_validation_errors(app)
    return app


def _describe_validation_errors(app: FastAPI) -> None:
    """Make the OpenAPI document describe 422 bodies as the server really sends them.

    ``api/errors.py`` answers every validation error with one readable line plus the
    error list (``{"detail": str, "errors": [...]}``); FastAPI's generated document
    would otherwise still advertise its default list-shaped ``detail``.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = {
                    "title": "HTTPValidationError",
                    "type": "object",
                    "properties": {
                        "detail": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "object"}},
                    },
                    "required": ["detail"],
                }
            app.openapi_schema = add_links(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
