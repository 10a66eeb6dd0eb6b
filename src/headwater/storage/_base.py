"""The storage interface: where a registered flow's code is kept and how it is loaded back.

Contract:
    A storage holds one or more flows by name. ``add_flow(flow)`` records where the flow
    can be found again and returns that location as text; ``build()`` makes the storage
    ready to be used from another process (writing files if needed) and returns it;
    ``get_flow(name)`` loads the flow in the current process. ``to_ref()`` (alias
    ``serialize()``) is the JSON reference stored with the flow version;
    :func:`headwater.storage.storage_from_ref` turns it back into a storage. Every failure
    to load is a :class:`~headwater.exceptions.FlowStorageError` naming the flow and the
    missing file, module or attribute.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from headwater.core.flow import Flow
from headwater.exceptions import FlowStorageError

if TYPE_CHECKING:
    from headwater.core.flow import Flow

__all__ = ["Storage", "flows_in_namespace"]


def _flow_class() -> type[Flow]:
    return Flow


def flows_in_namespace(namespace: dict[str, Any]) -> dict[str, tuple[str, Flow]]:
    """Every Flow object bound to a name in ``namespace``, keyed by flow name.

    Returns:
        ``{flow.name: (attribute name, flow)}``; the first binding of a flow wins.
    """
    flow_cls = _flow_class()
    found: dict[str, tuple[str, Flow]] = {}
    for attr, value in list(namespace.items()):
        if isinstance(value, flow_cls) and value.name not in found:
            found[value.name] = (attr, value)
    return found


def find_flow_home(flow: Any) -> tuple[str, str, str | None] | None:
    """Where a flow object lives among the imported modules.

    Returns:
        ``(module name, attribute, module file or None)`` for the first module binding
        the flow (``__main__`` is checked first), or None when no module holds it.
    """
    modules = list(sys.modules.items())
    modules.sort(key=lambda item: item[0] != "__main__")
    for name, module in modules:
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attr, value in list(namespace.items()):
            if value is flow:
                file = getattr(module, "__file__", None)
                return name, attr, str(file) if file else None
    return None


class Storage:
    """Base class of flow storages.

    Args:
        labels: accepted for Prefect 1 compatibility; a storage adds no labels to a flow.
        add_default_labels: accepted for Prefect 1 compatibility (Headwater never adds a
            host-name label: a flow registered without labels has none).
    """

    def __init__(
        self, labels: Iterable[str] | None = None, add_default_labels: bool | None = None
    ) -> None:
        self.labels = list(labels or [])
        self.add_default_labels = bool(add_default_labels)
        #: flow name -> location entry (a JSON-safe dict)
        self.flows: dict[str, Any] = {}
        self._flows: dict[str, Flow] = {}

    def __getstate__(self) -> dict[str, Any]:
        # A pickled flow carries its storage; the other flow objects it holds would
        # only bloat (or recurse into) that pickle, and the locations are enough.
        state = dict(self.__dict__)
        state["_flows"] = {}
        return state

    def __contains__(self, flow_name: object) -> bool:
        return isinstance(flow_name, str) and flow_name in self.flows

    def add_flow(self, flow: Flow) -> str:
        """Record ``flow`` in this storage.

        Returns:
            A readable description of where the flow will be loaded from.

        Raises:
            ValueError: a different flow with the same name is already stored.
        """
        if flow.name in self.flows and self._flows.get(flow.name) is not flow:
            raise ValueError(
                f"{type(self).__name__} storage already holds a flow named {flow.name!r}"
            )
        self._flows[flow.name] = flow
        self.flows[flow.name] = self._locate(flow)
        return self.describe(flow.name)

    def _locate(self, flow: Flow) -> Any:
        raise NotImplementedError

    def describe(self, flow_name: str) -> str:
        """A readable description of where ``flow_name`` is kept."""
        return str(self.flows.get(flow_name))

    def get_flow(self, flow_name: str) -> Flow:
        """Load a stored flow in this process.

        Raises:
            FlowStorageError: the flow is not in this storage or cannot be loaded.
        """
        raise NotImplementedError

    def build(self) -> Storage:
        """Make the storage usable from another process; returns the storage."""
        return self

    def to_ref(self) -> dict[str, Any]:
        """The JSON reference stored with a registered flow version."""
        raise NotImplementedError

    def serialize(self) -> dict[str, Any]:
        """Same as :meth:`to_ref` (Prefect 1's name)."""
        return self.to_ref()

    def _missing(self, flow_name: str) -> FlowStorageError:
        known = ", ".join(repr(n) for n in sorted(self.flows)) or "none"
        return FlowStorageError(
            f"Flow {flow_name!r} is not in this {type(self).__name__} storage (it holds {known})"
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {sorted(self.flows)}>"
