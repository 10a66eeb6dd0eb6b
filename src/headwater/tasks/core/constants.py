"""``Constant`` at its public path; the graph builds it, so it lives in :mod:`headwater.core`."""

from headwater.core._constants import (
    Constant,
)

__all__ = [
    "Constant",
]
