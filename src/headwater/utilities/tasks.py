"""Helpers for writing tasks at their Prefect 1 path (``prefect.utilities.tasks``).

``@task``, ``defaults_from_attrs``, ``tags`` and ``apply_map`` live in
:mod:`headwater.core._building`, ``as_task`` in :mod:`headwater.core._as_task` (see their
contracts); the edge annotations in :mod:`headwater.core.edge`.
"""

from headwater.core._as_task import as_task
from headwater.core._building import apply_map, defaults_from_attrs, tags, task
from headwater.core.edge import flatten, mapped, unmapped

__all__ = [
    "apply_map",
    "as_task",
    "defaults_from_attrs",
    "flatten",
    "mapped",
    "tags",
    "task",
    "unmapped",
]
