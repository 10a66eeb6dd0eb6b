"""``headwater.storage``: where a registered flow's code is kept.

Contract:
    ``Local`` (script path, module or pickle file on this machine) and ``Module``
    (importable module) implement :class:`Storage`: ``add_flow``, ``build``, ``get_flow``,
    ``to_ref``/``serialize``. :func:`storage_from_ref` rebuilds a storage from the JSON
    reference stored with a flow version; an unknown ``type`` is a
    :class:`~headwater.exceptions.FlowStorageError`.
"""

from __future__ import annotations

from typing import Any

from headwater.exceptions import FlowStorageError
from headwater.storage._base import Storage
from headwater.storage._local import Local
from headwater.storage._module import Module

__all__ = ["Local", "Module", "Storage", "storage_from_ref"]

_TYPES: dict[str, Any] = {"Local": Local, "Module": Module}


def storage_from_ref(ref: dict[str, Any]) -> Storage:
    """The storage described by a reference from :meth:`Storage.to_ref`.

    Args:
        ref: the JSON reference (``{"type": "Local" | "Module", ...}``).

    Raises:
        FlowStorageError: the reference is not a dict or names an unknown storage type.
    """
    if not isinstance(ref, dict):
        raise FlowStorageError(f"A storage reference must be an object, got {type(ref).__name__}")
    kind = ref.get("type")
    cls = _TYPES.get(str(kind))
    if cls is None:
        known = ", ".join(sorted(_TYPES))
        raise FlowStorageError(f"Unknown storage type {kind!r} (known: {known})")
    storage: Storage = cls.from_ref(ref)
    return storage
