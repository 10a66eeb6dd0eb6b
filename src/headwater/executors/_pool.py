"""Thread and process pools with dependency-aware submission (the engine of LocalDaskExecutor).

Contract:
    ``PoolRunner.submit(fn, args, kwargs)`` returns a ``concurrent.futures.Future`` at
    once. When the arguments hold futures of the same runner, the call is *not* handed to
    the pool until all of them are done; a small dispatcher thread then resolves them and
    submits the call. Workers therefore never block on other work, so any number of
    dependent calls runs on any number of workers without deadlock, and futures are
    eager: each call runs exactly once, however often it is waited on.

    If an upstream future failed, the dependent future fails with the same exception and
    the call never runs. Calls made after :meth:`PoolRunner.close` (or whose inputs finish
    after it) fail with ``RuntimeError``.

    Threads run the call in a copy of the submitting thread's ``contextvars`` context.
    Processes are started with the ``spawn`` method (safe in multi-threaded parents) and
    receive the call as cloudpickle bytes together with a snapshot of ``headwater.context``.
"""

from __future__ import annotations

import contextvars
import multiprocessing
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor as _CFExecutor
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Literal

import cloudpickle

from headwater.executors import _nested
from headwater.executors._worker import dumps_snapshot, run_payload, same_snapshot
from headwater.utilities.context import context

__all__ = ["PoolRunner", "is_future", "resolve"]

_Item = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any], Any]


def is_future(obj: Any) -> bool:
    """Whether ``obj`` is a ``concurrent.futures.Future``."""
    return isinstance(obj, Future)


def _result(future: Any) -> Any:
    return future.result()


def resolve(obj: Any) -> Any:
    """Block until every future inside ``obj`` is done; return ``obj`` with their values."""
    return _nested.replace(obj, is_future, _result)


def _copy_outcome(source: Future[Any], target: Future[Any]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.set_exception(RuntimeError("the call was cancelled: the executor shut down"))
        return
    exc = source.exception()
    if exc is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())


def _unpickle_outcome(source: Future[Any], target: Future[Any]) -> None:
    if target.done():
        return
    if source.cancelled() or source.exception() is not None:
        _copy_outcome(source, target)
        return
    try:
        ok, value = cloudpickle.loads(source.result())
    except Exception as exc:
        target.set_exception(exc)
        return
    if ok:
        target.set_result(value)
    else:
        target.set_exception(value)


class PoolRunner:
    """A thread or process pool plus the dispatcher that releases dependent calls.

    Args:
        kind: ``"threads"`` or ``"processes"``.
        num_workers: the pool size (at least 1).
    """

    def __init__(self, kind: Literal["threads", "processes"], num_workers: int) -> None:
        self.kind = kind
        self._pool: _CFExecutor
        if kind == "threads":
            self._pool = ThreadPoolExecutor(num_workers, thread_name_prefix="headwater-worker")
        else:
            self._pool = ProcessPoolExecutor(
                num_workers, mp_context=multiprocessing.get_context("spawn")
            )
        self._ready: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._dispatcher: threading.Thread | None = None
        self._snapshot: tuple[dict[str, Any], bytes] | None = None

    # --- submission -----------------------------------------------------------------

    def submit(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Future[Any]:
        """Schedule ``fn(*args, **kwargs)``; see the module contract."""
        captured = self._capture()
        deps: list[Any] = []
        _nested.collect(args, is_future, deps)
        _nested.collect(kwargs, is_future, deps)
        if not deps and self.kind == "threads":
            # Fast path: nothing to wait for or to unpickle, so the pool's own future
            # is the caller's future.
            return self._pool.submit(captured.run, fn, *args, **kwargs)
        pending = [d for d in {id(d): d for d in deps}.values() if not d.done()]
        if not pending:
            outer: Future[Any] = Future()
            outer.set_running_or_notify_cancel()
            # Inputs hold no pending future; done ones still need their values.
            self._launch((outer, fn, args, kwargs, captured), resolved=not deps)
            return outer
        outer = Future()
        remaining = [len(pending)]
        item: _Item = (outer, fn, args, kwargs, captured)

        def on_done(_: Future[Any]) -> None:
            with self._lock:
                remaining[0] -= 1
                if remaining[0]:
                    return
                if self._closed:
                    outer.set_exception(RuntimeError("the executor was shut down"))
                    return
                self._ensure_dispatcher()
                # Enqueued under the lock, so close() cannot slip its stop marker in
                # ahead of this item and leave the future pending forever.
                self._ready.put(item)

        for dep in pending:
            dep.add_done_callback(on_done)
        return outer

    def _capture(self) -> Any:
        if self.kind == "threads":
            return contextvars.copy_context()
        # The flow runner submits many calls under one unchanged context; pickle it once.
        current = context.to_dict()
        cached = self._snapshot
        if cached is not None and same_snapshot(cached[0], current):
            return cached[1]
        data = dumps_snapshot(current)
        self._snapshot = (current, data)
        return data

    def _launch(self, item: _Item, resolved: bool = False) -> None:
        """Resolve the arguments of a ready call and hand it to the pool."""
        outer, fn, args, kwargs, captured = item
        if outer.done():
            return
        if not outer.running():
            outer.set_running_or_notify_cancel()
        try:
            if not resolved:
                args = resolve(args)
                kwargs = resolve(kwargs)
            if self.kind == "threads":
                inner = self._pool.submit(captured.run, fn, *args, **kwargs)
                inner.add_done_callback(lambda f: _copy_outcome(f, outer))
            else:
                payload = cloudpickle.dumps((fn, captured, args, kwargs))
                inner = self._pool.submit(run_payload, payload)
                inner.add_done_callback(lambda f: _unpickle_outcome(f, outer))
        except BaseException as exc:
            # An upstream failure, an unpicklable argument or a pool that is shutting
            # down: the call cannot run, and its future says why.
            if not outer.done():
                outer.set_exception(exc)

    # --- dispatcher -----------------------------------------------------------------

    def _ensure_dispatcher(self) -> None:
        # Called with self._lock held.
        if self._dispatcher is None:
            self._dispatcher = threading.Thread(
                target=self._dispatch, name="headwater-dispatcher", daemon=True
            )
            self._dispatcher.start()

    def _dispatch(self) -> None:
        while True:
            item = self._ready.get()
            if item is None:
                return
            self._launch(item)

    # --- shutdown -------------------------------------------------------------------

    def close(self) -> None:
        """Stop the dispatcher and the pool, waiting for calls that are running."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            dispatcher = self._dispatcher
        if dispatcher is not None:
            self._ready.put(None)
            dispatcher.join()
        self._pool.shutdown(wait=True, cancel_futures=True)
