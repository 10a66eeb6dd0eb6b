"""Background services of the server process.

Contract: the app's lifespan calls :func:`create_services` once the database and the
event bus are ready (``app.state.settings``, ``app.state.db``), awaits ``start()`` on each
service, and awaits ``stop()`` on shutdown (:func:`start_services` and
:func:`stop_services` do both in one call). Intervals and thresholds come from the settings
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
from headwater.server.services.retention import KINDS as RETENTION_KINDS
from headwater.server.services.retention import RetentionService
from headwater.server.services.scheduler import Scheduler

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


def _setting(settings: Any, name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def create_services(app: Any) -> list[Service]:
    """The enabled services for ``app``, not started yet.

    Args:
        app: The FastAPI app, with ``state.settings`` and ``state.db`` set.
    """
    settings = app.state.settings
    db = app.state.db
    if not getattr(settings, "start_services", True):
        return []
    services: list[Service] = [
        Reaper(
            db,
            heartbeat_timeout=_setting(settings, "heartbeat_timeout", 600.0),
            submitted_timeout=_setting(settings, "submitted_timeout", 300.0),
            interval=_setting(settings, "reaper_interval", 30.0),
            max_resurrections=int(_setting(settings, "max_resurrections", 3)),
            claim_lease=_setting(settings, "claim_lease", 30.0),
        ),
        LateRunReporter(
            db,
            late_after=_setting(settings, "late_after", 60.0),
            interval=_setting(settings, "late_runs_interval", 30.0),
        ),
        Scheduler(db, interval=_setting(settings, "scheduler_interval", 30.0)),
    ]
    services.extend(_backend_feature_services(app))
    return [s for s in services if s.interval > 0]


def _backend_feature_services(app: Any) -> list[Service]:
    settings = app.state.settings
    db = app.state.db
    found: list[Service] = [
        HookDispatcher(
            db,
            timeout=_setting(settings, "hook_timeout", 10.0),
            retries=int(getattr(settings, "hook_retries", 3)),
            retry_delay=_setting(settings, "hook_retry_delay", 1.0),
        )
    ]
    retention = RetentionService(
        db,
        getattr(app.state, "results", None),
        ages={kind: getattr(settings, f"retention_{kind}", None) for kind in RETENTION_KINDS},
        interval=_setting(settings, "retention_interval", 3600.0),
        batch_size=int(getattr(settings, "retention_batch_size", 200)),
    )
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
