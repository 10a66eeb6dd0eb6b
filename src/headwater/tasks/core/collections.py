"""Collection tasks at their public path; ``as_task`` builds them, so they live in
:mod:`headwater.core`.
"""

from headwater.core._collections import (
    Dict,
    List,
    Set,
    Tuple,
)

__all__ = [
    "Dict",
    "List",
    "Set",
    "Tuple",
]
