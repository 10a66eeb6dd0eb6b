"""Turning errors into HTTP responses, in one place.

Contract: domain errors map to their status (404, 409, 413, 422) with ``{"detail": str}``;
request validation errors become a 422 whose ``detail`` is one readable line plus an
``errors`` list; values the database refuses (bad characters, numbers out of range) are a
422; anything else is logged and answered with a 500 that names no internals. Every body
is ``{"detail": ...}``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, StatementError

from headwater.server.models.errors import DomainError

__all__ = ["install_error_handlers", "validation_detail"]

logger = logging.getLogger("headwater.server")


def _where(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body",)] if isinstance(loc, list | tuple) else []
    return ".".join(parts) or "body"


def validation_detail(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """A one-line summary and a JSON-safe list of pydantic/FastAPI validation errors."""
    clean: list[dict[str, Any]] = []
    lines: list[str] = []
    for error in errors:
        loc = list(error.get("loc", ()))
        msg = str(error.get("msg", "invalid value"))
        kind = str(error.get("type", ""))
        if kind == "json_invalid":
            line = "The request body is not valid JSON"
            ctx = error.get("ctx") or {}
            if isinstance(ctx, dict) and ctx.get("error"):
                line += f" ({ctx['error']})"
        else:
            line = f"{_where(loc)}: {msg}"
        lines.append(line)
        clean.append({"loc": [str(p) for p in loc], "msg": msg, "type": kind})
    summary = "; ".join(lines[:5])
    if len(lines) > 5:
        summary += f"; and {len(lines) - 5} more"
    return f"Invalid request: {summary}.", clean


def _sqlstate(exc: BaseException) -> str | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str):
            return state
        current = current.__cause__ or getattr(current, "orig", None)
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = validation_detail(list(exc.errors()))
        return JSONResponse({"detail": detail, "errors": errors}, status_code=422)

    @app.exception_handler(OverflowError)
    async def _overflow(_request: Request, exc: OverflowError) -> JSONResponse:
        return JSONResponse(
            {"detail": f"A value in the request is out of range ({exc})."}, status_code=422
        )

    @app.exception_handler(StatementError)
    async def _statement(request: Request, exc: StatementError) -> JSONResponse:
        if isinstance(exc, DBAPIError):
            return await _database(request, exc)
        if isinstance(exc.orig, OverflowError | ValueError):
            return JSONResponse(
                {"detail": f"A value in the request is out of range ({exc.orig})."},
                status_code=422,
            )
        return await _unexpected(request, exc)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        state = _sqlstate(exc)
        text = str(getattr(exc, "orig", exc)).splitlines()[0][:300]
        if (
            (state is not None and state.startswith("22"))
            or "out of range" in text
            or ("invalid input for query argument" in text)
        ):
            return JSONResponse(
                {"detail": f"The database refused a value in the request: {text}"},
                status_code=422,
            )
        logger.exception("Database error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": "The database failed to handle the request; see the server log."},
            status_code=500,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("Unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": f"Internal server error ({type(exc).__name__}); see the server log."},
            status_code=500,
        )
