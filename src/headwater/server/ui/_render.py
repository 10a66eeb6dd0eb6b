"""Templates of the web UI: one autoescaping Jinja2 environment and its filters.

Contract: every value reaches HTML through Jinja2 with autoescape on, so names,
parameters and log lines supplied by users are shown, never interpreted. CSS class names
derived from data (state types, log levels) pass through :func:`state_class` /
:func:`level_class`, which only ever return names of a fixed set. Responses carry a
Content-Security-Policy that allows scripts from this server only.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from headwater.server.schemas import states as families
from headwater.server.ui._auth import csrf_token, is_authenticated
from headwater.server.version import server_version

__all__ = ["SECURITY_HEADERS", "render", "render_string", "state_class"]

TEMPLATES = Path(__file__).with_name("templates")

#: Headers of every UI response: no inline or foreign scripts, no framing, no sniffing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_KNOWN_STATES = frozenset(families.ALL_TYPES)


def state_class(state_type: Any) -> str:
    """A CSS class for a state type (``st-Running``), ``st-other`` for anything unknown."""
    return f"st-{state_type}" if state_type in _KNOWN_STATES else "st-other"


def level_class(level: Any) -> str:
    """A CSS class for a log level, from a fixed set."""
    name = str(level).upper()
    return f"lv-{name}" if name in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "lv-other"


def when(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS`` (UTC), or an empty string."""
    if not isinstance(value, dt.datetime):
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return str(value.strftime("%Y-%m-%d %H:%M:%S"))


def duration(start: Any, end: Any = None) -> str:
    """The time from ``start`` to ``end`` (or now) as ``1h 2m 3s``."""
    if not isinstance(start, dt.datetime):
        return ""
    stop = end if isinstance(end, dt.datetime) else dt.datetime.now(dt.UTC)
    seconds = max(0.0, (stop - start).total_seconds())
    if seconds < 10:
        return f"{seconds:.2f}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def pretty(value: Any) -> str:
    """JSON shown to people: indented, keys in order, anything odd as text."""
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def compact(value: Any) -> str:
    """JSON on one line (form fields)."""
    return json.dumps(value, default=str, ensure_ascii=False)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The UI's Jinja2 environment (autoescape on for every template)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when,
        duration=duration,
        pretty=pretty,
        compact=compact,
        state_class=state_class,
        level_class=level_class,
    )
    return env


def _context(request: Request, values: dict[str, Any]) -> dict[str, Any]:
    settings = request.app.state.settings
    context = {
        "request": request,
        "csrf": csrf_token(request),
        "login_enabled": bool(settings.api_key),
        "signed_in": is_authenticated(request),
        "version": server_version(),
        "nav": "",
        "flash": None,
    }
    context.update(values)
    return context


def render_string(request: Request, template: str, **values: Any) -> str:
    """Render ``template`` with the UI's common context plus ``values``."""
    return environment().get_template(template).render(_context(request, values))


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """An HTML response of ``template`` with the security headers."""
    merged = dict(SECURITY_HEADERS)
    merged.update(headers or {})
    return HTMLResponse(
        render_string(request, template, **values), status_code=status_code, headers=merged
    )
