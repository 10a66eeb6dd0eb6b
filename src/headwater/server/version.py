"""The version the server reports (``GET /api/health``, the OpenAPI document, the UI)."""

from __future__ import annotations

from importlib.metadata import version

__all__ = ["server_version"]


def server_version() -> str:
    """The installed Headwater version."""
    try:
        return version("headwater")
    except Exception:  # pragma: no cover - not installed as a distribution
        return "0.0.0"
