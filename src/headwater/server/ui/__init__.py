"""The web UI: server-rendered pages at ``/``, live through the event bus.

Contract:

- :func:`install_ui` adds the UI to a server app: pages (``/``, ``/runs/{id}``,
  ``/flow-groups/{id}``, ``/agents``, ``/projects``, ``/login``), their live fragments and
  actions under ``/ui/...``, the event stream ``/ui/events`` and static files under
  ``/ui/static`` (htmx, vendored and pinned; the UI's own script and styles). None of it
  is in the OpenAPI document, and ``/api`` is untouched.
- Templates are Jinja2 with autoescape; no Node, no CDN: everything the browser loads
  comes from this package.
- With an API key every UI route but ``/login`` and the static files needs the login
  cookie; state-changing requests need the CSRF token (``_auth``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from headwater.server.ui import _actions, _live, _pages
from headwater.server.ui._guard import LoginRequired
from headwater.server.ui._render import render

__all__ = ["STATIC", "install_ui"]

#: The directory of the UI's static files.
STATIC = Path(__file__).with_name("static")


def install_ui(app: FastAPI) -> None:
    """Serve the web UI from ``app``."""
    app.include_router(_actions.router)
    app.include_router(_live.router)
    app.include_router(_pages.router)
    app.mount("/ui/static", StaticFiles(directory=str(STATIC)), name="ui-static")

    async def login_required(request: Request, exc: Exception) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.headers.get("hx-request") or request.url.path.startswith("/ui/"):
            return Response(
                "Sign in with the server's API key first.",
                status_code=401,
                headers={"HX-Redirect": "/login", "Cache-Control": "no-store"},
                media_type="text/plain",
            )
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)

    async def not_found(request: Request, exc: Exception) -> Response:
        return render(request, "error.html", status_code=404, message=str(exc))

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(_pages.PageNotFound, not_found)
