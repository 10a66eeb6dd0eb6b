"""Build-time state shared by the graph modules: the active flow and the active tags.

Both live in context variables so that building flows in several threads (or asyncio
tasks) at once never mixes them up. They matter only while a flow is being *built*;
running a flow uses ``headwater.context`` instead.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.core.flow import Flow

ACTIVE_FLOW: ContextVar[Flow | None] = ContextVar("headwater_active_flow", default=None)
ACTIVE_TAGS: ContextVar[frozenset[str]] = ContextVar("headwater_active_tags", default=frozenset())


def active_flow() -> Flow | None:
    """Return the flow whose ``with`` block is being executed, if any."""
    return ACTIVE_FLOW.get()
