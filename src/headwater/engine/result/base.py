"""``headwater.engine.result.base``: Prefect 1's ``prefect.engine.result.base`` path.

Contract:
    Re-exports :class:`Result`, :class:`NoResultType` and :data:`NoResult` from
    :mod:`headwater.engine._result_base`: the objects :mod:`headwater.engine.results`
    exports too, so ``isinstance`` checks agree.
"""

from __future__ import annotations

from headwater.engine._result_base import NoResult, NoResultType, Result

__all__ = ["NoResult", "NoResultType", "Result"]
