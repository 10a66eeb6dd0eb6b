"""``Constant``: a task that returns a fixed value (used for mapped plain values)."""

from __future__ import annotations

from typing import Any

from headwater.core._naming import publish
from headwater.core.task import Task

__all__ = ["Constant"]


class Constant(Task):
    """A task whose result is always ``value``.

    Args:
        value: the value returned.
        name: the task name (default: ``Constant[<type>]``).
        **kwargs: other :class:`~headwater.Task` options.
    """

    def __init__(self, value: Any, name: str | None = None, **kwargs: Any) -> None:
        self.value = value
        super().__init__(name=name or f"Constant[{type(value).__name__}]", **kwargs)

    def run(self) -> Any:
        """Return the constant value."""
        return self.value


publish("headwater.tasks.core.constants", globals(), __all__)
