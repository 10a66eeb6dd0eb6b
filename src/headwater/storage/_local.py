"""``Local`` storage: the flow stays on this machine, pickled, as a module, or as a script.

Contract:
    ``Local()`` keeps Prefect 1's default (``stored_as_script=False``): every flow is
    pickled with cloudpickle when it is added, to
    ``<directory>/<slugified flow name>/<hash>.pickle`` (``directory`` defaults to
    ``$HEADWATER_HOME/flows``; the hash is of the pickled bytes), and :meth:`build` writes
    the file. That includes a flow defined in a script run as ``__main__``: the flow-run
    process loads the pickle and never executes the script, so a script that registers
    and runs flows at module level (no ``if __name__ == "__main__":`` guard) does not do
    it again for every run. A pickle of a flow from a script also records the script's
    folder (``import_path``), put on ``sys.path`` when loading so the script's sibling
    imports resolve. The one exception is a flow bound to a module-level name of an
    importable module (see :func:`~headwater.storage._references.find_flow_reference`):
    it is recorded by module name, attribute and source file, and imported again.
    ``Local(path=FILE, stored_as_script=True)`` loads the flow by executing that script,
    on request only (with the loading guard on, see
    :mod:`headwater.storage._loading`); ``Local(path=FILE)`` without
    ``stored_as_script`` names the pickle file to write.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.exceptions import FlowStorageError
from headwater.storage._base import Storage, find_flow_home
from headwater.storage._loading import flow_from_module, flow_from_pickle, flow_from_script
from headwater.storage._references import find_flow_reference
from headwater.utilities.configuration import config

if TYPE_CHECKING:
    from collections.abc import Iterable

    from headwater.core.flow import Flow

__all__ = ["Local"]


def _default_directory() -> str:
    home = config.get("home_dir") or os.path.expanduser("~/.headwater")
    return os.path.join(str(home), "flows")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "flow"


def _pickle(flow: Flow) -> bytes:
    # deferred: cloudpickle costs ~40 ms, paid only when a flow is pickled.
    import cloudpickle

    try:
        data: bytes = cloudpickle.dumps(flow)
    except Exception as exc:
        raise FlowStorageError(
            f"Flow {flow.name!r} cannot be pickled for Local storage: "
            f"{type(exc).__name__}: {exc}; define it in an importable module or use "
            "Local(path=SCRIPT, stored_as_script=True)"
        ) from exc
    return data


class Local(Storage):
    """Keep flows on the local file system (script, module, or pickle file).

    Args:
        directory: where pickled flows are written (default ``$HEADWATER_HOME/flows``).
        validate: accepted for Prefect 1 compatibility.
        path: the flow's script (with ``stored_as_script``) or the pickle file to write.
        stored_as_script: load the flow by executing the script at ``path`` instead of
            unpickling it (``path`` may be omitted for a flow defined in the script run
            as ``__main__``). Default False: the flow is pickled, as in Prefect 1.
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
        # flow name -> pickled bytes, kept from add_flow (where the file name is derived
        # from them) until build writes them
        self._pickled: dict[str, bytes] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_pickled"] = {}
        return state

    def _locate(self, flow: Flow) -> dict[str, Any]:
        if self.stored_as_script:
            home = find_flow_home(flow)
            attribute = home[1] if home else None
            path = self.path
            if path is None and home and home[0] == "__main__" and home[2]:
                path = os.path.abspath(home[2])
            if path is None:
                raise ValueError(
                    f"Local(stored_as_script=True) needs path= for flow {flow.name!r}: it is "
                    "not defined in a script run as __main__"
                )
            return {"kind": "script", "path": path, "attribute": attribute}
        self._pickled.pop(flow.name, None)
        if self.path is not None:
            return self._pickle_entry(self.path)
        reference = find_flow_reference(flow)
        if reference is not None:
            module, attr, file = reference
            return {"kind": "module", "module": module, "attribute": attr, "file": file}
        data = _pickle(flow)
        self._pickled[flow.name] = data
        digest = hashlib.sha256(data).hexdigest()[:20]
        return self._pickle_entry(
            os.path.join(self.directory, _slug(flow.name), f"{digest}.pickle")
        )

    @staticmethod
    def _pickle_entry(path: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"kind": "pickle", "path": path}
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if isinstance(main_file, str) and main_file.endswith(".py"):
            # Functions the script imports from its neighbours are pickled by reference.
            entry["import_path"] = os.path.dirname(os.path.abspath(main_file))
        return entry

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
        for name, entry in self.flows.items():
            if entry.get("kind") != "pickle" or name not in self._flows:
                continue
            target = Path(entry["path"])
            data = self._pickled.get(name)
            if data is None:
                data = _pickle(self._flows[name])
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                # Written aside and renamed: a flow run starting while the same flow is
                # registered again never reads a half-written pickle.
                partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
                partial.write_bytes(data)
                os.replace(partial, target)
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
            return flow_from_pickle(str(entry["path"]), flow_name, entry.get("import_path"))
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
