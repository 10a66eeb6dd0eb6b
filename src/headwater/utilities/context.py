"""``headwater.context``: the run context, a per-run dict readable from anywhere.

Contract:
    The context is a mapping held in a :class:`contextvars.ContextVar`, so each thread
    and each asyncio task sees its own. Runners push values for the duration of a run
    with ``with headwater.context(flow_name=..., task_run_id=...):``; the values read
    back as attributes (``headwater.context.flow_name``) or items, and ``get`` gives a
    default. On leaving the block the previous context is restored exactly.

    Writes (``context.x = 1``, ``update``, ``clear``) replace the current mapping with an
    updated copy instead of mutating it, so a snapshot handed to another thread (from
    :meth:`Context.to_dict`) never changes under it. Executors restore a snapshot in a
    worker with ``with context(**snapshot):``.

    New threads (which do not inherit context variables) start from the defaults: the
    configuration's ``context`` section (so ``context.secrets`` holds the local secrets),
    installed by :mod:`headwater.utilities.configuration` when it loads, as in Prefect 1.
    ``context.logger`` is the logger of the running task (or flow) when the runner has
    not set one explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextvars import ContextVar, Token
from typing import Any

__all__ = ["Context", "context"]

# The values every thread starts from. Context writes replace the current mapping, never
# mutate it, so this dict only changes through _set_defaults.
_DEFAULTS: dict[str, Any] = {}
_CURRENT: ContextVar[dict[str, Any]] = ContextVar("headwater_context", default=_DEFAULTS)


def _set_defaults(values: Mapping[str, Any]) -> None:
    """Replace the values every context starts from (the configuration's ``context``)."""
    _DEFAULTS.clear()
    _DEFAULTS.update(values)


class _Push:
    """The context manager returned by calling the context: push on enter, pop on exit."""

    __slots__ = ("_ctx", "_token", "_values")

    def __init__(self, ctx: Context, values: dict[str, Any]) -> None:
        self._ctx = ctx
        self._values = values
        self._token: Token[dict[str, Any]] | None = None

    def __enter__(self) -> Context:
        current = _CURRENT.get()
        self._token = _CURRENT.set({**current, **self._values} if current else self._values)
        return self._ctx

    def __exit__(self, *exc: object) -> None:
        token = self._token
        if token is not None:
            self._token = None
            _CURRENT.reset(token)


class Context(MutableMapping[str, Any]):
    """The run context: attribute and item access to the current run's values.

    There is one instance, :data:`context`; its contents depend on the thread or
    asyncio task reading it.
    """

    __slots__ = ()

    def __call__(self, *args: Mapping[str, Any], **kwargs: Any) -> _Push:
        """Return a context manager that adds values for the duration of a ``with`` block.

        Args:
            *args: mappings merged in order.
            **kwargs: values merged last.
        """
        values: dict[str, Any] = {}
        for mapping in args:
            values.update(mapping)
        values.update(kwargs)
        return _Push(self, values)

    # --- mapping protocol (reads are one ContextVar.get plus a dict lookup) -----------

    def __getitem__(self, key: str) -> Any:
        try:
            return _CURRENT.get()[key]
        except KeyError:
            if key == "logger":
                return self._default_logger()
            raise

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return _CURRENT.get()[key]
        except KeyError:
            if key == "logger":
                return self._default_logger()
            raise AttributeError(f"headwater.context has no value for {key!r}") from None

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value for ``key``, or ``default`` when the context has none."""
        value = _CURRENT.get().get(key, _MISSING)
        if value is _MISSING:
            return self._default_logger() if key == "logger" else default
        return value

    def __contains__(self, key: object) -> bool:
        return key in _CURRENT.get()

    def __iter__(self) -> Iterator[str]:
        return iter(list(_CURRENT.get()))

    def __len__(self) -> int:
        return len(_CURRENT.get())

    def __setitem__(self, key: str, value: Any) -> None:
        _CURRENT.set({**_CURRENT.get(), key: value})

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delitem__(self, key: str) -> None:
        current = _CURRENT.get()
        if key not in current:
            raise KeyError(key)
        _CURRENT.set({k: v for k, v in current.items() if k != key})

    def __delattr__(self, key: str) -> None:
        try:
            del self[key]
        except KeyError:
            raise AttributeError(f"headwater.context has no value for {key!r}") from None

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Set several values at once (like ``dict.update``) in the current context."""
        new = dict(_CURRENT.get())
        new.update(*args, **kwargs)
        _CURRENT.set(new)

    def clear(self) -> None:
        """Remove every value from the current context."""
        _CURRENT.set({})

    def to_dict(self) -> dict[str, Any]:
        """Return a snapshot of the current values (a new dict, safe to hand to a worker)."""
        return dict(_CURRENT.get())

    def copy(self) -> dict[str, Any]:
        """Same as :meth:`to_dict`."""
        return dict(_CURRENT.get())

    def _default_logger(self) -> Any:
        # deferred: logging reads run ids from the context, so it imports this module.
        from headwater.utilities.logging import get_logger

        current = _CURRENT.get()
        name = current.get("task_full_name") or current.get("task_name")
        if name is None:
            name = current.get("flow_name")
        return get_logger(str(name) if name is not None else None)

    def __repr__(self) -> str:
        return f"<Context: {_CURRENT.get()!r}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return _CURRENT.get() == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> str:
        # pickled by reference: unpickling yields the receiving process's context
        return "context"


_MISSING = object()

context = Context()
"""The run context."""
