"""``headwater.artifacts``: publish links and Markdown from a running task.

The functions of :mod:`headwater.backend.artifacts`, plus the shorter names Prefect 1
used before it moved them there (``create_link``, ``update_link``, ``create_markdown``,
``update_markdown``).
"""

from headwater.backend._artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    delete_artifact,
    update_link_artifact,
    update_markdown_artifact,
)

create_link = create_link_artifact
update_link = update_link_artifact
create_markdown = create_markdown_artifact
update_markdown = update_markdown_artifact

__all__ = [
    "create_link",
    "create_link_artifact",
    "create_markdown",
    "create_markdown_artifact",
    "delete_artifact",
    "update_link",
    "update_link_artifact",
    "update_markdown",
    "update_markdown_artifact",
]
