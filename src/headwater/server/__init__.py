"""The Headwater server: one process with the REST API, event bus and services.

Contract: importing this package is cheap (nothing of the web stack or database is
imported); ``create_app`` and ``ServerSettings`` are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.server.app import create_app
    from headwater.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        # deferred: importing the package stays cheap (contract above)
        from headwater.server.app import create_app

        return create_app
    if name == "ServerSettings":
        # deferred: importing the package stays cheap (contract above)
        from headwater.server.settings import ServerSettings

        return ServerSettings
    raise AttributeError(f"module 'headwater.server' has no attribute {name!r}")
