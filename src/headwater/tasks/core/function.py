"""``FunctionTask`` at its public path; ``@task`` builds it, so it lives in :mod:`headwater.core`."""

from headwater.core._function import (
    FunctionTask,
)

__all__ = [
    "FunctionTask",
]
