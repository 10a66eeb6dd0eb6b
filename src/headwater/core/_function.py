"""``FunctionTask``: a task whose work is a plain function (what ``@task`` builds)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from headwater.core._naming import publish
from headwater.core.task import Task, _check_run_signature

__all__ = ["FunctionTask"]


class FunctionTask(Task):
    """A task that calls ``fn`` with its inputs.

    Args:
        fn: the function to call; its parameters are the task's inputs.
        name: the task name (default: the function's name).
        **kwargs: other :class:`~headwater.Task` options.

    Raises:
        TypeError: when ``fn`` is not callable.
        ValueError: when ``fn`` takes ``*args`` or a reserved argument name.
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None, **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"FunctionTask needs a callable, got {fn!r}.")
        if name is None:
            name = getattr(fn, "__name__", type(self).__name__)
        _check_run_signature(fn, str(name))
        self.run = fn  # type: ignore[method-assign]
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]
        super().__init__(name=name, **kwargs)

    def __repr__(self) -> str:
        return f"<Task: {self.name}>"


publish("headwater.tasks.core.function", globals(), __all__)
