"""Small collection helpers: :class:`DotDict` and dict merging.

Contract:
    A :class:`DotDict` is a ``dict`` whose keys are also attributes; nested dicts given
    to it become DotDicts too, so ``config.server.api_url`` works at any depth.
    :func:`merge_dicts` merges nested dicts without mutating its inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["DotDict", "as_nested_dict", "flatten_keys", "flatten_seq", "merge_dicts"]


class DotDict(dict[str, Any]):
    """A dict with attribute access; nested mappings are converted to DotDicts.

    Args:
        init: an initial mapping (or iterable of pairs).
        **kwargs: further items.
    """

    def __init__(self, init: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), **kwargs: Any):
        super().__init__()
        self.update(init, **kwargs)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        try:
            del self[key]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no key {key!r}") from None

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, Mapping) and not isinstance(value, DotDict):
            value = DotDict(value)
        super().__setitem__(key, value)

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Set items like ``dict.update``, converting nested mappings."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Like ``dict.setdefault``, converting a nested mapping default."""
        if key not in self:
            self[key] = default
        return self[key]

    def copy(self) -> DotDict:  # type: ignore[override]
        """Return a deep copy of the nesting (leaf values are shared)."""
        return DotDict(as_nested_dict(self))

    def to_dict(self) -> dict[str, Any]:
        """Return plain nested dicts."""
        return as_nested_dict(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"


def as_nested_dict(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a (nested) mapping into plain nested dicts."""
    return {k: as_nested_dict(v) if isinstance(v, Mapping) else v for k, v in obj.items()}


def merge_dicts(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into ``base`` recursively, returning a new dict.

    Nested mappings merge key by key; any other value in ``override`` replaces the one
    in ``base``.
    """
    merged: dict[str, Any] = as_nested_dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_dicts(merged[key], value)
        elif isinstance(value, Mapping):
            merged[key] = as_nested_dict(value)
        else:
            merged[key] = value
    return merged


def flatten_keys(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings into dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in obj.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_keys(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def flatten_seq(seq: Iterable[Any]) -> Iterator[Any]:
    """Yield the leaves of arbitrarily nested lists, tuples and sets (strings are leaves)."""
    for item in seq:
        if isinstance(item, (list, tuple, set, frozenset)):
            yield from flatten_seq(item)
        else:
            yield item
