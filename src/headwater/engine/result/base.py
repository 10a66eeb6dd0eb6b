"""``headwater.engine.result.base``: Prefect 1's ``prefect.engine.result.base`` path.

Contract:
    Re-exports :class:`Result`, :class:`NoResultType` and :data:`NoResult` from
    :mod:`headwater.engine.results` (the same objects, so ``isinstance`` checks agree).
"""

from __future__ import annotations

from headwater.engine.results._base import NoResult, NoResultType, Result

__all__ = ["NoResult", "NoResultType", "Result"]
