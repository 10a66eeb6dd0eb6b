"""Results: where task values are kept between runs and machines.

Contract:
    Every Result has ``read(location)``, ``write(value, **kwargs)``,
    ``exists(location, **kwargs)``, ``format(**kwargs)``, ``copy()`` and ``to_ref()``;
    :func:`result_from_ref` rebuilds any of them from its reference. See
    ``docs/engine-states-results.md``.

    :class:`ServerResult` talks to the server through the client, so it lives with the
    backend runners (:mod:`headwater.engine.backend._server_result`) and is loaded from
    here on first access: importing this package imports no client.
"""

from typing import TYPE_CHECKING, Any

from headwater.engine._result_base import (
    NoResult,
    NoResultType,
    Result,
    UnresolvedResult,
    result_from_ref,
)
from headwater.engine.results._fsspec import FSSpecResult, GCSResult, S3Result
from headwater.engine.results._headwater import HeadwaterResult
from headwater.engine.results._local import LocalResult

if TYPE_CHECKING:
    from headwater.engine.backend._server_result import ServerResult

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


def __getattr__(name: str) -> Any:
    if name == "ServerResult":
        # deferred: compatibility re-export; ServerResult sits above the client.
        from headwater.engine.backend._server_result import ServerResult

        return ServerResult
    raise AttributeError(f"module 'headwater.engine.results' has no attribute {name!r}")
