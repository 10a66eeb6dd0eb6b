"""``Module`` storage: the flow is importable from a named module.

Contract:
    ``Module("pkg.flows")`` loads a flow by importing the module and picking the Flow
    object with the requested name (a missing module or flow is a
    :class:`~headwater.exceptions.FlowStorageError`). The module must be importable in the
    process that runs the flow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.exceptions import FlowStorageError
from headwater.storage._base import Storage, find_flow_home
from headwater.storage._loading import flow_from_module

if TYPE_CHECKING:
    from collections.abc import Iterable

    from headwater.core.flow import Flow

__all__ = ["Module"]


class Module(Storage):
    """Load flows from an importable Python module.

    Args:
        module: the dotted module name.
        labels: accepted for Prefect 1 compatibility.
        add_default_labels: accepted for Prefect 1 compatibility.
    """

    def __init__(
        self,
        module: str,
        labels: Iterable[str] | None = None,
        add_default_labels: bool | None = None,
    ) -> None:
        if not module or not isinstance(module, str):
            raise ValueError("Module storage needs a module name, e.g. Module('pkg.flows')")
        super().__init__(labels=labels, add_default_labels=add_default_labels)
        self.module = module

    def _locate(self, flow: Flow) -> dict[str, Any]:
        home = find_flow_home(flow)
        attribute = home[1] if home and home[0] == self.module else None
        return {"kind": "module", "module": self.module, "attribute": attribute}

    def describe(self, flow_name: str) -> str:
        """``module <name>``."""
        return f"module {self.module}"

    def get_flow(self, flow_name: str) -> Flow:
        """Import the module and return its flow called ``flow_name``.

        Raises:
            FlowStorageError: the module cannot be imported or holds no such flow.
        """
        entry = self.flows.get(flow_name)
        attribute = entry.get("attribute") if isinstance(entry, dict) else None
        return flow_from_module(self.module, flow_name, attribute)

    def to_ref(self) -> dict[str, Any]:
        """``{"type": "Module", "module", "flows"}``."""
        return {
            "type": "Module",
            "module": self.module,
            "flows": {name: dict(entry) for name, entry in self.flows.items()},
        }

    @classmethod
    def from_ref(cls, ref: dict[str, Any]) -> Module:
        """Rebuild from :meth:`to_ref`'s output."""
        module = ref.get("module")
        if not isinstance(module, str) or not module:
            raise FlowStorageError("Module storage reference has no module name")
        storage = cls(module)
        flows = ref.get("flows") or {}
        if isinstance(flows, dict):
            storage.flows = {
                str(k): dict(v) if isinstance(v, dict) else {} for k, v in flows.items()
            }
        return storage
