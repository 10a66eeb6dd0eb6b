"""Whether a flow can be found again by name in the importable module that defines it.

Contract:
    :func:`find_flow_reference` returns ``(module name, attribute, source file)`` for a
    global of an imported module (one with a ``.py`` source file) bound to the flow
    object: importing that module again in another process binds the same flow under that
    name. A script run as ``__main__`` never counts: ``Local`` pickles its flows, as
    Prefect 1 did, so a flow run never executes the script (and its module-level
    ``flow.register()`` or ``flow.run()``) again. Nothing here raises: no reference is
    simply None, and the caller pickles the flow instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["find_flow_reference"]


def find_flow_reference(flow: Any) -> tuple[str, str, str] | None:
    """A module-level name of an importable module that gives back ``flow`` on import.

    Returns:
        ``(module name, attribute, absolute source file)``, or None when the flow must be
        pickled to be found again (it is defined in ``__main__``, in a function, or kept
        only in a container).
    """
    for module_name, module in list(sys.modules.items()):
        if module_name == "__main__" or module_name.startswith("__"):
            continue
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        attributes = [attr for attr, value in list(namespace.items()) if value is flow]
        if not attributes:
            continue
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or not file.endswith(".py"):
            continue
        return module_name, attributes[0], os.path.abspath(file)
    return None
