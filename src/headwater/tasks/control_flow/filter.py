"""``FilterTask``: keep the useful results of a mapped task and drop the rest.

Contract:
    ``FilterTask(filter_func=None)`` takes a list (usually a mapped task's results) and
    returns the items ``filter_func`` accepts. The default drops ``None`` and exceptions
    (the results of failed and skipped children), so a reduce can go on after some
    children failed. It runs whatever its upstream states (trigger ``all_finished``,
    ``skip_on_upstream_skip=False``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater import triggers
from headwater.core.task import Task

__all__ = ["FilterTask"]


def _default_filter(value: Any) -> bool:
    return value is not None and not isinstance(value, BaseException)


class FilterTask(Task):
    """Filter a list of results.

    Args:
        filter_func: ``fn(item) -> bool``; keep the items it accepts (default: drop
            ``None`` and exceptions).
        log_func: ``fn(kept) -> str`` whose text is logged at INFO after filtering.
        **kwargs: other :class:`~headwater.Task` options.
    """

    def __init__(
        self,
        filter_func: Callable[[Any], bool] | None = None,
        log_func: Callable[[list[Any]], str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.filter_func = filter_func or _default_filter
        self.log_func = log_func
        kwargs.setdefault("skip_on_upstream_skip", False)
        kwargs.setdefault("trigger", triggers.all_finished)
        super().__init__(**kwargs)

    def run(self, task_results: list[Any]) -> list[Any]:
        """Return the items of ``task_results`` that ``filter_func`` accepts."""
        kept = [item for item in task_results if self.filter_func(item)]
        if self.log_func is not None:
            self.logger.info(self.log_func(kept))
        return kept
