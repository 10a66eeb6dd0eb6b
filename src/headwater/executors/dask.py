"""``LocalDaskExecutor`` and ``DaskExecutor``: parallel task runs in threads, processes or a cluster.

Contract:
    Both follow :mod:`headwater.executors.base`. Importing this module imports neither
    dask nor distributed; ``DaskExecutor`` imports ``distributed`` in :meth:`start`.

    ``LocalDaskExecutor`` keeps Prefect 1's constructor (``scheduler``, ``num_workers``)
    and scheduler names, but runs on ``concurrent.futures`` pools with eager futures
    instead of ``dask.delayed``: a lazily built dask graph would run a call again each
    time it is computed, while the flow runner waits on mapped parents' upstream futures
    before the rest of the flow. Eager futures run each task exactly once and start work
    as soon as its inputs are ready, and the threads scheduler needs no dask at all.

    ``DaskExecutor`` submits every call to a ``distributed.Client``: to the scheduler at
    ``address``, or to a temporary cluster made from ``cluster_class(**cluster_kwargs)``
    that lives exactly as long as the ``start()`` block. The temporary cluster defaults to
    ``distributed.LocalCluster(processes=False, dashboard_address=":0")``: one
    in-process worker with a thread per core and the dashboard on a free port, which
    starts in well under a second. Pass ``cluster_kwargs={"processes": True, "n_workers": N}`` for process isolation.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, Literal

from headwater.executors import _nested
from headwater.executors._pool import PoolRunner, resolve
from headwater.executors._worker import call_with_context, dumps_snapshot, same_snapshot
from headwater.executors.base import Executor
from headwater.utilities.context import context
from headwater.utilities.logging import get_logger

__all__ = ["DaskExecutor", "LocalDaskExecutor"]

_SCHEDULERS: dict[str, Literal["threads", "processes", "synchronous"]] = {
    "threads": "threads",
    "threading": "threads",
    "processes": "processes",
    "multiprocessing": "processes",
    "synchronous": "synchronous",
    "sync": "synchronous",
    "single-threaded": "synchronous",
}

_DEFAULT_CLUSTER = "distributed.LocalCluster"
_ALREADY_STARTED = (
    "{name} is already started: an executor runs one flow run at a time; give each "
    "concurrent flow run its own executor instance"
)


def _check_workers(num_workers: Any) -> int | None:
    if num_workers is None:
        return None
    if isinstance(num_workers, bool) or not isinstance(num_workers, int):
        raise TypeError(f"num_workers must be an int or None, got {num_workers!r}")
    if num_workers < 1:
        raise ValueError(f"num_workers must be at least 1, got {num_workers}")
    return num_workers


def _logger() -> logging.Logger:
    return get_logger("executors")


def _make_client(distributed: Any, address: Any, kwargs: dict[str, Any]) -> Any:
    return distributed.Client(address, **kwargs)


class LocalDaskExecutor(Executor):
    """Run task runs in parallel on a local pool of threads or processes.

    Args:
        scheduler: ``"threads"`` (default), ``"processes"`` or ``"synchronous"``; the
            dask aliases ``"threading"``, ``"multiprocessing"``, ``"sync"`` and
            ``"single-threaded"`` are accepted too.
        num_workers: pool size; defaults to the number of CPUs.

    Raises:
        ValueError: for an unknown scheduler name or a ``num_workers`` below 1.
        TypeError: for an unknown option or a ``num_workers`` that is not an int.

    With ``"processes"``, workers are spawned (not forked) and calls travel with
    cloudpickle, so scripts that run flows this way must guard their entry point with
    ``if __name__ == "__main__":``, as with any spawned process pool.
    """

    def __init__(
        self,
        scheduler: Literal[
            "threads",
            "threading",
            "processes",
            "multiprocessing",
            "synchronous",
            "sync",
            "single-threaded",
        ] = "threads",
        num_workers: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(scheduler, str) or scheduler not in _SCHEDULERS:
            raise ValueError(
                f"unknown scheduler {scheduler!r} for LocalDaskExecutor; "
                "expected 'threads', 'processes' or 'synchronous'"
            )
        self.scheduler: Literal["threads", "processes", "synchronous"] = _SCHEDULERS[scheduler]
        self.num_workers = _check_workers(num_workers)
        self._runner: Any = None

    def __repr__(self) -> str:
        return f"<Executor: LocalDaskExecutor(scheduler={self.scheduler!r})>"

    def _runtime_attributes(self) -> frozenset[str]:
        return frozenset({"_runner"})

    def _reset_runtime(self) -> None:
        self._runner = None

    @contextmanager
    def start(self) -> Iterator[None]:
        """Create the pool (none for ``"synchronous"``) and close it when the block ends.

        Yields:
            Nothing; submit work inside the block.
        """
        if self.scheduler != "synchronous":
            if self._runner is not None:
                raise RuntimeError(_ALREADY_STARTED.format(name="LocalDaskExecutor"))
            self._runner = PoolRunner(self.scheduler, self.num_workers or os.cpu_count() or 1)
        self._started = True
        try:
            yield
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Wait for running calls, then stop the pool; idempotent."""
        runner, self._runner = self._runner, None
        self._started = False
        if runner is not None:
            runner.close()

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        extra_context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Schedule ``fn(*args, **kwargs)`` on the pool; see the executor contract.

        Args:
            fn: the function to call.
            *args: positional arguments; futures from this executor are resolved first.
            extra_context: ignored by this executor.
            **kwargs: keyword arguments; futures are resolved first.

        Returns:
            A ``concurrent.futures.Future`` (with ``"synchronous"``: the value itself).

        Raises:
            RuntimeError: when called outside ``start()``.
        """
        if self.scheduler == "synchronous":
            return fn(*args, **kwargs)
        runner = self._runner
        if runner is None:
            raise RuntimeError("LocalDaskExecutor.submit() called outside executor.start()")
        return runner.submit(fn, args, kwargs)

    def wait(self, futures: Any) -> Any:
        """Block until every future inside ``futures`` is done; return their values.

        Args:
            futures: futures from :meth:`submit`, nested in any built-in containers.

        Returns:
            The same structure with values in place of futures.
        """
        if self.scheduler == "synchronous":
            return futures

        return resolve(futures)


class DaskExecutor(Executor):
    """Run task runs on a Dask distributed cluster, existing or temporary.

    Args:
        address: the scheduler address (``"tcp://host:port"``); ``None`` starts a
            temporary cluster for each ``start()`` block.
        cluster_class: the cluster to start when there is no address: a callable or an
            import string such as ``"distributed.LocalCluster"``.
        cluster_kwargs: keyword arguments for ``cluster_class``.
        adapt_kwargs: when given, ``cluster.adapt(**adapt_kwargs)`` makes the temporary
            cluster adaptive.
        client_kwargs: keyword arguments for ``distributed.Client``
            (``set_as_default`` defaults to False).
        debug: when False (default), a temporary ``LocalCluster`` only logs critical
            messages.
        performance_report_path: when given, a Dask performance report (HTML) of each
            flow run is written to this path.

    Raises:
        ValueError: when ``address`` is combined with cluster options, or an argument
            has the wrong shape.
        TypeError: for an unknown option.
    """

    def __init__(
        self,
        address: str | None = None,
        cluster_class: str | Callable[..., Any] | None = None,
        cluster_kwargs: dict[str, Any] | None = None,
        adapt_kwargs: dict[str, Any] | None = None,
        client_kwargs: dict[str, Any] | None = None,
        debug: bool = False,
        performance_report_path: str | None = None,
    ) -> None:
        super().__init__()
        if address is not None:
            if not isinstance(address, str) or not address:
                raise ValueError(f"address must be a scheduler address string, got {address!r}")
            given = [
                name
                for name, value in (
                    ("cluster_class", cluster_class),
                    ("cluster_kwargs", cluster_kwargs),
                    ("adapt_kwargs", adapt_kwargs),
                )
                if value is not None
            ]
            if given:
                raise ValueError(
                    f"DaskExecutor: {', '.join(given)} cannot be combined with address "
                    f"{address!r} (they describe a temporary cluster)"
                )
        if cluster_class is not None and not (
            isinstance(cluster_class, str) or callable(cluster_class)
        ):
            raise ValueError(
                f"cluster_class must be a callable or an import string, got {cluster_class!r}"
            )
        for name, value in (
            ("cluster_kwargs", cluster_kwargs),
            ("adapt_kwargs", adapt_kwargs),
            ("client_kwargs", client_kwargs),
        ):
            if value is not None and not isinstance(value, dict):
                raise ValueError(f"{name} must be a dict, got {value!r}")
        self.address = address
        self.cluster_class = cluster_class
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.adapt_kwargs = dict(adapt_kwargs) if adapt_kwargs is not None else None
        self.client_kwargs = dict(client_kwargs or {})
        self.client_kwargs.setdefault("set_as_default", False)
        self.debug = bool(debug)
        if performance_report_path is not None and not isinstance(performance_report_path, str):
            raise ValueError(
                f"performance_report_path must be a path string, got {performance_report_path!r}"
            )
        self.performance_report_path = performance_report_path
        self.client: Any = None
        self.cluster: Any = None
        self._stack: ExitStack | None = None
        self._snapshot_cache: tuple[dict[str, Any], bytes] | None = None

    def __repr__(self) -> str:
        where = self.address or "temporary cluster"
        return f"<Executor: DaskExecutor({where})>"

    def _runtime_attributes(self) -> frozenset[str]:
        return frozenset({"client", "cluster", "_stack", "_snapshot_cache"})

    def _reset_runtime(self) -> None:
        self.client = None
        self.cluster = None
        self._stack = None
        self._snapshot_cache = None

    def _cluster_factory(self) -> tuple[Callable[..., Any], dict[str, Any]]:
        spec = self.cluster_class if self.cluster_class is not None else _DEFAULT_CLUSTER
        if isinstance(spec, str):
            module_name, _, attr = spec.rpartition(".")
            try:
                factory = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError, ValueError) as exc:
                raise ValueError(f"cannot import cluster_class {spec!r}: {exc}") from exc
        else:
            factory = spec
        kwargs = dict(self.cluster_kwargs)
        # deferred: dask.distributed costs about a second; only DaskExecutor runs load it.
        from distributed import LocalCluster

        if factory is LocalCluster:
            kwargs.setdefault("processes", False)
            kwargs.setdefault("dashboard_address", ":0")
            if not self.debug:
                kwargs.setdefault("silence_logs", logging.CRITICAL)
        return factory, kwargs

    @contextmanager
    def start(self) -> Iterator[None]:
        """Connect to the scheduler (or start a temporary cluster) for the block.

        Yields:
            Nothing; submit work inside the block.

        Raises:
            ConnectionError: when the scheduler at ``address`` cannot be reached.
        """
        try:
            # deferred: dask.distributed costs about a second; only DaskExecutor runs load it.
            import distributed
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ImportError(
                "DaskExecutor needs dask.distributed: pip install 'headwater[dask]'"
            ) from exc
        if self._stack is not None:
            raise RuntimeError(_ALREADY_STARTED.format(name="DaskExecutor"))
        if self.performance_report_path is not None and importlib.util.find_spec("bokeh") is None:
            raise ImportError(
                "DaskExecutor(performance_report_path=...) needs bokeh: pip install bokeh"
            )
        stack = ExitStack()
        self._stack = stack
        try:
            if self.address is not None:
                _logger().info("Connecting to the Dask scheduler at %s", self.address)
                try:
                    self.client = stack.enter_context(
                        _make_client(distributed, self.address, self.client_kwargs)
                    )
                except OSError as exc:
                    raise ConnectionError(
                        f"DaskExecutor could not connect to the Dask scheduler at "
                        f"{self.address!r}: {exc}"
                    ) from exc
            else:
                factory, kwargs = self._cluster_factory()
                _logger().info(
                    "Creating a temporary Dask cluster: %s(%s)",
                    getattr(factory, "__qualname__", factory),
                    ", ".join(f"{k}={v!r}" for k, v in sorted(kwargs.items())),
                )
                self.cluster = stack.enter_context(factory(**kwargs))
                if self.adapt_kwargs is not None:
                    self.cluster.adapt(**self.adapt_kwargs)
                self.client = stack.enter_context(
                    _make_client(distributed, self.cluster, self.client_kwargs)
                )
            link = getattr(self.client, "dashboard_link", None)
            if link:
                _logger().info("The Dask dashboard is available at %s", link)
            if self.performance_report_path is not None:
                # The report finds its client as the "current" one, which a client made
                # with set_as_default=False is not until as_current() says so.
                stack.enter_context(self.client.as_current())
                report: Any = distributed.performance_report
                stack.enter_context(report(filename=self.performance_report_path))
        except BaseException:
            stack.close()
            self._reset_runtime()
            raise
        self._stack = stack
        self._started = True
        try:
            yield
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Close the client (and the temporary cluster); idempotent."""
        stack, self._stack = self._stack, None
        self._started = False
        try:
            if stack is not None:
                stack.close()
        finally:
            self._reset_runtime()

    def _snapshot(self) -> bytes:
        # The flow runner submits many calls under one unchanged context; pickle it once.
        current = context.to_dict()
        cached = self._snapshot_cache
        if cached is not None and same_snapshot(cached[0], current):
            return cached[1]
        data = dumps_snapshot(current)
        self._snapshot_cache = (current, data)
        return data

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        extra_context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Submit ``fn(*args, **kwargs)`` to the cluster; see the executor contract.

        Args:
            fn: the function to call.
            *args: positional arguments; distributed futures in them are resolved first.
            extra_context: ``task_full_name`` (or ``task_name``) names the Dask key.
            **kwargs: keyword arguments; distributed futures are resolved first.

        Returns:
            A ``distributed.Future``.

        Raises:
            RuntimeError: when called outside ``start()``.
        """
        client = self.client
        if client is None:
            raise RuntimeError("DaskExecutor.submit() called outside executor.start()")

        extra = extra_context or {}
        name = extra.get("task_full_name") or extra.get("task_name")
        if name is None:
            name = getattr(fn, "__qualname__", None) or type(fn).__name__
        key = f"{name}-{uuid.uuid4().hex}"
        return client.submit(
            call_with_context, fn, self._snapshot(), args, kwargs, key=key, pure=False
        )

    def wait(self, futures: Any) -> Any:
        """Gather every distributed future inside ``futures``; return their values.

        Args:
            futures: futures from :meth:`submit`, nested in any built-in containers.

        Returns:
            The same structure with values in place of futures.
        """
        # deferred: dask.distributed costs about a second; only DaskExecutor runs load it.
        from distributed import Future

        client = self.client
        found: list[Any] = []
        _nested.collect(futures, lambda obj: isinstance(obj, Future), found)
        if not found:
            return futures
        if client is None:
            raise RuntimeError("DaskExecutor.wait() called outside executor.start()")
        values = dict(zip((f.key for f in found), client.gather(found), strict=True))
        return _nested.replace(
            futures, lambda obj: isinstance(obj, Future), lambda f: values[f.key]
        )
