"""Loading a flow back from a script file, a module, or a pickle file.

Contract:
    A script is executed with :func:`runpy.run_path` under a run name that is never
    ``"__main__"``, so an ``if __name__ == "__main__":`` block (which typically registers
    or runs the flow) does not run again; its directory is put on ``sys.path`` first, as
    Python does for a script, so sibling imports work. Each failure raises
    :class:`~headwater.exceptions.FlowStorageError` naming the flow and what is missing.

    The loading guard (Prefect 1's ``loading_flow``): while a script is executed, a module
    imported or a pickle loaded for a flow, ``headwater.context.loading_flow`` is True
    (and ``local_script_path`` names a script being executed), and ``flow.register()`` and
    ``flow.run()`` return at once without doing anything, each logging a warning. A flow
    script that registers and runs its flows at module level therefore only defines them
    when storage, ``headwater register --path`` or ``headwater run --path`` loads it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import runpy
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.exceptions import FlowStorageError
from headwater.storage._base import flows_in_namespace
from headwater.utilities.context import context

if TYPE_CHECKING:
    from collections.abc import Iterator

    from headwater.core.flow import Flow

__all__ = [
    "SCRIPT_RUN_NAME",
    "flow_from_module",
    "flow_from_pickle",
    "flow_from_script",
    "loading_flow",
]

#: ``__name__`` of a flow script while it is being loaded from storage.
SCRIPT_RUN_NAME = "__headwater_flow_script__"


@contextlib.contextmanager
def loading_flow(script_path: str | None = None) -> Iterator[None]:
    """Set ``headwater.context.loading_flow`` (the loading guard) for the block.

    Args:
        script_path: the script being executed, kept as ``context.local_script_path``.
    """
    values: dict[str, Any] = {"loading_flow": True}
    if script_path is not None:
        values["local_script_path"] = script_path
    with context(**values):
        yield


def _pick(namespace: dict[str, Any], flow_name: str, attribute: str | None, where: str) -> Flow:
    found = flows_in_namespace(namespace)
    if attribute and attribute in namespace:
        candidate = namespace[attribute]
        if getattr(candidate, "name", None) == flow_name:
            return candidate  # type: ignore[no-any-return]
    if flow_name in found:
        return found[flow_name][1]
    names = ", ".join(repr(n) for n in sorted(found)) or "none"
    raise FlowStorageError(f"No flow named {flow_name!r} in {where} (flows found: {names})")


def run_script(path: str) -> dict[str, Any]:
    """Execute a flow script without its ``__main__`` block and return its globals.

    Raises:
        FlowStorageError: the file is missing or raised while executing.
    """
    script = Path(path)
    if not script.is_file():
        raise FlowStorageError(f"Flow script {path} does not exist (was it moved or deleted?)")
    folder = str(script.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        with loading_flow(str(script)):
            return runpy.run_path(str(script), run_name=SCRIPT_RUN_NAME)
    except SystemExit as exc:
        raise FlowStorageError(
            f"Flow script {path} exited while loading (code {exc.code})"
        ) from None
    except Exception as exc:
        raise FlowStorageError(
            f"Flow script {path} failed while loading: {type(exc).__name__}: {exc}"
        ) from exc


def flow_from_script(path: str, flow_name: str, attribute: str | None = None) -> Flow:
    """Load ``flow_name`` from the script at ``path``."""
    return _pick(run_script(path), flow_name, attribute, f"flow script {path}")


def flow_from_module(
    module_name: str, flow_name: str, attribute: str | None = None, file: str | None = None
) -> Flow:
    """Load ``flow_name`` from an importable module.

    When the module cannot be imported here but its source ``file`` was recorded and
    still exists, the file is executed as a script instead.
    """
    try:
        with loading_flow():
            module = importlib.import_module(module_name)
    except ImportError as exc:
        if file and os.path.isfile(file):
            return flow_from_script(file, flow_name, attribute)
        raise FlowStorageError(
            f"Cannot import module {module_name!r} holding flow {flow_name!r}: {exc}"
        ) from exc
    except Exception as exc:
        raise FlowStorageError(
            f"Module {module_name!r} failed while loading: {type(exc).__name__}: {exc}"
        ) from exc
    if (
        attribute
        and not hasattr(module, attribute)
        and flow_name not in flows_in_namespace(vars(module))
    ):
        raise FlowStorageError(
            f"Module {module_name!r} has no attribute {attribute!r} (flow {flow_name!r})"
        )
    return _pick(vars(module), flow_name, attribute, f"module {module_name!r}")


def flow_from_pickle(path: str, flow_name: str, import_path: str | None = None) -> Flow:
    """Load a flow pickled with cloudpickle at ``path``.

    Args:
        path: the pickle file.
        flow_name: the flow expected in it.
        import_path: a folder put on ``sys.path`` first (the folder of the script the
            flow came from, so the modules it imported by reference are found).
    """
    # deferred: cloudpickle costs ~40 ms, paid only when loading a pickled flow.
    import cloudpickle

    if import_path and os.path.isdir(import_path) and import_path not in sys.path:
        sys.path.insert(0, import_path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise FlowStorageError(
            f"Pickled flow {flow_name!r} at {path} cannot be read: {exc.strerror or exc}"
        ) from exc
    try:
        with loading_flow():
            flow = cloudpickle.loads(data)
    except Exception as exc:
        raise FlowStorageError(
            f"Pickled flow {flow_name!r} at {path} cannot be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    if getattr(flow, "name", None) != flow_name:
        raise FlowStorageError(
            f"{path} holds flow {getattr(flow, 'name', None)!r}, not {flow_name!r}"
        )
    return flow  # type: ignore[no-any-return]
