"""The executor interface: how a flow runner hands task runs to something that runs them.

Contract:
    An executor is used in three steps, always in this order::

        with executor.start():
            future = executor.submit(fn, *args, extra_context={...}, **kwargs)
            ...
            values = executor.wait({"a": future, "b": [future2, future3]})

    - ``start()`` is a context manager that acquires whatever the executor needs (a
      thread pool, a Dask cluster, a client connection) and always releases it on exit,
      also when the body raises. ``shutdown()`` releases it early and is idempotent.
    - ``submit(fn, *args, extra_context=None, **kwargs)`` schedules ``fn(*args,
      **kwargs)`` and returns a *future*. Futures returned by the same executor may appear
      anywhere inside ``args``/``kwargs`` (directly, or nested in lists, tuples, sets and
      dict values); the call then runs only once all of them are resolved, and receives
      their values in their place. ``extra_context`` describes the call (``task_name``,
      ``task_slug``, ``task_full_name``, ``map_index``); executors use it for naming only.
    - The headwater run context (``headwater.context``) of the submitting thread is
      visible inside ``fn``, whichever thread, process or machine runs it.
    - ``wait(futures)`` blocks until every future inside ``futures`` (a single future, or
      lists/tuples/sets/dicts of them, nested to any depth) is resolved and returns the
      same structure with values in place of futures. Other objects pass through
      unchanged. A future may be waited on any number of times; waiting never runs a
      call a second time. If a call raised, ``wait`` raises that exception.
    - Executors are picklable at any time (a flow carrying one can be stored with
      cloudpickle); the pickled copy holds configuration only, never a live pool or
      client, and must be started again before use.

    ``LocalExecutor``'s futures are the plain return values, so its ``wait`` is the
    identity; it is also what runners use when they are given no executor.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Executor"]


class Executor(abc.ABC):
    """Base class of all executors.

    Subclasses implement :meth:`submit` and :meth:`wait`, and usually override
    :meth:`start` to acquire and release resources.
    """

    def __init__(self) -> None:
        self._started = False

    def __repr__(self) -> str:
        return f"<Executor: {type(self).__name__}>"

    @contextmanager
    def start(self) -> Iterator[None]:
        """Acquire the executor's resources for the duration of a ``with`` block.

        Yields:
            Nothing; submit work inside the block.
        """
        self._started = True
        try:
            yield
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Release the executor's resources; calling it again does nothing."""
        self._started = False

    @abc.abstractmethod
    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        extra_context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Schedule ``fn(*args, **kwargs)`` and return a future for its result.

        Args:
            fn: the function to call.
            *args: positional arguments; futures from this executor are resolved first.
            extra_context: names describing the call (``task_full_name``,
                ``task_slug``, ``map_index``), used to name it in logs and dashboards.
            **kwargs: keyword arguments; futures are resolved first.

        Returns:
            A future understood by :meth:`wait`.
        """

    @abc.abstractmethod
    def wait(self, futures: Any) -> Any:
        """Resolve every future inside ``futures`` and return the same structure.

        Args:
            futures: a future, or lists/tuples/sets/dicts holding futures at any depth.

        Returns:
            ``futures`` with each future replaced by its value.
        """

    def __getstate__(self) -> dict[str, Any]:
        # Live resources (pools, clients, clusters, threads) never travel with a
        # pickled executor; the copy is a fresh, unstarted executor.
        state = {k: v for k, v in self.__dict__.items() if k not in self._runtime_attributes()}
        state["_started"] = False
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset_runtime()

    def _runtime_attributes(self) -> frozenset[str]:
        """Names of attributes that hold live resources and are dropped when pickling."""
        return frozenset()

    def _reset_runtime(self) -> None:
        """Set the live-resource attributes to their unstarted values."""
        return None
