"""The login guard of UI routes and what a refused request gets back.

Contract: :func:`require_login` raises :class:`LoginRequired` when the server has an API
key and the browser has no valid session cookie. The handler installed by
``install_ui`` turns it into a redirect to ``/login`` for pages, and into a 401 with an
``HX-Redirect`` header for htmx requests (htmx then loads the login page itself).
"""

from __future__ import annotations

from fastapi import Request

from headwater.server.ui._auth import is_authenticated

__all__ = ["LoginRequired", "require_login"]


class LoginRequired(Exception):
    """The UI needs the API key first."""


async def require_login(request: Request) -> None:
    """Dependency of every UI route but the login page and static files."""
    if not is_authenticated(request):
        raise LoginRequired()
