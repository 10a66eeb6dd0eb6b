"""Who may use the web UI: the API-key login cookie and the CSRF token of forms.

Contract:

- Without an API key the UI is open (as the API is); with one, every page, fragment and
  the event stream need the session cookie :data:`COOKIE`, set by ``POST /login`` after the
  key was typed once. The cookie holds an HMAC of the key, never the key itself, and is
  ``HttpOnly`` and ``SameSite=Strict``; changing the server's key logs every browser out.
- Every request that changes state must carry the CSRF token, in the ``X-CSRF-Token``
  header (htmx sends it from ``hx-headers`` on ``<body>``) or a ``csrf_token`` form field.
  The token is an HMAC of the server's secret (the API key, else a random secret of the
  process), so another site can neither read nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import Request

__all__ = ["COOKIE", "csrf_token", "is_authenticated", "session_token", "valid_csrf"]

#: Name of the UI's session cookie.
COOKIE = "headwater_ui"


def _api_key(request: Request) -> str | None:
    key: str | None = request.app.state.settings.api_key
    return key or None


def _process_secret(request: Request) -> bytes:
    state: Any = request.app.state
    secret: bytes | None = getattr(state, "ui_secret", None)
    if secret is None:
        secret = secrets.token_bytes(32)
        state.ui_secret = secret
    return secret


def session_token(api_key: str) -> str:
    """The cookie value that proves the browser knew ``api_key``."""
    return hmac.new(api_key.encode(), b"headwater-ui-session", hashlib.sha256).hexdigest()


def is_authenticated(request: Request) -> bool:
    """Whether the request may use the UI (no key configured, or a valid cookie)."""
    key = _api_key(request)
    if key is None:
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_token(key).encode())


def csrf_token(request: Request) -> str:
    """The CSRF token that forms and htmx requests of this server must send back."""
    key = _api_key(request)
    secret = key.encode() if key is not None else _process_secret(request)
    return hmac.new(secret, b"headwater-ui-csrf", hashlib.sha256).hexdigest()


def valid_csrf(request: Request, form_value: str | None) -> bool:
    """Whether the request carries the right CSRF token (header or form field)."""
    sent = request.headers.get("x-csrf-token") or form_value or ""
    return bool(sent) and hmac.compare_digest(sent.encode(), csrf_token(request).encode())
