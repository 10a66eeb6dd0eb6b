"""``LocalExecutor``: runs each call immediately, in the submitting thread.

Contract:
    ``submit`` calls the function straight away and returns its value; that value *is*
    the future, and ``wait`` returns its argument unchanged. There is no pool, no copy of
    the run context and no argument walk, so the per-task overhead is one function call.
    This is the default executor of ``flow.run()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.executors.base import Executor

__all__ = ["LocalExecutor"]


class LocalExecutor(Executor):
    """An executor that runs every call synchronously in the calling thread.

    Example:
        >>> from headwater.executors import LocalExecutor
        >>> executor = LocalExecutor()
        >>> with executor.start():
        ...     executor.wait(executor.submit(pow, 2, 10))
        1024
    """

    def __init__(self) -> None:
        super().__init__()

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        extra_context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call ``fn(*args, **kwargs)`` now and return its value.

        Args:
            fn: the function to call.
            *args: positional arguments.
            extra_context: ignored (kept for the common interface).
            **kwargs: keyword arguments.

        Returns:
            The value ``fn`` returned.
        """
        return fn(*args, **kwargs)

    def wait(self, futures: Any) -> Any:
        """Return ``futures`` unchanged: a local "future" is already its value.

        Args:
            futures: values returned by :meth:`submit`, in any structure.

        Returns:
            ``futures`` itself.
        """
        return futures
