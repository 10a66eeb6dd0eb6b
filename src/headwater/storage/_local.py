"""``Local`` storage: the flow stays where it was written, on this machine.

Contract:
    ``Local()`` finds where each added flow lives: a script run as ``__main__`` is recorded
    by absolute path, a flow bound in an importable module by module name, attribute and
    source file. A flow found in no module (built inside a function, say) is pickled with
    cloudpickle into ``directory`` (default ``$HEADWATER_HOME/flows``) by :meth:`build`.
    ``Local(path=FILE, stored_as_script=True)`` names the script explicitly;
    ``Local(path=FILE)`` without ``stored_as_script`` names the pickle file to write.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.exceptions import FlowStorageError
from headwater.storage._base import Storage, find_flow_home
from headwater.storage._loading import flow_from_module, flow_from_pickle, flow_from_script

if TYPE_CHECKING:
    from collections.abc import Iterable

    from headwater.core.flow import Flow

__all__ = ["Local"]


def _default_directory() -> str:
    from headwater.utilities.configuration import config

    home = config.get("home_dir") or os.path.expanduser("~/.headwater")
    return os.path.join(str(home), "flows")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "flow"


class Local(Storage):
    """Keep flows on the local file system (script, module, or pickle file).

    Args:
        directory: where pickled flows are written (default ``$HEADWATER_HOME/flows``).
        validate: accepted for Prefect 1 compatibility.
        path: the flow's script (with ``stored_as_script``) or the pickle file to write.
        stored_as_script: load the flow by running the script at ``path`` (found
            automatically for a script run as ``__main__`` when ``path`` is omitted).
        labels: accepted for Prefect 1 compatibility.
        add_default_labels: accepted for Prefect 1 compatibility.
    """

    def __init__(
        self,
        directory: str | None = None,
        validate: bool = True,
        path: str | None = None,
        stored_as_script: bool = False,
        labels: Iterable[str] | None = None,
        add_default_labels: bool | None = None,
    ) -> None:
        super().__init__(labels=labels, add_default_labels=add_default_labels)
        self.directory = os.path.abspath(os.path.expanduser(directory or _default_directory()))
        self.validate = validate
        self.path = os.path.abspath(os.path.expanduser(path)) if path else None
        self.stored_as_script = stored_as_script

    def _locate(self, flow: Flow) -> dict[str, Any]:
        home = find_flow_home(flow)
        attribute = home[1] if home else None
        if self.stored_as_script:
            path = self.path
            if path is None and home and home[0] == "__main__" and home[2]:
                path = os.path.abspath(home[2])
            if path is None:
                raise ValueError(
                    f"Local(stored_as_script=True) needs path= for flow {flow.name!r}: it is "
                    "not defined in a script run as __main__"
                )
            return {"kind": "script", "path": path, "attribute": attribute}
        if self.path is not None:
            return {"kind": "pickle", "path": self.path}
        if home is not None and home[2] is not None and home[2].endswith(".py"):
            module, attr, file = home[0], home[1], home[2]
            if module == "__main__":
                return {"kind": "script", "path": os.path.abspath(file), "attribute": attr}
            return {
                "kind": "module",
                "module": module,
                "attribute": attr,
                "file": os.path.abspath(file),
            }
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = os.path.join(self.directory, _slug(flow.name), f"{stamp}.pickle")
        return {"kind": "pickle", "path": path}

    def describe(self, flow_name: str) -> str:
        """A readable location, e.g. ``script /x/flow.py`` or ``module pkg.flows:flow``."""
        entry = self.flows.get(flow_name)
        if not isinstance(entry, dict):
            return str(entry)
        if entry.get("kind") == "module":
            return f"module {entry.get('module')}:{entry.get('attribute')}"
        return f"{entry.get('kind')} {entry.get('path')}"

    def build(self) -> Local:
        """Write the pickle files of flows that are kept as pickles; returns self."""
        import cloudpickle

        for name, entry in self.flows.items():
            if entry.get("kind") != "pickle" or name not in self._flows:
                continue
            target = Path(entry["path"])
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(cloudpickle.dumps(self._flows[name]))
            except OSError as exc:
                raise FlowStorageError(
                    f"Cannot write flow {name!r} to {target}: {exc.strerror or exc}"
                ) from exc
        return self

    def get_flow(self, flow_name: str) -> Flow:
        """Load ``flow_name`` from its script, module or pickle file.

        Raises:
            FlowStorageError: the flow is unknown here, or its file/module/attribute is gone.
        """
        entry = self.flows.get(flow_name)
        if not isinstance(entry, dict):
            raise self._missing(flow_name)
        kind = entry.get("kind")
        if kind == "script":
            return flow_from_script(str(entry["path"]), flow_name, entry.get("attribute"))
        if kind == "module":
            return flow_from_module(
                str(entry["module"]), flow_name, entry.get("attribute"), entry.get("file")
            )
        if kind == "pickle":
            return flow_from_pickle(str(entry["path"]), flow_name)
        raise FlowStorageError(f"Flow {flow_name!r} has an unknown storage entry kind {kind!r}")

    def to_ref(self) -> dict[str, Any]:
        """``{"type": "Local", "directory", "path", "stored_as_script", "flows"}``."""
        return {
            "type": "Local",
            "directory": self.directory,
            "path": self.path,
            "stored_as_script": self.stored_as_script,
            "flows": {name: dict(entry) for name, entry in self.flows.items()},
        }

    @classmethod
    def from_ref(cls, ref: dict[str, Any]) -> Local:
        """Rebuild from :meth:`to_ref`'s output."""
        storage = cls(
            directory=ref.get("directory"),
            path=ref.get("path"),
            stored_as_script=bool(ref.get("stored_as_script")),
        )
        flows = ref.get("flows") or {}
        if not isinstance(flows, dict):
            raise FlowStorageError("Local storage reference: 'flows' must be an object")
        storage.flows = {str(k): dict(v) for k, v in flows.items() if isinstance(v, dict)}
        return storage
