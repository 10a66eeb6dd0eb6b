"""Code that runs on the far side of an executor: in pool processes and Dask workers.

Contract:
    Functions here are importable by name in any worker that has headwater installed,
    import nothing heavy, and restore the submitting side's run context around the call
    (workers start from an empty ``headwater.context``). Context snapshots travel as
    cloudpickle bytes; values that cannot be pickled are left out of the snapshot rather
    than failing the call, because a context value (a lock, an open file, a client) is
    never worth failing a task for. A task run state whose result cannot be pickled back
    to the flow runner becomes a ``Failed`` state saying so, failing that task run only.

    When the context holds ``executor_worker_setup`` (a picklable, idempotent callable
    without arguments), each worker process runs it once, by name, before its first call:
    the hook through which the backend makes pool processes and Dask workers ship their
    logs to the server. Threads share the submitting process and never run it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import cloudpickle

from headwater.engine.state import Failed, State
from headwater.utilities.context import context

__all__ = [
    "WORKER_SETUP_KEY",
    "call_with_context",
    "dumps_snapshot",
    "run_payload",
    "same_snapshot",
]

#: Context key of an optional picklable, idempotent, argument-less callable that worker
#: processes run once before their first call (the backend uses it to ship the logs of
#: task runs in pool processes and Dask workers to the server).
WORKER_SETUP_KEY = "executor_worker_setup"
_SETUP_DONE: set[str] = set()
_SETUP_LOCK = threading.Lock()


def dumps_snapshot(snapshot: dict[str, Any]) -> bytes:
    """Pickle a context snapshot, leaving out the values that cannot be pickled.

    Args:
        snapshot: the result of ``headwater.context.to_dict()``.

    Returns:
        cloudpickle bytes of the picklable part of ``snapshot``.
    """
    try:
        return bytes(cloudpickle.dumps(snapshot))
    except Exception:
        kept: dict[str, Any] = {}
        for key, value in snapshot.items():
            try:
                cloudpickle.dumps(value)
            except Exception:
                continue
            kept[key] = value
        return bytes(cloudpickle.dumps(kept))


def same_snapshot(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two context snapshots hold the same values (False when unsure).

    Values compare by identity first; a value whose ``==`` is not a plain bool (an array,
    say) makes the snapshots count as different rather than raising.
    """
    if a.keys() != b.keys():
        return False
    try:
        return all(a[k] is b[k] or bool(a[k] == b[k]) for k in a)
    except Exception:
        return False


def call_with_context(
    fn: Callable[..., Any], snapshot: bytes, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Call ``fn(*args, **kwargs)`` inside the run context pickled in ``snapshot``.

    Args:
        fn: the function to call.
        snapshot: bytes from :func:`dumps_snapshot`.
        args: positional arguments.
        kwargs: keyword arguments.

    Returns:
        What ``fn`` returned.
    """
    values: dict[str, Any] = cloudpickle.loads(snapshot)
    setup = values.get(WORKER_SETUP_KEY)
    if setup is not None:
        _set_up_once(setup)
    with context(values):
        return fn(*args, **kwargs)


def _set_up_once(setup: Any) -> None:
    """Run a process-wide worker set-up callable once per process (by its name).

    A ``functools.partial`` counts by its ``repr`` (function and arguments), so a partial
    carrying, say, the server's address runs once per distinct address.
    """
    qualname = getattr(setup, "__qualname__", None)
    key = f"{setup.__module__}.{qualname}" if qualname else repr(setup)
    with _SETUP_LOCK:
        if key in _SETUP_DONE:
            return
        _SETUP_DONE.add(key)
    try:
        setup()
    except Exception:
        # A failed set-up (say, log shipping) must not fail the task run itself.
        logging.getLogger("headwater.executors").warning(
            "worker set-up %s failed", key, exc_info=True
        )


def run_payload(payload: bytes) -> bytes:
    """Run a pickled ``(fn, snapshot, args, kwargs)`` call; return its pickled outcome.

    Both directions use cloudpickle, so functions defined in scripts, closures and lambdas
    can run in a pool process. The outcome is ``(True, value)`` or ``(False, exception)``;
    an exception that cannot be pickled is replaced by a ``RuntimeError`` carrying its
    ``repr``, so the caller always learns what went wrong.

    Args:
        payload: cloudpickle bytes of ``(fn, snapshot_bytes, args, kwargs)``.

    Returns:
        cloudpickle bytes of ``(ok, value_or_exception)``.
    """
    fn, snapshot, args, kwargs = cloudpickle.loads(payload)
    try:
        outcome: tuple[bool, Any] = (True, call_with_context(fn, snapshot, args, kwargs))
    except BaseException as exc:
        outcome = (False, exc)
    try:
        return bytes(cloudpickle.dumps(outcome))
    except Exception as exc:
        error: Exception
        if outcome[0]:
            error = TypeError(
                f"the result of {getattr(fn, '__qualname__', fn)!r} cannot be pickled "
                f"to return it from a worker process: {exc}"
            )
            failed = _failed_state(outcome[1], error)
            if failed is not None:
                return bytes(cloudpickle.dumps((True, failed)))
        else:
            error = RuntimeError(repr(outcome[1]))
        return bytes(cloudpickle.dumps((False, error)))


def _failed_state(value: Any, error: Exception) -> Any:
    """A ``Failed`` state replacing a task run state that cannot leave the worker.

    The flow runner submits task runs that return states; when a state's result cannot be
    pickled, that one task run fails (as it would if its result could not be written)
    instead of the whole flow run raising. Other values return None.
    """
    if not isinstance(value, State):
        return None
    return Failed(
        f"Task run result could not be returned from a worker process: {error}", result=error
    )
