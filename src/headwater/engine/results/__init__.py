"""Results: where task values are kept between runs and machines.

Contract:
    Every Result has ``read(location)``, ``write(value, **kwargs)``,
    ``exists(location, **kwargs)``, ``format(**kwargs)``, ``copy()`` and ``to_ref()``;
    :func:`result_from_ref` rebuilds any of them from its reference. See
    ``docs/engine-states-results.md``.
"""

from headwater.engine.results._base import (
    NoResult,
    NoResultType,
    Result,
    UnresolvedResult,
    result_from_ref,
)
from headwater.engine.results._fsspec import FSSpecResult, GCSResult, S3Result
from headwater.engine.results._headwater import HeadwaterResult
from headwater.engine.results._local import LocalResult
from headwater.engine.results._server import ServerResult

__all__ = [
    "FSSpecResult",
    "GCSResult",
    "HeadwaterResult",
    "LocalResult",
    "NoResult",
    "NoResultType",
    "Result",
    "S3Result",
    "ServerResult",
    "UnresolvedResult",
    "result_from_ref",
]
