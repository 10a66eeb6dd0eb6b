"""Collection tasks: build a list, tuple, set or dict out of upstream results.

Contract:
    ``List``/``Tuple``/``Set`` are bound positionally (``List().bind(a, b)``); their inputs
    arrive as ``arg_1 .. arg_n`` and come out in that order. ``Dict`` is bound with
    ``keys=`` and ``values=`` lists. ``as_task`` builds these for collections that hold
    tasks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.core._naming import publish
from headwater.core.task import Task

if TYPE_CHECKING:
    from headwater.core.flow import Flow

__all__ = ["Dict", "List", "Set", "Tuple"]


def _ordered(kwargs: dict[str, Any]) -> list[Any]:
    return [kwargs[k] for k in sorted(kwargs, key=lambda k: int(k.split("_", 1)[1]))]


class _VarArgsTask(Task):
    """A task bound with positional arguments that become ``arg_<i>`` keywords."""

    def bind(  # type: ignore[override]
        self,
        *args: Any,
        upstream_tasks: Any = None,
        flow: Flow | None = None,
        mapped: bool = False,
        **kwargs: Any,
    ) -> Task:
        keywords = {f"arg_{i}": a for i, a in enumerate(args, start=1)}
        keywords.update(kwargs)
        return super().bind(upstream_tasks=upstream_tasks, flow=flow, mapped=mapped, **keywords)


class List(_VarArgsTask):
    """Collect upstream results into a list."""

    def run(self, **task_results: Any) -> list[Any]:
        """Return the inputs as a list, in binding order."""
        return _ordered(task_results)


class Tuple(_VarArgsTask):
    """Collect upstream results into a tuple."""

    def run(self, **task_results: Any) -> tuple[Any, ...]:
        """Return the inputs as a tuple, in binding order."""
        return tuple(_ordered(task_results))


class Set(_VarArgsTask):
    """Collect upstream results into a set."""

    def run(self, **task_results: Any) -> set[Any]:
        """Return the inputs as a set."""
        return set(_ordered(task_results))


class Dict(Task):
    """Build a dict from a list of keys and a list of values."""

    def run(self, keys: list[Any], values: list[Any]) -> dict[Any, Any]:
        """Return ``dict(zip(keys, values))``.

        Raises:
            ValueError: when the lists differ in length.
        """
        if len(keys) != len(values):
            raise ValueError(
                f"Dict task {self.name!r}: got {len(keys)} keys and {len(values)} values."
            )
        return dict(zip(keys, values, strict=True))


publish("headwater.tasks.core.collections", globals(), __all__)
