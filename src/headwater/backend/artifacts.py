"""``headwater.backend.artifacts``: Prefect 1's ``prefect.backend.artifacts``, renamed.

See :mod:`headwater.backend._artifacts` for the contract.
"""

from headwater.backend._artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    delete_artifact,
    update_link_artifact,
    update_markdown_artifact,
)

__all__ = [
    "create_link_artifact",
    "create_markdown_artifact",
    "delete_artifact",
    "update_link_artifact",
    "update_markdown_artifact",
]
