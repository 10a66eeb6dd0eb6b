"""``resource_manager``: set a resource up before a block of tasks, clean it up after.

Contract:
    Decorate a class that has ``setup(self) -> resource`` and ``cleanup(self, resource)``.
    Inside a flow, ``with MyResource(args) as resource:`` adds three tasks: *init*
    (builds the object from ``args``), *setup* (its result is ``resource``) and, when the
    block ends, *cleanup*. Every task of the block without an upstream task in the block
    runs after setup; cleanup runs after the block's last tasks whatever their outcome,
    and is skipped only when setup did not succeed. The cleanup task does not decide the
    flow's state: where it is terminal, the block's last tasks count as reference tasks
    in its place.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from headwater.core._active import ACTIVE_FLOW
from headwater.core.flow import Flow
from headwater.core.task import Task
from headwater.engine import signals

__all__ = ["ResourceManager", "resource_manager"]


class ResourceInit(Task):
    """Build the resource manager object from the block's arguments."""

    def __init__(self, resource_class: type, **kwargs: Any) -> None:
        self.resource_class = resource_class
        super().__init__(**kwargs)

    def run(self, **arguments: Any) -> Any:
        """Return ``resource_class(**arguments)``."""
        return self.resource_class(**arguments)


class ResourceSetup(Task):
    """Call ``setup()``; the result is the resource the block's tasks use."""

    def run(self, mgr: Any) -> Any:
        """Return ``mgr.setup()``."""
        return mgr.setup()


def resource_cleanup_trigger(upstream_states: Mapping[Any, Any]) -> bool:
    """Run once everything upstream finished, provided setup succeeded (else skip)."""
    for edge, state in upstream_states.items():
        key = getattr(edge, "key", None) or (edge[0].key if isinstance(edge, tuple) else None)
        if key == "resource" and not state.is_successful():
            raise signals.SKIP("Resource setup did not succeed; there is nothing to clean up.")
    return True


class ResourceCleanup(Task):
    """Call ``cleanup(resource)`` after the block."""

    # Flow.reference_tasks() looks through this task to the block's last tasks.
    _reference_passthrough = True

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trigger", resource_cleanup_trigger)
        kwargs.setdefault("skip_on_upstream_skip", False)
        super().__init__(**kwargs)

    def run(self, mgr: Any, resource: Any) -> None:
        """Call ``mgr.cleanup(resource)``."""
        mgr.cleanup(resource)


class ResourceContext:
    """What ``with MyResource(...) as resource:`` enters; yields the setup task."""

    def __init__(self, flow: Flow, init: Task, setup: Task, name: str, cleanup_kwargs: Any) -> None:
        self.flow = flow
        self.init = init
        self.setup = setup
        self.name = name
        self.cleanup_kwargs = dict(cleanup_kwargs or {})
        self.cleanup: Task | None = None
        self._before: set[Task] = set()

    def __enter__(self) -> Task:
        self._before = set(self.flow.tasks)
        return self.setup

    def __exit__(self, *exc: object) -> None:
        flow = self.flow
        block = [t for t in flow.slugs if t not in self._before]
        block_set = set(block)
        for t in block:
            if not block_set & flow.upstream_tasks(t) and self.setup not in flow.upstream_tasks(t):
                t.set_upstream(self.setup, flow=flow)
        last = [t for t in block if not block_set & flow.downstream_tasks(t)]
        cleanup = ResourceCleanup(name=f"{self.name}.cleanup", **self.cleanup_kwargs)
        self.cleanup = cleanup.bind(
            mgr=self.init, resource=self.setup, upstream_tasks=last, flow=flow
        )


class ResourceManager:
    """A class turned into a resource manager by :func:`resource_manager`.

    Args:
        resource_class: the class with ``setup`` and ``cleanup``.
        name: task name prefix (default: the class name).
        init_task_kwargs: options of the init task.
        setup_task_kwargs: options of the setup task.
        cleanup_task_kwargs: options of the cleanup task.

    Raises:
        TypeError: when the class lacks ``setup`` or ``cleanup``.
    """

    def __init__(
        self,
        resource_class: type,
        name: str | None = None,
        init_task_kwargs: dict[str, Any] | None = None,
        setup_task_kwargs: dict[str, Any] | None = None,
        cleanup_task_kwargs: dict[str, Any] | None = None,
    ) -> None:
        for method in ("setup", "cleanup"):
            if not callable(getattr(resource_class, method, None)):
                raise TypeError(
                    f"resource_manager: {resource_class.__name__} needs a {method}() method."
                )
        self.resource_class = resource_class
        self.name = name or resource_class.__name__
        self.init_task_kwargs = dict(init_task_kwargs or {})
        self.setup_task_kwargs = dict(setup_task_kwargs or {})
        self.cleanup_task_kwargs = dict(cleanup_task_kwargs or {})

    def __call__(self, *args: Any, flow: Flow | None = None, **kwargs: Any) -> ResourceContext:
        """Add the init and setup tasks; use the result in a ``with`` block.

        Raises:
            ValueError: outside a flow.
            TypeError: when the arguments do not fit the class's ``__init__``.
        """
        flow = flow if flow is not None else ACTIVE_FLOW.get()
        if flow is None:
            raise ValueError(
                f"resource manager {self.name!r} must be used inside a `with Flow(...)` block."
            )
        try:
            arguments = inspect.signature(self.resource_class).bind(*args, **kwargs).arguments
        except TypeError as exc:
            raise TypeError(f"resource manager {self.name!r}: {exc}") from None
        init_kwargs = {"name": self.name, **self.init_task_kwargs}
        init = ResourceInit(self.resource_class, **init_kwargs).bind(flow=flow, **arguments)
        setup_kwargs = {"name": f"{self.name}.setup", **self.setup_task_kwargs}
        setup = ResourceSetup(**setup_kwargs).bind(mgr=init, flow=flow)
        return ResourceContext(flow, init, setup, self.name, self.cleanup_task_kwargs)


def resource_manager(
    resource_class: type | None = None,
    name: str | None = None,
    init_task_kwargs: dict[str, Any] | None = None,
    setup_task_kwargs: dict[str, Any] | None = None,
    cleanup_task_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Turn a class with ``setup``/``cleanup`` into a resource manager (bare or with options).

    Returns:
        A :class:`ResourceManager`, or a decorator producing one.
    """

    def wrap(cls: type) -> ResourceManager:
        return ResourceManager(
            cls,
            name=name,
            init_task_kwargs=init_task_kwargs,
            setup_task_kwargs=setup_task_kwargs,
            cleanup_task_kwargs=cleanup_task_kwargs,
        )

    if resource_class is None:
        decorator: Callable[[type], ResourceManager] = wrap
        return decorator
    return wrap(resource_class)
