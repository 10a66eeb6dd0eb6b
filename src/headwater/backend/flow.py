"""``headwater.backend.flow``: Prefect 1's ``prefect.backend.flow`` path.

Contract:
    Re-exports :class:`FlowView` (the object :mod:`headwater.backend` exports).
"""

from __future__ import annotations

from headwater.backend._flow import FlowView

__all__ = ["FlowView"]
