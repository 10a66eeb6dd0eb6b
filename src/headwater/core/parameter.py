"""Parameters: flow inputs supplied when the flow runs.

Contract:
    A :class:`Parameter` is a task whose result is the value given for its ``name`` in
    ``flow.run(parameters=...)`` (or a flow run's parameters), else its ``default``. It is
    required when no default is given (unless ``required`` says otherwise). Its slug is
    its name, so two parameters of one flow cannot share a name. Creating a parameter
    inside a ``with Flow(...)`` block adds it to that flow even if nothing uses it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from headwater.core._active import ACTIVE_FLOW
from headwater.core.task import Task
from headwater.engine import signals
from headwater.utilities.context import context

if TYPE_CHECKING:
    from headwater.core.flow import Flow

__all__ = ["DateTimeParameter", "Parameter", "no_default"]


class _NoDefault:
    """Sentinel for "no default given", so that ``None`` can be a real default."""

    def __repr__(self) -> str:
        return "no_default"

    def __reduce__(self) -> str:
        return "no_default"


no_default: Any = _NoDefault()


class Parameter(Task):
    """A flow input.

    Args:
        name: the parameter's name (and slug).
        default: the value used when none is supplied.
        required: whether a value must be supplied; defaults to True when no ``default``
            is given (``default=None`` is a real default, as in Prefect 1).
        tags: labels for the task.

    Raises:
        TypeError: when ``name`` is not a non-empty string.
    """

    def __init__(
        self,
        name: str,
        default: Any = no_default,
        required: bool | None = None,
        tags: Iterable[str] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"A Parameter name must be a non-empty string, got {name!r}.")
        if required is None:
            required = default is no_default
        if default is no_default:
            default = None
        self.default = default
        self.required = bool(required)
        super().__init__(name=name, slug=name, tags=tags)
        flow = ACTIVE_FLOW.get()
        if flow is not None:
            flow.add_task(self)

    def __repr__(self) -> str:
        return f"<Parameter: {self.name}>"

    def copy(self, name: str | None = None, **task_args: Any) -> Task:  # type: ignore[override]
        """A copy of this parameter under a new name.

        Raises:
            ValueError: when no new name is given (two parameters cannot share one).
        """
        if name is None or name == self.name:
            raise ValueError(
                f"Parameter {self.name!r}: a copy needs a new name (parameter names are unique)."
            )
        return super().copy(name=name, slug=name, **task_args)

    def __call__(self, flow: Flow | None = None) -> Task:  # type: ignore[override]
        """Add this parameter (itself, not a copy) to ``flow`` or the active flow."""
        return self.bind(flow=flow)

    def run(self) -> Any:
        """Return the supplied value, else the default.

        Raises:
            FAIL: when the parameter is required and no value was supplied.
        """
        params = context.get("parameters") or {}
        if self.name in params:
            return params[self.name]
        if self.required:
            raise signals.FAIL(f'Parameter "{self.name}" was required but not provided.')
        return self.default


class DateTimeParameter(Parameter):
    """A parameter whose value is an ISO-8601 string parsed into a ``datetime``."""

    def run(self) -> Any:
        """Return the value as a ``datetime`` (``None`` stays ``None``).

        Raises:
            ValueError: when the value is not an ISO-8601 timestamp.
        """
        value = super().run()
        if value is None or isinstance(value, datetime.datetime):
            return value
        try:
            return datetime.datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(
                f"Parameter {self.name!r}: {value!r} is not an ISO-8601 timestamp."
            ) from None
