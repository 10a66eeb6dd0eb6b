"""``headwater.engine.result``: Prefect 1's ``prefect.engine.result`` path.

Contract:
    Re-exports the base :class:`Result` that custom results subclass (implementing
    ``read``, ``write`` and ``exists``) and the :data:`NoResult` sentinel. They are the
    objects of :mod:`headwater.engine.results`, where the concrete results live.
"""

from __future__ import annotations

from headwater.engine.result.base import NoResult, NoResultType, Result

__all__ = ["NoResult", "NoResultType", "Result"]
