"""Walking nested argument structures: find futures in them and replace them by values.

Only the built-in containers are traversed (list, tuple, set, frozenset, dict values),
exactly as the executor contract states; anything else is an opaque leaf. Named tuples
keep their type. Structures without any future are returned as the very same object, so
resolving an argument list that holds no future costs one walk and no copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["collect", "replace"]

_CONTAINERS = (list, tuple, set, frozenset, dict)


def collect(obj: Any, is_future: Callable[[Any], bool], found: list[Any]) -> None:
    """Append every future inside ``obj`` to ``found`` (depth first, duplicates kept)."""
    if is_future(obj):
        found.append(obj)
    elif isinstance(obj, dict):
        for value in obj.values():
            if isinstance(value, _CONTAINERS) or is_future(value):
                collect(value, is_future, found)
    elif isinstance(obj, _CONTAINERS):
        for value in obj:
            if isinstance(value, _CONTAINERS) or is_future(value):
                collect(value, is_future, found)


def replace(obj: Any, is_future: Callable[[Any], bool], value_of: Callable[[Any], Any]) -> Any:
    """Return ``obj`` with each future ``f`` replaced by ``value_of(f)``.

    Containers that hold no future are returned unchanged (the same object).
    """
    if is_future(obj):
        return value_of(obj)
    if isinstance(obj, dict):
        changed = False
        new_dict: dict[Any, Any] = {}
        for key, item in obj.items():
            new = replace(item, is_future, value_of)
            changed = changed or new is not item
            new_dict[key] = new
        if not changed:
            return obj
        if type(obj) is dict:
            return new_dict
        try:
            return type(obj)(new_dict)
        except TypeError:
            return new_dict
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [replace(item, is_future, value_of) for item in obj]
        if all(new is old for new, old in zip(items, obj, strict=True)):
            return obj
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            return type(obj)(*items)
        if type(obj) in (list, tuple, set, frozenset):
            return type(obj)(items)
        try:
            return type(obj)(items)
        except TypeError:
            return items
    return obj
