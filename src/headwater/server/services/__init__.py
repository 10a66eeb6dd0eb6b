"""Background services of the server process.

Contract: the app's lifespan calls :func:`create_services` once the database and the
event bus are ready (``app.state.settings``, ``app.state.db``), awaits ``start()`` on each
service, and awaits ``stop()`` on shutdown (:func:`start_services` and
:func:`stop_services` do both in one call). Each service is built by its
``from_settings``, and the defaults of its own arguments are the settings' defaults:
intervals and thresholds come from the settings only
(``reaper_interval``, ``heartbeat_timeout``, ``submitted_timeout``,
``late_runs_interval``, ``late_after``, ``scheduler_interval``, ``max_resurrections``,
``claim_lease``); an interval of 0 or less disables a service, and
``start_services=False`` in the settings disables them all. The reaper does not count
time before it started as a run's silence (see :mod:`.reaper`). The hook dispatcher
(:mod:`.hooks`) always runs with the services; the retention service (:mod:`.retention`)
only when some ``retention_*`` age is set.
"""

from __future__ import annotations

import asyncio
from typing import Any

from headwater.server.services._base import Service
from headwater.server.services.hooks import HookDispatcher
from headwater.server.services.late_runs import LateRunReporter
from headwater.server.services.reaper import Reaper
from headwater.server.services.retention import RetentionService
from headwater.server.services.scheduler import Scheduler
from headwater.server.settings import ServerSettings

__all__ = [
    "HookDispatcher",
    "LateRunReporter",
    "Reaper",
    "RetentionService",
    "Scheduler",
    "Service",
    "create_services",
    "start_services",
    "stop_services",
]


def create_services(app: Any) -> list[Service]:
    """The enabled services for ``app``, not started yet.

    Args:
        app: The FastAPI app, with ``state.settings`` and ``state.db`` set.
    """
    settings: ServerSettings = app.state.settings
    db = app.state.db
    if not settings.start_services:
        return []
    services: list[Service] = [
        Reaper.from_settings(db, settings),
        LateRunReporter.from_settings(db, settings),
        Scheduler.from_settings(db, settings),
    ]
    services.extend(_backend_feature_services(app))
    return [s for s in services if s.interval > 0]


def _backend_feature_services(app: Any) -> list[Service]:
    settings: ServerSettings = app.state.settings
    db = app.state.db
    found: list[Service] = [HookDispatcher.from_settings(db, settings)]
    retention = RetentionService.from_settings(db, getattr(app.state, "results", None), settings)
    if retention.enabled:
        found.append(retention)
    return found


async def start_services(app: Any) -> list[Service]:
    """Create and start the enabled services for ``app``.

    Returns:
        The started services, to pass to :func:`stop_services`.
    """
    services = create_services(app)
    for service in services:
        await service.start()
    return services


async def stop_services(services: list[Service]) -> None:
    """Stop ``services`` concurrently, waiting briefly for passes in progress."""
    await asyncio.gather(*(s.stop() for s in services))
